# Developer tasks for wts.  `make help` lists them.
PY ?= .venv/bin/python

.PHONY: help venv install test demo bench bench-peers bench-wine lint tools wheel identifiers wine ci clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

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

bench-peers: install ## wts against the peers, the table of docs/benchmarks.md: wts bench (JSON in build/bench/peers.json)
	mkdir -p build/bench
	$(PY) -m wts._bench --json build/bench/peers.json $(BENCH_ARGS)

bench-wine: ## the same against real pywin32 under Wine, with the sim as wtsapi32.dll (JSON in build/wine-bench)
	bash tools/wine_bench.sh $(BENCH_ARGS)

lint: install ## ruff (lint and format check) and mypy --strict
	.venv/bin/pip install -q ruff mypy
	.venv/bin/ruff check src tests tools examples
	.venv/bin/ruff format --check src tests tools examples
	.venv/bin/mypy

tools: ## the build tools, pinned by sha256, in build/ci/tools (build, cibuildwheel, auditwheel, Cython)
	bash -c '. .ci/steps.sh && tools_venv'

wheel: tools ## the sdist and this machine's wheel into dist/ (wheel built from the sdist), then auditwheel show
	rm -rf dist
	build/ci/tools/bin/python -m build --no-isolation -o dist .
	build/ci/tools/bin/auditwheel show dist/*.whl

identifiers: tools ## the wheels cibuildwheel would build on each platform (checks [tool.cibuildwheel])
	for p in linux macos windows; do build/ci/tools/bin/cibuildwheel --platform $$p --print-build-identifiers; done

wine: ## the Windows proof: cross-build the cp311-win_amd64 wheel and test it under Wine (docs/building.md)
	bash .ci/wine

ci: ## what CI runs, from scratch
	bash .ci/run

clean: ## remove build products (the Wine check's downloads stay in ~/.cache/wts-wine)
	rm -rf build dist src/*.egg-info src/_wts.c .pytest_cache
