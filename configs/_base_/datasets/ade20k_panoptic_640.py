# ADE20K-150 panoptic for the large models at 640: Swin-L, ConvNeXt-L / XL, DiNAT-L (official
# configs/ade20k/{swin,convnext,dinat}/oneformer_*_bs16_160k.yaml). Only the sizes differ from ade20k_panoptic.py.
_base_ = './ade20k_panoptic.py'

crop_size = (640, 640)  # (w, h) INPUT.CROP.SIZE; the model pads every crop to it (SIZE_DIVISIBILITY 640)
# INPUT.MIN_SIZE_TRAIN [int(x * 0.1 * 640) for x in range(5, 21)] (choice), MAX_SIZE_TRAIN 2560
train_scales = [(2560, int(x * 0.1 * 640)) for x in range(5, 21)]
test_scale = (2560, 640)  # INPUT.MAX_SIZE_TEST 2560, MIN_SIZE_TEST 640

# INPUT.SIZE_DIVISIBILITY 640: every training crop is padded to exactly 640x640 (pixels outside are void)
batch_augments = [dict(_base_.fixed_size_pad, size=crop_size[::-1])]

# ade20k_panoptic.py's pipelines with these sizes (mmengine built the base's with the base's own sizes)
resize_and_crop = dict(RandomChoiceResize=dict(scales=train_scales), RandomCrop=dict(crop_size=crop_size))
train_pipeline = [dict(t, **resize_and_crop.get(t.type, {})) for t in _base_.train_pipeline]
test_pipeline = [dict(t, scale=test_scale) if t.type == 'Resize' else t for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
