PY := .venv/bin/python

.PHONY: install lint test demo compare
install:
	@bash tools/setup_env.sh

lint: install
	.venv/bin/ruff check .

test: install lint
	$(PY) -m pytest tests -q

demo: install
	$(PY) tools/demo.py

# OneFormer trained once vs Mask2Former trained per task, same data / sizes as `make demo` (docs/compare.md);
# ~15 min on 2 CPU cores. Rerunning reuses finished runs: results in work_dirs/compare/
compare: install
	$(PY) tools/analysis_tools/compare_segmentors.py
