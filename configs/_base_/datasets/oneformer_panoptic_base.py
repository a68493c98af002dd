# Shared body of the COCO-panoptic-format datasets that the official code trains with its `oneformer_unified`
# mapper (ADE20K, Cityscapes, Mapillary Vistas): data loaders, batch size, what the model reads from each sample.
#
# A child config (see ade20k_panoptic.py) sets
#   dataset_type, data_root, num_things_classes / num_stuff_classes / num_classes
#   crop_size, train_scales, test_scale     INPUT.CROP.SIZE, MIN/MAX_SIZE_TRAIN, MIN/MAX_SIZE_TEST of its yamls
#   batch_augments                          INPUT.SIZE_DIVISIBILITY: the training batch padding the recipes hand to
#                                           model.data_preprocessor (`fixed_size_pad` below at the crop size)
# and then writes its `train_pipeline` / `test_pipeline` from them, fills the dataloaders' `dataset` (type, root,
# files, pipeline) and the evaluators. mmengine evaluates a base before its child, so anything computed here from
# the sizes would not follow the child's values: only the size-independent parts live here.
#
# The official train mapper, in order: ResizeShortestEdge (a choice of MIN_SIZE_TRAIN, long edge <= MAX_SIZE_TRAIN)
# -> RandomCrop (CROP.SIZE, "absolute") -> ColorAugSSD (mmdet PhotoMetricDistortion) -> RandomFlip (horizontal)
# -> task sampling (TASK_PROB) and the sampled task's targets and text list (OneFormerTaskTargets).

backend_args = None
# TASK_PROB.SEMANTIC 0.33 / .INSTANCE 0.66 are cumulative thresholds: each task a third of the time
task_probs = dict(semantic=1 / 3, instance=1 / 3, panoptic=1 / 3)
# the model reads the sampled task and its tokenised text list; the test task comes from model.test_cfg.tasks
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction', 'task',
             'text_tokens')
test_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')
# every crop padded to a fixed size after normalisation (d2 pads with 0 to SIZE_DIVISIBILITY); masks and the
# semantic map get void there. A child sets `batch_augments = [dict(fixed_size_pad, size=...)]`.
fixed_size_pad = dict(type='BatchFixedSizePad', img_pad_value=0, pad_mask=True, mask_pad_value=0, pad_seg=True,
                      seg_pad_value=255)
batch_augments = None  # SIZE_DIVISIBILITY -1: no fixed-size padding

train_dataloader = dict(
    batch_size=2,  # SOLVER.IMS_PER_BATCH 16 = 8 GPUs x 2
    num_workers=2,
    persistent_workers=True,
    # every OneFormer schedule is iteration based: an endless sampler, no loader restart (and mmengine's sleep)
    # at epoch ends, which short runs on small datasets would feel at every few iterations
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(filter_cfg=dict(filter_empty_gt=False), backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(test_mode=True, backend_args=backend_args))
test_dataloader = val_dataloader
