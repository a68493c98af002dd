"""Where does OneFormer stand among the segmentors you already run in mmdet and mmseg, on your data, at your budget?
(issues 15, 21; docs/compare.md)

    python tools/analysis_tools/compare_segmentors.py                    # `make leaderboard`: synthetic default
    python tools/analysis_tools/compare_segmentors.py --tasks semantic --iters 100 --work-dir work_dirs/cmp_quick
    python tools/analysis_tools/compare_segmentors.py --peers default,mmdet::solo/solo_r50_fpn_1x_coco.py
    python tools/analysis_tools/compare_segmentors.py --published ade20k  # the model zoos' numbers, no training

OneFormer is trained once, jointly on the three tasks; every peer (an mmdet / mmseg config, by ``mmdet::`` /
``mmseg::`` name or path) once for its task, each in its own library's loop, dataset class and metric. Every run
is adapted the same way: the shared dataset (``--dataset``, a COCO-panoptic base config; default the synthetic
shapes of ``make demo``), its augmentation and resizing, the shared backbone (the demo's ResNet-18 from scratch, or
``--backbone``; the neck's / heads' input widths follow), OneFormer's optimizer with poly decay over the budget
(``--iters`` iterations of ``--batch`` images), the seed and ``--threads``. What cannot be adapted is refused
with the reason.

Outputs under ``--work-dir`` (default ``work_dirs/compare``): one folder per run (log, checkpoint,
``result.json``), ``results.json`` (one entry per run: name, library, tasks, metrics, params, FLOPs, times,
memory; and a total per model family), ``results.md`` and ``leaderboard.png`` (quality vs inference time per
task). Finished runs with the same settings are reused, interrupted ones resume from their last checkpoint.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from segcompare.cli import main  # noqa: E402

if __name__ == '__main__':
    main(description=__doc__)
