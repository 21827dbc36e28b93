# Developer tasks for wts.  `make help` lists them.
PY ?= .venv/bin/python
# The development build is in place: src/wts/_wts*.so beside the Python sources, which .venv imports
# (an editable install).  Targets depend on the extension file, so make rebuilds it only when a source
# of it changed, and setuptools then recompiles only what is out of date.
EXT := src/wts/_wts$(shell python3 -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
EXT_SOURCES := setup.py src/_wts.pyx $(wildcard src/*.pxi src/include/*.pxd src/wtsapi/*.c src/wtsapi/*.h)

.PHONY: help venv build install test demo bench bench-peers bench-tsts bench-wine lint tools wheel identifiers wine ci clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

venv: .venv/.dev ## create .venv: wts installed editable (from src/) with its test extras and the build tools

.venv/.dev: pyproject.toml
	python3 -m venv .venv
	.venv/bin/pip install -q 'setuptools>=77' 'Cython>=3.1'
	.venv/bin/pip install -q --no-build-isolation -e '.[test]'
	touch $@

$(EXT): .venv/.dev $(EXT_SOURCES)
	$(PY) setup.py -q build_ext --inplace
	touch $@

build: $(EXT) ## build wts._wts in place (only when one of its sources changed)

install: build ## the development install: .venv with wts editable, the extension built in place

demo: build ## the main job: who is where on a generated 200x25 farm (sim provider)
	$(PY) examples/who_is_where.py

test: build ## run the test suite
	$(PY) -m pytest -q

bench: build ## the core benchmarks on the simulated farm (figures: docs/benchmarks.md)
	.venv/bin/pip install -q pytest-benchmark
	$(PY) -m pytest benchmarks --benchmark-columns=min,median,max,rounds

bench-peers: build ## wts against the peers, the table of docs/benchmarks.md: wts bench (JSON in build/bench/peers.json)
	mkdir -p build/bench
	$(PY) -m wts._bench --json build/bench/peers.json $(BENCH_ARGS)

bench-tsts: build ## the tsts provider against impacket and tstool.py on wts sim serve, 200 x 25 @ 2 ms (JSON in build/bench/tsts.json)
	mkdir -p build/bench
	$(PY) -m wts._bench tsts --markdown --json build/bench/tsts.json $(BENCH_ARGS)

bench-wine: ## the same against real pywin32 under Wine, with the sim as wtsapi32.dll (JSON in build/wine-bench)
	bash tools/wine_bench.sh $(BENCH_ARGS)

lint: build ## ruff check, ruff format --check, mypy --strict and stubtest, pinned as CI pins them (.ci/lint)
	bash .ci/lint $(PY)

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
	rm -rf build dist src/*.egg-info src/_wts.c src/wts/_wts*.so src/wts/_wts*.pyd .pytest_cache
