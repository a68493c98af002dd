"""`make demo` next to a competing torch job (issue 18): how long each takes when they share the cores.

    python tools/analysis_tools/benchmark_busy_machine.py                       # this checkout's demo + competitor
    python tools/analysis_tools/benchmark_busy_machine.py --no-competitor       # the demo alone
    python tools/analysis_tools/benchmark_busy_machine.py --repo /path/to/other/checkout --timeout-min 15

The competitor is a typical PyTorch job that knows nothing of this package: eager torchvision ResNet-50 forwards
(batch 1, 224x224, ``--competitor-threads`` intra-op threads) with the default OpenMP settings, i.e. with any
``OMP_*`` / ``KMP_*`` variables of this shell removed. The demo is ``tools/demo.py`` of ``--repo`` (a fresh work
dir, the data root given by ``--data-root`` so that data generation is not timed unless the data is missing), run
with ``PYTHONPATH=<repo>/projects`` so that the checkout's own package is imported. Prints and writes (``--out``) the
demo's wall time, its last training iteration (when ``--timeout-min`` stops it) and seconds per iteration, the
competitor's seconds per forward while the demo ran, and the load averages.
"""
import argparse
import json
import os
import os.path as osp
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

COMPETITOR = r'''
import sys, time, torch, torchvision
torch.set_num_threads(int(sys.argv[1]))
model = torchvision.models.resnet50().eval()
x = torch.randn(1, 3, 224, 224)
with torch.no_grad(), open(sys.argv[2], 'a') as log:
    while True:
        t = time.perf_counter()
        model(x)
        log.write(f'{time.time():.3f} {time.perf_counter() - t:.4f}\n')
        log.flush()
'''

ITER = re.compile(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\]')


def _default_openmp_env() -> dict:
    """This environment without the OpenMP settings a user's own torch job would not have."""
    return {k: v for k, v in os.environ.items() if not k.startswith(('OMP_', 'KMP_', 'GOMP_', 'MKL_NUM'))}


def _load() -> list:
    return [round(x, 2) for x in os.getloadavg()]


def run(args) -> dict:
    # absolute: the demo runs in --repo's folder
    work_dir = osp.abspath(args.work_dir or tempfile.mkdtemp(prefix='busy_demo_'))
    if osp.exists(work_dir):
        shutil.rmtree(work_dir)  # a fresh run: the demo resumes nothing
    os.makedirs(work_dir)
    forwards = osp.join(work_dir, 'competitor_forwards.txt')
    result = dict(repo=osp.abspath(args.repo), commit=_commit(args.repo), competitor=not args.no_competitor,
                  competitor_threads=args.competitor_threads, load_start=_load(),
                  command=' '.join([osp.basename(sys.argv[0])] + sys.argv[1:]))
    competitor = None
    if not args.no_competitor:
        competitor = subprocess.Popen([sys.executable, '-c', COMPETITOR, str(args.competitor_threads), forwards],
                                      env=_default_openmp_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(args.competitor_head_start)
    env = dict(os.environ, PYTHONPATH=osp.join(osp.abspath(args.repo), 'projects'))
    cmd = [sys.executable, 'tools/demo.py', '--work-dir', osp.join(work_dir, 'demo'), '--data-root',
           osp.abspath(args.data_root)]
    if args.max_iters:
        cmd += ['--max-iters', str(args.max_iters)]
    print(f'[busy] demo: {" ".join(cmd)} (cwd {args.repo}); competitor: '
          f'{"none" if competitor is None else f"ResNet-50 forwards, {args.competitor_threads} threads"}', flush=True)
    last_iter, total_iters, start = 0, None, time.time()
    deadline = start + 60 * args.timeout_min if args.timeout_min else None
    with open(osp.join(work_dir, 'demo.log'), 'w') as log:
        demo = subprocess.Popen(cmd, cwd=args.repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        os.set_blocking(demo.stdout.fileno(), False)

        def take(line: str) -> None:
            nonlocal last_iter, total_iters
            log.write(line)
            m = ITER.search(line)
            if m:
                last_iter, total_iters = int(m.group(1)), int(m.group(2))
                print(f'[busy] {time.time() - start:6.0f} s: iteration {last_iter}/{total_iters}', flush=True)

        while True:
            if deadline and time.time() > deadline:  # checked on every line: the demo logs often
                demo.kill()
                break
            line = demo.stdout.readline()
            if line:
                take(line)
                continue
            if demo.poll() is not None:
                break
            time.sleep(0.5)
        demo.wait()
        os.set_blocking(demo.stdout.fileno(), True)
        for line in demo.stdout:  # what it wrote between the last read and its exit
            take(line)
        demo.wait()
    end = time.time()
    if competitor is not None:
        competitor.kill()
        competitor.wait()
        times = [float(t) for stamp, t in (ln.split() for ln in open(forwards)) if start <= float(stamp) <= end]
        result['competitor_s_per_forward'] = dict(median=statistics.median(times) if times else None,
                                                  forwards=len(times))
    finished = demo.returncode == 0
    metrics_file = osp.join(work_dir, 'demo', 'metrics.json')
    result.update(demo_finished=finished, demo_returncode=demo.returncode, demo_wall_s=round(end - start, 1),
                  last_iteration=last_iter, total_iterations=total_iters,
                  s_per_iteration=round((end - start) / last_iter, 2) if last_iter and not finished else None,
                  metrics=json.load(open(metrics_file)) if finished and osp.exists(metrics_file) else None,
                  load_end=_load(), work_dir=work_dir)
    return result


def _commit(repo: str) -> str:
    try:
        return subprocess.check_output(['git', 'rev-parse', '--short', 'HEAD'], cwd=repo, text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--repo', default=REPO, help='checkout whose tools/demo.py runs (default: this one)')
    parser.add_argument('--data-root', default=osp.join(REPO, 'data', 'synthetic'),
                        help='synthetic data (generated by the demo when missing)')
    parser.add_argument('--work-dir', help='fresh folder for the demo and the logs (deleted first if it exists)')
    parser.add_argument('--no-competitor', action='store_true', help='the demo alone')
    parser.add_argument('--competitor-threads', type=int, default=2)
    parser.add_argument('--competitor-head-start', type=float, default=10.0, help='seconds before the demo starts')
    parser.add_argument('--timeout-min', type=float, default=0, help='stop the demo after this many minutes (0: no)')
    parser.add_argument('--max-iters', type=int, help="the demo's --max-iters (quick checks; default: the config's)")
    parser.add_argument('--out', help='JSON result')
    args = parser.parse_args(argv)
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return result


if __name__ == '__main__':
    main()
