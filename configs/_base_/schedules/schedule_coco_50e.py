# COCO, 50 epochs at batch 16 (OneFormer R50 / Swin-T COCO yamls).
_base_ = './oneformer_adamw.py'

max_iters = 368750  # SOLVER.MAX_ITER 368750 (= 50 epochs of 118k images at batch 16)
interval = 5000  # TEST.EVAL_PERIOD 5000

# WarmupMultiStepLR with d2 defaults WARMUP_ITERS 10 / WARMUP_FACTOR 1.0 is a no-op warmup -> plain MultiStepLR.
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[327778, 355092],  # SOLVER.STEPS (327778, 355092)
        gamma=0.1)  # SOLVER.GAMMA 0.1
]

# 368750 is not a multiple of 5000; mmengine's IterBasedTrainLoop also validates at max_iters, like d2's
# final evaluation.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=interval)
