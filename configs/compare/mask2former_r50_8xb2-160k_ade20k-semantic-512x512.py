# Mask2Former R-50 (mmseg), ADE20K-150 semantic, 160k iterations at batch 16: the semantic peer of
# configs/oneformer/oneformer_r50_8xb2-160k_ade20k-panoptic-512x512.py for the paper-scale comparison (docs/compare.md).
# mmseg's recipe unchanged (the Mask2Former authors' R-50 ADE20K semantic one: crop 512, short edge 256-1024,
# 100 queries, AdamW 1e-4, poly, 160k) on the scene-parsing label maps of the same ADEChallengeData2016 folder;
# only the data root is the one the OneFormer configs use.
_base_ = ['mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py']

data_root = 'data/ADEChallengeData2016/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
