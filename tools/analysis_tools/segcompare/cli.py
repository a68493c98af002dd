"""Command line of ``tools/analysis_tools/compare_segmentors.py`` (see its docstring and docs/compare.md)."""
import argparse
import os
import os.path as osp
import shutil
import sys
import time
from typing import Dict, List, Optional

from .common import (
    ALL_TASKS,
    DEFAULT_DATASET,
    DEFAULT_ITERS,
    DEFAULT_ONEFORMER,
    REPO,
    SCHEMA_VERSION,
    SYNTHETIC_ROIS_PER_IMAGE,
    CompareError,
    dump_json,
    load_json,
)
from .env import environment, pin_threads, sleep_idle_threads

COMMAND = 'python tools/analysis_tools/compare_segmentors.py'


def _rois_per_image(value: str, dataset: str, parser) -> Optional[int]:
    """``--rois-per-image`` as a number, or None for the recipe's."""
    if value == 'recipe':
        return None
    if value == 'auto':
        return SYNTHETIC_ROIS_PER_IMAGE if osp.abspath(dataset) == osp.abspath(DEFAULT_DATASET) else None
    if not value.isdigit() or int(value) < 1:
        parser.error(f"--rois-per-image: 'auto', 'recipe' or a positive number, got {value!r}")
    return int(value)


def parse_args(argv=None, description: Optional[str] = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dataset', default=DEFAULT_DATASET, help='COCO-panoptic dataset base config')
    parser.add_argument('--data-root', help="use this data root instead of the dataset config's")
    parser.add_argument('--instance-train-ann', help='COCO instance JSON of the train split (instance peers)')
    parser.add_argument('--instance-val-ann', help='COCO instance JSON of the val split (mask AP)')
    parser.add_argument('--oneformer-config', default=DEFAULT_ONEFORMER, help='OneFormer model config')
    parser.add_argument('--peers', help='comma-separated mmdet / mmseg configs (mmdet::solov2/solov2_r50_fpn_1x_coco.py'
                        ', mmseg::..., or paths); "default" stands for the default leaderboard (the default)')
    parser.add_argument('--tasks', default=','.join(ALL_TASKS), help='only peers of these tasks (comma-separated)')
    parser.add_argument('--backbone', help="shared backbone instead of the demo's ResNet-18 from scratch: a dict "
                        "literal (\"dict(type='ResNet', depth=50, ...)\") or an mmpretrain model name")
    parser.add_argument('--iters', type=int, default=DEFAULT_ITERS, help='iterations of every training run')
    parser.add_argument('--batch', type=int, default=4, help='images per iteration of every training run')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--rois-per-image', default='auto', help="RoIs sampled per image by two-stage peers' "
                        "second stage (Mask R-CNN, Panoptic FPN): 'auto' (default) = 64 on the synthetic 128x128 "
                        "data, where the recipe's 512 (sized for 1333x800 COCO images) costs most of a CPU run, and "
                        "the recipe's value on other data; 'recipe'; or a number")
    parser.add_argument('--threads', type=int, default=2, help='intra-op threads of every run (pinned: the count '
                        'changes the floating-point results)')
    parser.add_argument('--cpu-isa', default='avx2', choices=['avx2', 'native'], help='instruction set of the '
                        "CPU kernels of every run: avx2 (default) gives the same weights on any AVX2 CPU, native the "
                        "CPU's widest (faster on AVX-512 machines; results then depend on the CPU)")
    parser.add_argument('--only', help='comma-separated run names to do (default: all requested); the table is '
                        'made from every finished run of the requested ones')
    parser.add_argument('--list', action='store_true', help='print the requested runs and exit')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'compare'))
    parser.add_argument('--checkpoint-interval', type=int, help='iterations between checkpoints (default iters/4)')
    parser.add_argument('--log-interval', type=int, default=25, help='iterations between progress lines')
    parser.add_argument('--timing-images', type=int, default=10, help='val images timed for inference s/img')
    parser.add_argument('--overwrite', action='store_true', help='delete and redo runs made with other settings')
    parser.add_argument('--make-semantic-labels', action='store_true',
                        help='only write the semantic label maps (semantic_{train,val}/) and exit')
    parser.add_argument('--profile', metavar='RUNS', help='profile the inference of these finished runs (comma-'
                        'separated names, "mask2former" = oneformer + the three Mask2Former runs) stage by stage and '
                        'exit: profile.md / profile.json in the work dir')
    parser.add_argument('--published', metavar='DATASET', help='print the model zoos\' published results for ade20k, '
                        'coco or cityscapes (no training) and exit')
    args = parser.parse_args(argv)
    if args.iters < 1 or args.batch < 1 or args.threads < 1:
        parser.error('--iters, --batch and --threads must be positive')
    args.rois_per_image = _rois_per_image(args.rois_per_image, args.dataset, parser)
    tasks = [t.strip() for t in args.tasks.split(',') if t.strip()]
    unknown = [t for t in tasks if t not in ALL_TASKS]
    if unknown or not tasks:
        parser.error(f'--tasks: {unknown or "none"} not among {list(ALL_TASKS)}')
    args.tasks = tuple(tasks)
    args.peers = [p.strip() for p in args.peers.split(',') if p.strip()] if args.peers else None
    args.oneformer_config = osp.abspath(args.oneformer_config)
    return args


