# OneFormer with a ConvNeXt-XL backbone (ImageNet-22k pre-trained, 1k fine-tuned at 384, EMA weights):
# MODEL.CONVNEXT of the official configs/*/convnext/oneformer_convnext_xlarge_*.yaml. ConvNeXt-L with wider
# stages (DIMS 256-512-1024-2048, same depths, drop path and layer scale). Needs mmpretrain's models imported
# (see oneformer_convnext-l.py).
_base_ = './oneformer_convnext-l.py'
# MODEL.WEIGHTS convnext_xlarge_22k_1k_384_ema, as converted by mmpretrain
pretrained = 'https://download.openmmlab.com/mmclassification/v0/convnext/convnext-xlarge_in21k-pre-3rdparty_in1k-384px_20221219-b161bc14.pth'  # noqa

model = dict(
    backbone=dict(
        arch='xlarge',  # CONVNEXT.DEPTHS 3-3-27-3, DIMS 256-512-1024-2048
        init_cfg=dict(checkpoint=pretrained)),
    panoptic_head=dict(in_channels=[256, 512, 1024, 2048]))
