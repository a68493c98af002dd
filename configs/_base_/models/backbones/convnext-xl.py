# The ConvNeXt-XL backbone (ImageNet-22k pre-trained, 1k fine-tuned at 384, EMA weights) and the head's input
# channels as a partial model config (`convnext_xl_model`): ConvNeXt-L with wider stages (DIMS 256-512-1024-2048,
# same depths, drop path and layer scale); see convnext-l.py.
_base_ = './convnext-l.py'
# MODEL.WEIGHTS convnext_xlarge_22k_1k_384_ema, as converted by mmpretrain
convnext_xl_pretrained = 'https://download.openmmlab.com/mmclassification/v0/convnext/convnext-xlarge_in21k-pre-3rdparty_in1k-384px_20221219-b161bc14.pth'  # noqa

convnext_xl_model = dict(
    backbone=dict(
        _base_.convnext_l_model.backbone,
        arch='xlarge',  # CONVNEXT.DEPTHS 3-3-27-3, DIMS 256-512-1024-2048
        init_cfg=dict(_base_.convnext_l_model.backbone.init_cfg, checkpoint=convnext_xl_pretrained)),
    panoptic_head=dict(in_channels=[256, 512, 1024, 2048]))
