# Mapillary Vistas, 300k iterations at batch 16 (official configs/mapillary_vistas/Base-Mapillary-*.yaml).
_base_ = './oneformer_adamw.py'

max_iters = 300000  # SOLVER.MAX_ITER 300000

# WarmupPolyLR with WARMUP_ITERS 0, POLY_LR_POWER 0.9, POLY_LR_CONSTANT_ENDING 0.0
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters, by_epoch=False)
]

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=30000)  # TEST.EVAL_PERIOD 30000
