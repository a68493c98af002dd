# The dinat-l backbone and the head's input channels as a partial model config (`dinat_l_model`): what
# ../oneformer_dinat-l.py and the zoo configs that swap a recipe's backbone (`model = _base_.dinat_l_model`) merge.
# MODEL.WEIGHTS dinat_large_in22k_in1k_384_11x11 (SHI-Labs/Neighborhood-Attention-Transformer release; the
# official tools/convert-pretrained-nat-model-to-d2.py keeps its names)
dinat_l_pretrained = 'https://shi-labs.com/projects/dinat/checkpoints/imagenet1k/dinat_large_in22k_in1k_384_11x11.pth'

dinat_l_model = dict(
    backbone=dict(
        _delete_=True,
        type='DiNAT',
        arch='large',
        embed_dim=192,  # DiNAT.EMBED_DIM
        depths=[3, 4, 18, 5],  # DiNAT.DEPTHS
        num_heads=[6, 12, 24, 48],  # DiNAT.NUM_HEADS
        mlp_ratio=2.0,  # DiNAT.MLP_RATIO
        kernel_size=11,  # DiNAT.KERNEL_SIZE
        # DiNAT.DILATIONS: one per layer
        dilations=[[1, 20, 1], [1, 5, 1, 10], [1, 2, 1, 3, 1, 4, 1, 5, 1, 2, 1, 3, 1, 4, 1, 5, 1, 5], [1, 2, 1, 2, 1]],
        drop_path_rate=0.3,  # DiNAT.DROP_PATH_RATE
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=dinat_l_pretrained)),
    panoptic_head=dict(in_channels=[192, 384, 768, 1536]))
