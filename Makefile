# gp2bm: `make demo` runs the smoke suite end to end; `make test` runs ruff and the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: all venv demo test lint clean

all: venv

venv: $(BIN)/gp2bm

$(BIN)/gp2bm: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

# The smoke suite end to end with the local runtime: 15 short real training runs, every
# MLPerf check, the score. Resumes if results/demo exists (rm -rf results/demo to redo).
demo: venv
	$(BIN)/gp2bm run-all --suite manifests/smoke.yaml --runtime local --campaign results/demo \
		--allow-cache-drop-failure

lint: venv
	$(BIN)/ruff check gp2bm tests benchmarks containers

test: lint
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
