# The README's two commands: `make demo` (the main job) and `make test` (the test suite).
# Both create the virtual environment .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU-only machines pin torch to its CPU build (constraints-cpu.txt); on a machine with an
# NVIDIA GPU the open range in pyproject.toml installs the normal CUDA build.
TORCH_CONSTRAINT ?= $(if $(wildcard /dev/nvidia0),,-c constraints-cpu.txt)
DEMO_DB ?= demo.duckdb

.PHONY: install demo test test-slow bench clean

$(BIN)/wsdb: pyproject.toml constraints-cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH_CONSTRAINT) -e '.[dev]'
	touch $@

install: $(BIN)/wsdb

demo: install
	rm -f $(DEMO_DB)
	$(BIN)/wsdb init --db $(DEMO_DB)
	$(BIN)/wsdb summary --db $(DEMO_DB)
	$(BIN)/wsdb arch show --space nb101 --db $(DEMO_DB) \
	  --matrix '[[0,1,1,1,0,1,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,1,0,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]]' \
	  --ops input,conv1x1-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,maxpool3x3,output
	@echo
	@echo "Wrote $(DEMO_DB). Open it with DuckDB, e.g.:"
	@echo "  $(BIN)/python -c \"import duckdb; print(duckdb.connect('$(DEMO_DB)', read_only=True).sql('SELECT subspace, COUNT(*) FROM architecture_subspaces GROUP BY ALL'))\""

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

bench: install
	$(BIN)/python bench/enumerate_nb101.py
	$(BIN)/python bench/ingest_nb101.py

clean:
	rm -rf $(VENV) $(DEMO_DB) build *.egg-info
