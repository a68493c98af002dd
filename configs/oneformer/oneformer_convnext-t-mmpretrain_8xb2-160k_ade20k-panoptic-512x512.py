# Any mmpretrain backbone with 4 feature maps drops in: ConvNeXt-T (ImageNet-1k) in the R50 ADE20K recipe.
_base_ = './oneformer_r50_8xb2-160k_ade20k-panoptic-512x512.py'
custom_imports = dict(imports=['oneformer', 'mmpretrain.models'], allow_failed_imports=False)
pretrained = 'https://download.openmmlab.com/mmclassification/v0/convnext/convnext-tiny_32xb128_in1k_20221207-998cf3e9.pth'  # noqa
model = dict(
    backbone=dict(_delete_=True, type='mmpretrain.ConvNeXt', arch='tiny', out_indices=(0, 1, 2, 3), drop_path_rate=0.4,
                  layer_scale_init_value=1.0, gap_before_final_norm=False,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
# panoptic_head.in_channels ([96, 192, 384, 768]) and strides are found from the backbone
