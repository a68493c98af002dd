# OneFormer, DiNAT-L, ADE20K-150 panoptic, 160k iterations, crop 1280, fine-tuned from the COCO DiNAT-L model.
# Official recipe: SHI-Labs/OneFormer configs/ade20k/dinat/coco_pretrain_oneformer_dinat_large_bs16_160k_1280x1280.yaml
#   (the official README links it as ..._1280x1280_coco_pretrain.yaml, a file that does not exist):
#   the DiNAT-L 1280 recipe with 150 queries (the COCO model's), started from the COCO checkpoint.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   160k iters, poly 0.9, no warmup | 150 queries | object_mask_thr 0.5 | AMP off
# Published by the authors (official checkpoint coco_pretrain_1280x1280_150_16_dinat_l_oneformer_ade20k_160k.pth,
#   not reproduced here): PQ 53.4, AP 40.2, mIoU 58.4 (58.8 ms+flip), 223M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
# Pre-training: MODEL.WEIGHTS 150_16_dinat_l_oneformer_coco_100ep.pth, the official checkpoint of
#   oneformer_dinat-l-k11-384-in21k_16xb1-100e_coco-panoptic.py. Convert it first:
#   python tools/model_converters/oneformer_d2_to_mm.py 150_16_dinat_l_oneformer_coco_100ep.pth \
#       checkpoints/150_16_dinat_l_oneformer_coco_100ep.pth --dataset coco
#   Every tensor loads except the class head (133 COCO classes vs 150 here), which starts from scratch:
#   load_mismatch='reinit_cls' keeps the freshly initialised class head (OneFormerHead.class_head_keys), as
#   detectron2 skips tensors of another shape; any other mismatch is an error naming the tensors.
_base_ = './oneformer_dinat-l-k11-384-in21k_8xb2-160k_ade20k-panoptic-1280x1280.py'

load_from = 'checkpoints/150_16_dinat_l_oneformer_coco_100ep.pth'  # converted, see above

num_queries = 150  # ONE_FORMER.NUM_OBJECT_QUERIES: the COCO model's 150 (TEST.DETECTIONS_PER_IMAGE follows)

model = dict(
    backbone=dict(init_cfg=None),  # the ImageNet weights would be overwritten by load_from
    load_mismatch='reinit_cls',  # another dataset's class head (see above)
    panoptic_head=dict(num_queries=num_queries))
