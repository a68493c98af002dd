# Runtime of every OneFormer config: mmdet 3.3's own runtime (hooks, env, logging, visualizer backends, default
# scope 'mmdet') with the differences below.
_base_ = 'mmdet::_base_/default_runtime.py'

# `import oneformer` registers the project modules in mmdet's registries and installs the stack
# compatibility shims (panopticapi alias for CocoPanopticMetric, torch.load allow-list for checkpoints).
custom_imports = dict(imports=['oneformer'], allow_failed_imports=False)

# every OneFormer schedule is iteration based: d2 CHECKPOINT_PERIOD 5000; keep 3 + the last one, as mmdet's
# Mask2Former configs do. AtomicCheckpointHook: mmengine's CheckpointHook with crash-safe saving (temporary file +
# rename, `last_checkpoint` updated and old checkpoints deleted only after the new one is complete), so a run
# killed at any moment resumes (`--resume`) from its last complete checkpoint.
default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3, save_last=True))
log_processor = dict(by_epoch=False)

# One markdown table + {work_dir}/metrics.json with PQ / AP / mIoU after every val/test epoch.
custom_hooks = [dict(type='TaskMetricsSummaryHook')]

# each task's prediction in its own titled panel next to the input and the ground truth (mmdet's DetLocalVisualizer
# overlays them on one image); images smaller than 512 px are enlarged before drawing so the labels stay readable
# (`tools/test.py --show-dir`, `make demo`)
visualizer = dict(type='OneFormerVisualizer', min_draw_size=512)
