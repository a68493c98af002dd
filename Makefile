PY := .venv/bin/python

.PHONY: install test demo
install:
	@bash tools/setup_env.sh

test: install
	$(PY) -m pytest tests -q

demo: install
	$(PY) tools/demo.py
