# Developer tasks for wts.  `make help` lists them.
PY ?= .venv/bin/python

.PHONY: help venv install test demo bench lint wheel ci clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

venv: ## create .venv
	python3 -m venv .venv

install: venv ## build and install wts with its test extras into .venv
	.venv/bin/pip install -q '.[test]'

demo: install ## the main job: who is where on a generated 200x25 farm (sim provider)
	$(PY) examples/who_is_where.py

test: install ## run the test suite
	$(PY) -m pytest -q

bench: install ## the core benchmarks on the simulated farm (figures: docs/benchmarks.md)
	.venv/bin/pip install -q pytest-benchmark
	$(PY) -m pytest benchmarks --benchmark-columns=min,median,max,rounds

lint: install ## ruff (lint and format check) and mypy --strict
	.venv/bin/pip install -q ruff mypy
	.venv/bin/ruff check src tests tools examples
	.venv/bin/ruff format --check src tests tools examples
	.venv/bin/mypy

wheel: ## build the sdist and a wheel for this machine into dist/
	.venv/bin/pip install -q build && .venv/bin/python -m build

ci: ## what CI runs, from scratch
	bash .ci/run

clean: ## remove build products
	rm -rf build dist src/*.egg-info src/_wts.c .pytest_cache
