# The swin-l backbone and the head's input channels as a partial model config (`swin_l_model`): what
# ../oneformer_swin-l.py and the zoo configs that swap a recipe's backbone (`model = _base_.swin_l_model`) merge.
# MODEL.WEIGHTS swin_large_patch4_window12_384_22kto1k (the official Swin release; mmdet's Swin converts its names)
swin_l_pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window12_384_22kto1k.pth'  # noqa

swin_l_model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',  # mmdet's
        pretrain_img_size=384,  # SWIN.PRETRAIN_IMG_SIZE
        embed_dims=192,  # SWIN.EMBED_DIM
        depths=[2, 2, 18, 2],  # SWIN.DEPTHS
        num_heads=[6, 12, 24, 48],  # SWIN.NUM_HEADS
        window_size=12,  # SWIN.WINDOW_SIZE
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.3,  # SWIN.DROP_PATH_RATE
        patch_norm=True,  # SWIN.PATCH_NORM
        use_abs_pos_embed=False,  # SWIN.APE
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        convert_weights=True,  # official Swin parameter names -> mmdet's
        frozen_stages=-1,
        init_cfg=dict(type='Pretrained', checkpoint=swin_l_pretrained)),
    panoptic_head=dict(in_channels=[192, 384, 768, 1536]))
