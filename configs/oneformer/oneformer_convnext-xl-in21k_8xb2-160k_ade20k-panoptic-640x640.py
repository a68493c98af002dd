# OneFormer, ConvNeXt-XL (ImageNet-22k pre-trained, 1k fine-tuned, 384; mmpretrain), ADE20K-150 panoptic, 160k
# iterations, crop 640.
# Official recipe: SHI-Labs/OneFormer configs/ade20k/convnext/oneformer_convnext_xlarge_bs16_160k.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   160k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.5 | AMP on (`--amp`)
#   short edge 320..1280 (x0.5-2.0 of 640), long edge <= 2560, crop / pad 640, test short 640 / long 2560
# Published by the authors (official checkpoint 250_16_convnext_xl_oneformer_ade20k_160k.pth,
#   not reproduced here): PQ 50.1, AP 36.3, mIoU 57.4 (58.8 ms+flip), 372M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = ['./oneformer_swin-l-p4-w12-384-in21k_8xb2-160k_ade20k-panoptic-640x640.py', '../_base_/models/backbones/convnext-xl.py']
custom_imports = dict(imports=['oneformer', 'mmpretrain.models'], allow_failed_imports=False)

model = _base_.convnext_xl_model
