"""Running one training run: reuse it when finished with the same settings, else train (resuming an interrupted
run), evaluate and measure it in a fresh process of its own (its own library's loop, dataset and metric; its own
peak memory; no state left by the runs before it), pinned to ``--threads`` intra-op threads."""
import gc
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict

from .common import METRICS, REPO, TASK_METRIC, CompareError, dump_json, load_json
from .env import THREAD_ENV, cpu_isa_env
from .measure import train_clock
from .peers import RunSpec, display_config


def _sha1_file(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha1(f.read()).hexdigest()


def run_signature(spec: RunSpec, cfg, ds, threads: int, cpu_isa: str) -> Dict:
    """What a finished run must match to be reused: its final config, the annotation files it read, the thread
    count and the kernels' instruction set (both change floating-point rounding, hence the trained weights)."""
    text = cfg.pretty_text
    files = [ds.path(ds.splits[s]['ann_file']) for s in ('train', 'val')]
    if 'instance' in spec.tasks:
        files += [ds.path(ds.splits[s]['instance_ann']) for s in ('train', 'val') if spec.kind != 'panoptic']
    return dict(name=spec.name, config=display_config(spec), config_sha1=hashlib.sha1(text.encode()).hexdigest(),
                iters=cfg.train_cfg.max_iters, batch=cfg.train_dataloader.batch_size, seed=cfg.randomness.seed,
                threads=threads, cpu_isa=cpu_isa, data_root=ds.data_root,
                annotations={osp.basename(f): _sha1_file(f) for f in sorted(set(files))})


def check_reusable(spec: RunSpec, signature: Dict, work_dir: str) -> Dict:
    """The stored result of a finished run with this signature ({} if none yet).

    Raises:
        CompareError: The folder holds a run with other settings.
    """
    stored = load_json(osp.join(work_dir, 'signature.json'))
    if stored is not None and stored != signature:
        changed = sorted(k for k in signature if stored.get(k) != signature[k])
        raise CompareError(f'{work_dir} holds a run with other settings ({", ".join(changed)} differ). Pass another '
                           '--work-dir, or --overwrite to delete and redo such runs.')
    result = load_json(osp.join(work_dir, 'result.json'))
    return result if result is not None and stored == signature else {}


def launch(job: Dict, work_dir: str) -> Dict:
    """Run ``job`` (see :func:`train_and_evaluate`) in a fresh Python process; returns its result."""
    os.makedirs(work_dir, exist_ok=True)
    job_path = osp.join(work_dir, 'job.json')
    dump_json(job, job_path)
    env = dict(os.environ)
    for key in THREAD_ENV:
        env[key] = str(job['threads'])
    env.update(cpu_isa_env(job['cpu_isa']))
    tools = osp.dirname(osp.dirname(osp.abspath(__file__)))
    env['PYTHONPATH'] = os.pathsep.join([tools, osp.join(REPO, 'projects')] +
                                        ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    proc = subprocess.run([sys.executable, '-m', 'segcompare.worker', job_path], env=env)
    result = load_json(osp.join(work_dir, 'result.json'))
    if proc.returncode != 0 or result is None:
        raise CompareError(f'{job["spec"]["name"]}: the run failed (exit code {proc.returncode}); its log is in '
                           f'{work_dir}. Rerun the command to resume it.')
    return result


def train_and_evaluate(spec: RunSpec, cfg, job: Dict) -> Dict:
    """Train (or resume) one run, evaluate it on the val split, measure it; writes and returns ``result.json``.

    ``job``: ``work_dir``, ``iters``, ``batch``, ``timing_images``, ``threads``, ``tag`` (progress prefix) and the
    run's ``signature``.
    """
    import torch
    from mmengine.runner import Runner

    from oneformer.evaluation import summarize_metrics

    from .measure import count_flops, count_params, peak_memory_mb, test_image_size, time_inference
    work_dir, tag, iters = job['work_dir'], job['tag'], job['iters']
    done_path = osp.join(work_dir, 'train_done.json')
    dump_json(job['signature'], osp.join(work_dir, 'signature.json'))
    done = load_json(done_path)
    cfg.work_dir = work_dir
    cfg.experiment_name = f'{spec.name}_{time.strftime("%Y%m%d_%H%M%S")}_{os.getpid()}'
    if cfg.get('visualizer'):
        cfg.visualizer.name = cfg.experiment_name
    cfg.resume, cfg.load_from = (True, None) if done is None else (False, done['checkpoint'])
    runner = Runner.from_cfg(cfg)
    clock = train_clock()
    runner.register_hook(clock)
    if done is None:
        print(f'{tag}: training {spec.model} ({spec.library}) on {"+".join(spec.tasks)} for {iters} iterations of '
              f'{job["batch"]} images ({display_config(spec)}) ...', flush=True)
        runner.train()
        done = dict(train_seconds=clock.seconds, train_cpu_seconds=clock.cpu_seconds,
                    checkpoint=osp.join(work_dir, f'iter_{iters}.pth'), **peak_memory_mb())
        if not osp.isfile(done['checkpoint']):
            raise CompareError(f'{spec.name}: training ended without {done["checkpoint"]}')
        dump_json(done, done_path)
    else:
        print(f'{tag}: trained earlier, evaluating {done["checkpoint"]}', flush=True)
    print(f'{tag}: evaluating {", ".join(TASK_METRIC[t] for t in spec.tasks)} on the val split ...', flush=True)
    summary = summarize_metrics(runner.test(), tasks=spec.tasks)
    model = runner.model
    params, params_inference = count_params(model)
    try:
        flops = count_flops(model, 'mmdet' if spec.library == 'oneformer' else spec.library, test_image_size(cfg))
        flops_error = None
    except Exception as e:  # noqa: BLE001  (a model the analyzer cannot trace still gets its other numbers)
        flops, flops_error = dict(flops=None, input=None, skipped_ops={}), f'{type(e).__name__}: {e}'
        print(f'{tag}: FLOPs not counted ({flops_error})', flush=True)
    seconds, cpu_seconds = time_inference(runner, job['timing_images'])
    metrics = {m: (summary.get(m) if any(TASK_METRIC[t] == m for t in spec.tasks) else None) for m in METRICS}
    result = dict(
        name=spec.name, model=spec.model, library=spec.library, config=display_config(spec), tasks=list(spec.tasks),
        iterations=iters, batch=job['batch'], threads=job['threads'], cpu_isa=job['cpu_isa'],
        cpu_capability=torch.backends.cpu.get_cpu_capability(), **metrics,
        metrics={k: v for k, v in summary.items() if k != 'raw'}, raw_metrics=summary.get('raw', {}),
        params=params, params_inference=params_inference, flops=flops['flops'], flops_input=flops['input'],
        flops_skipped_ops=flops['skipped_ops'], flops_error=flops_error,
        inference_s_per_image=seconds, inference_cpu_s_per_image=cpu_seconds, inference_tasks=list(spec.tasks),
        train_seconds=done['train_seconds'], train_cpu_seconds=done['train_cpu_seconds'],
        peak_rss_mb=done.get('peak_rss_mb'), peak_cuda_mb=done.get('peak_cuda_mb'),
        trainings_for_3_tasks=-(-3 // len(spec.tasks)), work_dir=work_dir, signature=job['signature'])
    dump_json(result, osp.join(work_dir, 'result.json'))
    print(f'{tag}: done - ' + ', '.join(f'{m} {result[m]:.1f}' for m in METRICS if result[m] is not None)
          + f', training {result["train_seconds"]:.0f} s, peak {result["peak_rss_mb"] or 0:.0f} MiB', flush=True)
    del runner, model
    gc.collect()
    return result


def job_for(spec: RunSpec, args, signature: Dict, work_dir: str, tag: str) -> Dict:
    """Everything a worker process needs to rebuild the run's config and run it (JSON-serialisable)."""
    return dict(spec=spec.__dict__, work_dir=work_dir, tag=tag, signature=signature, dataset=args.dataset,
                data_root=args.data_root, instance_anns=[args.instance_train_ann, args.instance_val_ann],
                oneformer_config=args.oneformer_config, backbone=args.backbone, iters=args.iters, batch=args.batch,
                seed=args.seed, checkpoint_interval=args.checkpoint_interval, log_interval=args.log_interval,
                timing_images=args.timing_images, threads=args.threads, cpu_isa=args.cpu_isa,
                rois_per_image=args.rois_per_image)


def dumps(obj) -> str:
    return json.dumps(obj, indent=1)
