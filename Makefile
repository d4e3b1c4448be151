# The README's two commands: `make demo` (the main job) and `make test` (the test suite).
# Both create the virtual environment .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU-only machines pin torch to its CPU build (constraints-cpu.txt); on a machine with an
# NVIDIA GPU the open range in pyproject.toml installs the normal CUDA build.
TORCH_CONSTRAINT ?= $(if $(wildcard /dev/nvidia0),,-c constraints-cpu.txt)
DEMO_DB ?= demo.duckdb

.PHONY: install demo test test-slow lint bench clean

$(BIN)/wsdb: pyproject.toml constraints-cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH_CONSTRAINT) -e '.[dev]'
	touch $@

install: $(BIN)/wsdb

demo: install
	rm -f $(DEMO_DB)
	$(BIN)/wsdb demo --db $(DEMO_DB) --out .

# Three test processes on two cores: the suite is single-threaded Python, process start-ups,
# and waits on workers, PostgreSQL and the browser (measured: 4 min 17 s, against 5 min 29 s
# with two); worksteal keeps the long tests from ending up on one process.
test: install
	$(BIN)/python -m pytest -q -n 3 --dist worksteal

lint: install
	$(BIN)/ruff check .

test-slow: install
	$(BIN)/python -m pytest -q -m slow

bench: install
	$(BIN)/python bench/enumerate_nb101.py
	$(BIN)/python bench/ingest_nb101.py
	$(BIN)/python bench/analyses.py
	$(BIN)/python bench/simulate.py
	$(BIN)/python bench/supernet_nb101.py
	$(BIN)/python bench/supernet_nb101.py --cells canonical
	$(BIN)/python bench/parameter_counts.py
	$(BIN)/python bench/job_queue.py
	$(BIN)/python bench/subspaces.py
	$(BIN)/python bench/differentiable.py

clean:
	rm -rf $(VENV) $(DEMO_DB) build *.egg-info
