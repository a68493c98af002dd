# COCO, 100 epochs at batch 16 (OneFormer Swin-L COCO yaml): schedule_coco_50e.py twice as long.
_base_ = './schedule_coco_50e.py'

max_iters = 737500  # SOLVER.MAX_ITER 737500 (= 100 epochs of 118k images at batch 16)

# d2 no-op warmup (10 iters, factor 1.0) -> plain MultiStepLR. SOLVER.STEPS (655556, 735184) of the Swin-L yaml; the
# DiNAT-L yaml uses (655556, 710184): override `param_scheduler` in a DiNAT config.
param_scheduler = [dict(_base_.param_scheduler[0], end=max_iters, milestones=[655556, 735184])]

# 737500 is not a multiple of 5000; mmengine's IterBasedTrainLoop also validates at max_iters, like d2's
# final evaluation.
train_cfg = dict(max_iters=max_iters)
