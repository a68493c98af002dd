# OneFormer, ConvNeXt-XL (ImageNet-22k pre-trained, 1k fine-tuned, 384; mmpretrain), Mapillary Vistas v1.2 panoptic,
# 300k iterations, crop 1024, all three tasks.
# Official recipe: SHI-Labs/OneFormer
#   configs/mapillary_vistas/convnext/cityscapes_pretrain_oneformer_convnext_xlarge_bs16_300k.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   300k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.8 | AMP on (`--amp`)
#   short edge 1024..4096 (x0.5-2.0 of 2048), long edge <= 8192, crop / pad 1024, test long edge 2048
#   task sampling: semantic / instance / panoptic a third each (TASK_PROB 0.33 / 0.66)
# Mapillary Vistas pre-training of the Mapillary-pretrained Cityscapes model (its load_from).
# The authors publish the result: mapillary_pretrain_250_16_convnext_xl_oneformer_mapillary_300k.pth
# (no Mapillary number published).
_base_ = ['./oneformer_swin-l-p4-w12-384-in21k_8xb2-300k_mapillary-panoptic-1024x1024.py',
          '../_base_/models/backbones/convnext-xl.py']
custom_imports = dict(imports=['oneformer', 'mmpretrain.models'], allow_failed_imports=False)

model = _base_.convnext_xl_model

# TASK_PROB.SEMANTIC 0.33 / .INSTANCE 0.66, as the ConvNeXt-L twin of this config
task_probs = dict(semantic=1 / 3, instance=1 / 3, panoptic=1 / 3)
train_pipeline = [dict(t, task_probs=task_probs) if t.type == 'OneFormerTaskTargets' else t for t in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
