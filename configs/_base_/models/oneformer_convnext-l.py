# OneFormer with a ConvNeXt-L backbone (ImageNet-22k pre-trained, 1k fine-tuned at 384; mmpretrain's ConvNeXt):
# MODEL.CONVNEXT of the official configs/*/convnext/oneformer_convnext_large_*.yaml (the same block on every
# dataset). Only the backbone and the head's input channels differ from oneformer_r50.py.
# A config using it imports mmpretrain's models:
#   custom_imports = dict(imports=['oneformer', 'mmpretrain.models'], allow_failed_imports=False)
_base_ = ['./oneformer_r50.py', './backbones/convnext-l.py']

model = _base_.convnext_l_model
