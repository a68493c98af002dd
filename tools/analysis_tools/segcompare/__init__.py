"""The segmentor leaderboard behind ``tools/analysis_tools/compare_segmentors.py`` (issue 21), split along its parts:

* :mod:`.peers` — which runs: OneFormer and the mmdet / mmseg peers (config names or paths, default leaderboard);
* :mod:`.dataset` — the shared COCO-panoptic dataset and the files derived from it;
* :mod:`.pipelines`, :mod:`.backbone`, :mod:`.adapt` — adapting every run the same way (data, pipeline, backbone,
  schedule, budget, seed; ``ADAPTED_KEYS`` lists what may change);
* :mod:`.plan` — settings -> each run's final config; :mod:`.run`, :mod:`.worker` — one run in its own process;
* :mod:`.measure` — params, FLOPs, inference time, peak memory; :mod:`.report` — table and plot;
* :mod:`.published` — the model zoos' published numbers; :mod:`.env` — threads, OpenMP, environment report;
* :mod:`.cli` — the command line.
"""