def main(argv=None, description: Optional[str] = None) -> Dict:
    """Run the comparison; returns the report written to ``results.json`` (exit code 2 on a clear refusal)."""
    sleep_idle_threads()
    args = parse_args(argv, description)
    try:
        return compare(args, ' '.join([COMMAND] + (sys.argv[1:] if argv is None else list(argv))))
    except CompareError as e:
        print(f'[compare] error: {e}', file=sys.stderr, flush=True)
        raise SystemExit(2) from e


def show_published(dataset: str, work_dir: str) -> Dict:
    """``--published``: print the zoo table and write it (markdown + JSON) into the work dir."""
    from .published import published, published_table
    rows = published(dataset)
    table = published_table(rows, dataset)
    os.makedirs(work_dir, exist_ok=True)
    base = osp.join(work_dir, f'published_{dataset.lower()}')
    dump_json(dict(dataset=dataset, published=True, rows=rows), base + '.json')
    with open(base + '.md', 'w') as f:
        f.write(table + '\n')
    print(table + f'\n\n[compare] {len(rows)} published entries; wrote {base}.md / .json', flush=True)
    return dict(published=True, rows=rows, table=table)


def show_profile(args: argparse.Namespace, runs, ds, one) -> Dict:
    """``--profile``: stage times of the inference of finished runs (see :mod:`.profile`)."""
    from .plan import config_for
    from .profile import pick, profile_run, profile_table
    from .run import job_for
    names = [n.strip() for n in args.profile.split(',') if n.strip()]
    if names == ['mask2former']:
        names = ['oneformer'] + [r.name for r in runs if r.model == 'Mask2Former']
    work_root = osp.abspath(args.work_dir)
    profiles = []
    for r in pick(runs, names):
        print(f'[compare] profiling {r.name} ({args.timing_images} images, 3 steps each) ...', flush=True)
        cfg = config_for(r, job_for(r, args, {}, '', ''), (ds, one))
        profiles.append(profile_run(r, cfg, osp.join(work_root, r.name), args.timing_images, steps=3))
    table = profile_table(profiles)
    dump_json(dict(command=' '.join(sys.argv), threads=args.threads, profiles=profiles),
              osp.join(work_root, 'profile.json'))
    with open(osp.join(work_root, 'profile.md'), 'w') as f:
        f.write(table + '\n')
    print(table, flush=True)
    return dict(profiles=profiles, table=table)


