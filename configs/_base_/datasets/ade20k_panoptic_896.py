# ADE20K-150 panoptic at 896: Swin-L and DiNAT-L (official
# configs/ade20k/{swin,dinat}/oneformer_*_large_bs16_160k_896x896.yaml). Only the sizes differ from ade20k_panoptic.py.
_base_ = './ade20k_panoptic.py'

crop_size = (896, 896)  # (w, h) INPUT.CROP.SIZE; the model pads every crop to it (SIZE_DIVISIBILITY 896)
# INPUT.MIN_SIZE_TRAIN [int(x * 0.1 * 896) for x in range(5, 21)] (choice), MAX_SIZE_TRAIN 3584
train_scales = [(3584, int(x * 0.1 * 896)) for x in range(5, 21)]
test_scale = (3584, 896)  # INPUT.MAX_SIZE_TEST 3584, MIN_SIZE_TEST 896

# INPUT.SIZE_DIVISIBILITY 896: every training crop is padded to exactly 896x896 (pixels outside are void)
batch_augments = [dict(_base_.fixed_size_pad, size=crop_size[::-1])]

# ade20k_panoptic.py's pipelines with these sizes (mmengine built the base's with the base's own sizes)
resize_and_crop = dict(RandomChoiceResize=dict(scales=train_scales), RandomCrop=dict(crop_size=crop_size))
train_pipeline = [dict(t, **resize_and_crop.get(t.type, {})) for t in _base_.train_pipeline]
test_pipeline = [dict(t, scale=test_scale) if t.type == 'Resize' else t for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
