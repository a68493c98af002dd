# ADE20K-150 panoptic at 1280: Swin-L, DiNAT-L and the COCO-pretrained DiNAT-L (official
# configs/ade20k/{swin,dinat}/*_bs16_160k_1280x1280.yaml). Only the sizes differ from ade20k_panoptic.py.
_base_ = './ade20k_panoptic.py'

crop_size = (1280, 1280)  # (w, h) INPUT.CROP.SIZE; the model pads every crop to it (SIZE_DIVISIBILITY 1280)
# INPUT.MIN_SIZE_TRAIN [int(x * 0.1 * 1280) for x in range(5, 21)] (choice), MAX_SIZE_TRAIN 5120
train_scales = [(5120, int(x * 0.1 * 1280)) for x in range(5, 21)]
test_scale = (5120, 1280)  # INPUT.MAX_SIZE_TEST 5120, MIN_SIZE_TEST 1280

# INPUT.SIZE_DIVISIBILITY 1280: every training crop is padded to exactly 1280x1280 (pixels outside are void)
batch_augments = [dict(_base_.fixed_size_pad, size=crop_size[::-1])]

# ade20k_panoptic.py's pipelines with these sizes (mmengine built the base's with the base's own sizes)
resize_and_crop = dict(RandomChoiceResize=dict(scales=train_scales), RandomCrop=dict(crop_size=crop_size))
train_pipeline = [dict(t, **resize_and_crop.get(t.type, {})) for t in _base_.train_pipeline]
test_pipeline = [dict(t, scale=test_scale) if t.type == 'Resize' else t for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
