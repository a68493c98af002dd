# OneFormer with a ConvNeXt-L backbone (ImageNet-22k pre-trained, 1k fine-tuned at 384; mmpretrain's ConvNeXt):
# MODEL.CONVNEXT of the official configs/*/convnext/oneformer_convnext_large_*.yaml (the same block on every
# dataset). Only the backbone and the head's input channels differ from oneformer_r50.py.
# A config using it imports mmpretrain's models:
#   custom_imports = dict(imports=['oneformer', 'mmpretrain.models'], allow_failed_imports=False)
_base_ = './oneformer_r50.py'
# MODEL.WEIGHTS convnext_large_22k_1k_384, as converted by mmpretrain
pretrained = 'https://download.openmmlab.com/mmclassification/v0/convnext/convnext-large_in21k-pre-3rdparty_in1k-384px_20221219-6d38dd66.pth'  # noqa

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ConvNeXt',
        arch='large',  # CONVNEXT.DEPTHS 3-3-27-3, DIMS 192-384-768-1536
        out_indices=(0, 1, 2, 3),  # CONVNEXT.OUT_INDICES
        drop_path_rate=0.4,  # CONVNEXT.DROP_PATH_RATE
        layer_scale_init_value=1.0,  # CONVNEXT.LSIT
        gap_before_final_norm=False,  # keep the maps; a LayerNorm per output like D2ConvNeXt's norm0..3
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    panoptic_head=dict(in_channels=[192, 384, 768, 1536]))
