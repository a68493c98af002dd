PY := .venv/bin/python

.PHONY: install lint test demo compare leaderboard
install:
	@bash tools/setup_env.sh

lint: install
	.venv/bin/ruff check .

# Two pytest processes: the deployment tests load ONNX Runtime's, OpenVINO's and torch.compile's native thread
# pools; in one process with the rest, the next test after them died with a segmentation fault (not yet found).
test: install lint
	$(PY) -m pytest tests -q --ignore=tests/test_deployment
	$(PY) -m pytest tests/test_deployment -q

demo: install
	$(PY) tools/demo.py

# OneFormer trained once vs 12 OpenMMLab segmentors (mmdet / mmseg, one training per task) on the same data, backbone,
# schedule and budget (docs/compare.md): results.json / results.md / leaderboard.png in work_dirs/compare/.
# About 70 minutes on an idle 2-core machine (300 iterations per run; docs/compare.md); rerunning reuses finished
# runs. `make compare` is the same command.
leaderboard: install
	$(PY) tools/analysis_tools/compare_segmentors.py

compare: leaderboard
