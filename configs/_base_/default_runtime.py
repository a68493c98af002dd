# Runtime defaults of OneFormer configs (mmdet 3.3 `configs/_base_/default_runtime.py` + plugin glue).
default_scope = 'mmdet'
# `import oneformer` registers the project modules in mmdet's registries and installs the stack
# compatibility shims (panopticapi alias for CocoPanopticMetric, torch.load allow-list for checkpoints).
custom_imports = dict(imports=['oneformer'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # d2 CHECKPOINT_PERIOD 5000; keep-3 + last as in mmdet's Mask2Former configs
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))

# One markdown table + {work_dir}/metrics.json with PQ / AP / mIoU after every val/test epoch.
custom_hooks = [dict(type='TaskMetricsSummaryHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='OneFormerVisualizer', vis_backends=vis_backends, name='visualizer')
# all OneFormer schedules are iteration based
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)

log_level = 'INFO'
load_from = None
resume = False
