# OneFormer with a ConvNeXt-XL backbone (ImageNet-22k pre-trained, 1k fine-tuned at 384, EMA weights):
# MODEL.CONVNEXT of the official configs/*/convnext/oneformer_convnext_xlarge_*.yaml. ConvNeXt-L with wider
# stages (DIMS 256-512-1024-2048, same depths, drop path and layer scale). Needs mmpretrain's models imported
# (see oneformer_convnext-l.py).
_base_ = ['./oneformer_r50.py', './backbones/convnext-xl.py']

model = _base_.convnext_xl_model
