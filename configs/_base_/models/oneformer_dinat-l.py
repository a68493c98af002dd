# OneFormer with a DiNAT-L backbone (ImageNet-22k pre-trained, 1k fine-tuned at 384, 11x11 neighbourhoods):
# MODEL.DiNAT of the official configs/{ade20k,coco,mapillary_vistas}/dinat/oneformer_dinat_large_*.yaml at 640 / 896
# crops. The ADE20K 1280 and Cityscapes configs change the dilations (and Cityscapes the kernel and the
# ImageNet weights). DiNAT is this project's pure-PyTorch port (no NATTEN); its parameter names are the official
# ones. Only the backbone and the head's input channels differ from oneformer_r50.py.
_base_ = ['./oneformer_r50.py', './backbones/dinat-l.py']

model = _base_.dinat_l_model
