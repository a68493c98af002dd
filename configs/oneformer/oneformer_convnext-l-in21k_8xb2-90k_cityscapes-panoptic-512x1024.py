# OneFormer, ConvNeXt-L (ImageNet-22k pre-trained, 1k fine-tuned, 384; mmpretrain), Cityscapes panoptic, 90k
# iterations, crop 512x1024.
# Official recipe: SHI-Labs/OneFormer configs/cityscapes/convnext/oneformer_convnext_large_bs16_90k.yaml: the
# Swin-L recipe with a ConvNeXt-L backbone (depths 3-3-27-3, dims 192-384-768-1536, drop path 0.4, layer scale 1.0).
# Published (official checkpoint 250_16_convnext_l_oneformer_cityscapes_90k.pth, not reproduced here):
#   PQ 68.5, AP 46.5, mIoU 83.0 (84.0 ms+flip). This config also loads that checkpoint once converted
#   (see README.md).
_base_ = './oneformer_swin-l-p4-w12-384-in21k_8xb2-90k_cityscapes-panoptic-512x1024.py'
custom_imports = dict(imports=['oneformer', 'mmpretrain.models'], allow_failed_imports=False)
# MODEL.WEIGHTS convnext_large_22k_1k_384, as converted by mmpretrain
pretrained = 'https://download.openmmlab.com/mmclassification/v0/convnext/convnext-large_in21k-pre-3rdparty_in1k-384px_20221219-6d38dd66.pth'  # noqa

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ConvNeXt',
        arch='large',  # depths 3-3-27-3, channels 192-384-768-1536
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,  # CONVNEXT.DROP_PATH_RATE
        layer_scale_init_value=1.0,  # CONVNEXT.LSIT
        gap_before_final_norm=False,  # keep the maps; adds a LayerNorm per output like D2ConvNeXt's norm0..3
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    panoptic_head=dict(in_channels=[192, 384, 768, 1536]))