def compare(args: argparse.Namespace, command: str) -> Dict:
    """The comparison itself (``main`` without the argument parsing and the exit on errors)."""
    if args.published:
        return show_published(args.published, args.work_dir)
    from mmdet.utils import register_all_modules

    import oneformer  # noqa: F401  (registers the project; panopticapi shim for mmdet's panoptic dataset / metric)
    from oneformer.utils import load_average

    from .dataset import check_data, ensure_synthetic, make_semantic_labels
    from .peers import requested_runs
    from .plan import config_for, shared_setup
    from .report import markdown_table, order_runs, plot, summarize_models
    from .run import check_reusable, job_for, launch, run_signature
    register_all_modules(init_default_scope=False)
    pin_threads(args.threads)
    start = time.perf_counter()
    load_start = load_average()
    ds, one = shared_setup(args.dataset, args.data_root, (args.instance_train_ann, args.instance_val_ann),
                           args.oneformer_config)
    ensure_synthetic(ds)
    if args.make_semantic_labels:
        for split in ('train', 'val'):
            print(f'[compare] {split}: {make_semantic_labels(ds, split)}', flush=True)
        return {}
    runs = requested_runs(args.oneformer_config, args.peers, args.tasks)
    if args.list:
        for r in runs:
            print(f'{r.name:28s} {r.model:14s} {r.library:9s} {"+".join(r.tasks):28s} {r.config}')
        return dict(runs=[r.__dict__ for r in runs])
    check_data(ds, runs)
    if args.profile:
        return show_profile(args, runs, ds, one)
    if any(r.kind == 'semantic' for r in runs):
        for split in ('train', 'val'):
            make_semantic_labels(ds, split)
    work_root = osp.abspath(args.work_dir)
    os.makedirs(work_root, exist_ok=True)
    only = None if not args.only else {n.strip() for n in args.only.split(',') if n.strip()}
    unknown = sorted((only or set()) - {r.name for r in runs})
    if unknown:
        raise CompareError(f'--only: unknown run(s) {unknown}; requested runs are {[r.name for r in runs]}')
    # every config is built (and every peer adapted or refused) before any training
    base_job = job_for(runs[0], args, {}, '', '')
    signatures = {r.name: run_signature(r, config_for(r, base_job, (ds, one)), ds, args.threads,
                                           args.cpu_isa) for r in runs}
    if args.overwrite:
        for r in runs:
            sig = load_json(osp.join(work_root, r.name, 'signature.json'))
            if sig is not None and sig != signatures[r.name]:
                print(f'[compare] --overwrite: deleting {osp.join(work_root, r.name)} (other settings)', flush=True)
                shutil.rmtree(osp.join(work_root, r.name))
    todo = [r.name for r in runs if only is None or r.name in only]
    print(f'[compare] {len(todo)} of {len(runs)} training runs, {args.iters} iterations x {args.batch} images each, '
          f'{args.threads} threads per run, on {ds.data_root} ({osp.relpath(ds.base, REPO)}); work dir {work_root}:\n'
          + '\n'.join(f'    {r.name:26s} {r.model} ({r.library}, {"+".join(r.tasks)}): {r.config}'
                      for r in runs if r.name in todo), flush=True)
    results: List[Dict] = []
    failed: List[Dict] = []
    for i, r in enumerate(runs, 1):
        work_dir = osp.join(work_root, r.name)
        tag = f'[compare] ({i}/{len(runs)}, {(time.perf_counter() - start) / 60:.1f} min) {r.name}'
        if only is not None and r.name not in only:
            result = load_json(osp.join(work_dir, 'result.json'))
            if result is not None and result.get('signature') == signatures[r.name]:
                results.append(dict(result, reused=True))
            continue
        result = check_reusable(r, signatures[r.name], work_dir)
        if result:
            print(f'{tag}: finished earlier, reusing {osp.join(work_dir, "result.json")}', flush=True)
            results.append(dict(result, reused=True))
            continue
        try:
            results.append(dict(launch(job_for(r, args, signatures[r.name], work_dir, tag), work_dir), reused=False))
        except CompareError as e:  # the other runs go on; the table says which one is missing and why
            print(f'{tag}: FAILED - {e}', flush=True)
            failed.append(dict(name=r.name, config=r.config, error=str(e)))
    results = order_runs(results)
    models = summarize_models(results)
    table = markdown_table(results, models)
    report = dict(
        schema_version=SCHEMA_VERSION, command=command, dataset=osp.relpath(ds.base, REPO), data_root=ds.data_root,
        iters=args.iters, batch=args.batch, seed=args.seed, threads=args.threads, cpu_isa=args.cpu_isa,
        backbone=args.backbone or 'demo', environment=environment(args.threads, args.cpu_isa),
        load_average_start=load_start, load_average_end=load_average(),
        wall_time_s=time.perf_counter() - start, notes=NOTES, runs=results, models=models, table=table,
        failed=failed)
    out = osp.join(work_root, 'results.json')
    dump_json(report, out)
    with open(osp.join(work_root, 'results.md'), 'w') as f:
        f.write(table + '\n')
    title = (f'{osp.basename(ds.base)}: {args.iters} iterations x batch {args.batch} per training run, '
             f'{args.threads} threads; marker area ~ parameters')
    png = plot(results, osp.join(work_root, 'leaderboard.png'), title)
    print(f'\n{table}\n\n[compare] done in {report["wall_time_s"] / 60:.1f} min; wrote {out}, {png}', flush=True)
    if failed:
        raise CompareError(f'{len(failed)} run(s) failed: {", ".join(f["name"] for f in failed)} (see above; '
                           'results.json lists them under "failed"); rerun the command to retry them')
    return report


NOTES = [
    'params: parameters used at inference (OneFormer without its training-only text mapper); a model total adds up '
    "its runs' (the weights it needs for the tasks it covers)",
    "inference s/img: median model.test_step wall time on one image; OneFormer's produces the three tasks, a peer's "
    "its one task; a model total adds up its runs'",
    'FLOPs: mmengine FlopAnalyzer, one forward (backbone + neck + head) at the test size, ops in flops_skipped_ops '
    'not counted; OneFormer counted in its reference formulation',
    'training: wall time of the training loop (and CPU time of its process, all threads, data workers excluded); '
    'wall time depends on what else runs on the machine',
    "peak mem: peak resident memory of the run's own process (model build + training), MiB",
    'trainings for 3 tasks: trainings (sets of weights) needed to cover panoptic, instance and semantic '
    'segmentation with models like this one: 1 for a model trained jointly, 3 for a single-task one',
]
