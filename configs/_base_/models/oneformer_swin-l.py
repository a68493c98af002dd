# OneFormer with a Swin-L backbone (ImageNet-22k pre-trained, 1k fine-tuned at 384): MODEL.SWIN of the official
# configs/*/swin/oneformer_swin_large_*.yaml (the same block on every dataset). Only the backbone and the head's
# input channels differ from oneformer_r50.py; queries, classes and thresholds are set by each config.
_base_ = ['./oneformer_r50.py', './backbones/swin-l.py']

model = _base_.swin_l_model
