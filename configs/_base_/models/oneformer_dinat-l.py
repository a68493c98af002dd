# OneFormer with a DiNAT-L backbone (ImageNet-22k pre-trained, 1k fine-tuned at 384, 11x11 neighbourhoods):
# MODEL.DiNAT of the official configs/{ade20k,coco,mapillary_vistas}/dinat/oneformer_dinat_large_*.yaml at 640 / 896
# crops. The ADE20K 1280 and Cityscapes configs change the dilations (and Cityscapes the kernel and the
# ImageNet weights). DiNAT is this project's pure-PyTorch port (no NATTEN); its parameter names are the official
# ones. Only the backbone and the head's input channels differ from oneformer_r50.py.
_base_ = './oneformer_r50.py'
# MODEL.WEIGHTS dinat_large_in22k_in1k_384_11x11 (SHI-Labs/Neighborhood-Attention-Transformer release; the
# official tools/convert-pretrained-nat-model-to-d2.py keeps its names)
pretrained = 'https://shi-labs.com/projects/dinat/checkpoints/imagenet1k/dinat_large_in22k_in1k_384_11x11.pth'

model = dict(
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
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    panoptic_head=dict(in_channels=[192, 384, 768, 1536]))
