# The convnext-l backbone and the head's input channels as a partial model config (`convnext_l_model`): what
# ../oneformer_convnext-l.py and the zoo configs that swap a recipe's backbone (`model = _base_.convnext_l_model`) merge.
# MODEL.WEIGHTS convnext_large_22k_1k_384, as converted by mmpretrain
convnext_l_pretrained = 'https://download.openmmlab.com/mmclassification/v0/convnext/convnext-large_in21k-pre-3rdparty_in1k-384px_20221219-6d38dd66.pth'  # noqa

convnext_l_model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ConvNeXt',
        arch='large',  # CONVNEXT.DEPTHS 3-3-27-3, DIMS 192-384-768-1536
        out_indices=(0, 1, 2, 3),  # CONVNEXT.OUT_INDICES
        drop_path_rate=0.4,  # CONVNEXT.DROP_PATH_RATE
        layer_scale_init_value=1.0,  # CONVNEXT.LSIT
        gap_before_final_norm=False,  # keep the maps; a LayerNorm per output like D2ConvNeXt's norm0..3
        init_cfg=dict(type='Pretrained', checkpoint=convnext_l_pretrained, prefix='backbone.')),
    panoptic_head=dict(in_channels=[192, 384, 768, 1536]))
