"""Entry point of one run's process: ``python -m segcompare.worker JOB.json`` (started by :func:`run.launch`)."""
import sys

from .common import CompareError, load_json
from .env import pin_threads


def main(job_path: str) -> int:
    job = load_json(job_path)
    pin_threads(job['threads'])
    from mmdet.utils import register_all_modules

    import oneformer  # noqa: F401  (registers the project; panopticapi shim for mmdet's panoptic dataset / metric)
    register_all_modules(init_default_scope=False)
    from .peers import RunSpec
    from .plan import config_for
    from .run import train_and_evaluate
    spec = RunSpec(**{k: tuple(v) if k == 'tasks' else v for k, v in job['spec'].items()})
    try:
        train_and_evaluate(spec, config_for(spec, job), job)
    except CompareError as e:
        print(f'[compare] error: {e}', file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
