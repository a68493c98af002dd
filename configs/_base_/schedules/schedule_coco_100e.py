# COCO, 100 epochs at batch 16 (OneFormer Swin-L COCO yaml).
_base_ = './oneformer_adamw.py'

max_iters = 737500  # SOLVER.MAX_ITER 737500 (= 100 epochs of 118k images at batch 16)
interval = 5000  # TEST.EVAL_PERIOD 5000

# d2 no-op warmup (10 iters, factor 1.0) -> plain MultiStepLR.
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        # SOLVER.STEPS (655556, 735184) of the Swin-L yaml; the DiNAT-L yaml uses (655556, 710184):
        # override `param_scheduler` in a DiNAT config.
        milestones=[655556, 735184],
        gamma=0.1)  # SOLVER.GAMMA 0.1
]

# 737500 is not a multiple of 5000; mmengine's IterBasedTrainLoop also validates at max_iters, like d2's
# final evaluation.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=interval)
