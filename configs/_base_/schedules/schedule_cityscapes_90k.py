# Cityscapes, 90k iterations at batch 16 (OneFormer Cityscapes yamls).
_base_ = './oneformer_adamw.py'

max_iters = 90000  # SOLVER.MAX_ITER 90000

# WarmupPolyLR with WARMUP_ITERS 0, POLY_LR_POWER 0.9, POLY_LR_CONSTANT_ENDING 0.0
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters, by_epoch=False)
]

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)  # TEST.EVAL_PERIOD 5000
