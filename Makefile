# gp2bm: `make demo` runs the smoke suite end to end; `make test` runs ruff, mypy and the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

# Debian packages some tests need (headless Chromium for the HTML report, LibreOffice for
# the CSV-in-a-spreadsheet check, OpenIPMI's BMC simulator ipmi_sim and ipmitool for the
# IPMI power source, faketime for a BMC whose clock is off). Docker, the registry, Podman,
# Apptainer and Slurm are installed by the scripts under scripts/ that the tests start.
APT_TEST_PACKAGES = chromium libreoffice-calc-nogui openipmi ipmitool faketime

.PHONY: all venv bytecode demo test test-fast test-deps lint typecheck clean

all: venv

venv: $(BIN)/gp2bm

# setuptools warns of every editable install that a folder named like the package may take
# precedence: in this checkout that folder is the package, so the warning is silenced.
$(BIN)/gp2bm: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

# gp2bm's own bytecode, written ahead (an editable install has none, and where
# PYTHONDONTWRITEBYTECODE is set no gp2bm command writes it): every command, and every test
# that starts one, would compile each module it imports again. Only changed files are
# compiled again; a stale file is ignored by Python, never used.
bytecode: venv
	@$(BIN)/python -m compileall -q gp2bm

# The smoke suite end to end with the local runtime: 15 short real training runs, every
# MLPerf check, the score, then the reports (CSV, XLSX, HTML) under results/demo-report/.
# Resumes if results/demo exists (rm -rf results/demo to redo).
demo: venv bytecode
	$(BIN)/gp2bm run-all --suite manifests/smoke.yaml --runtime local --campaign results/demo \
		--allow-cache-drop-failure
	$(BIN)/gp2bm report results/demo --csv results/demo-report/results.csv \
		--xlsx results/demo-report/results.xlsx --html results/demo-report/report.html

# ruff over the tree, then mypy over gp2bm/ at the strictness pyproject.toml states
# ([tool.mypy]); make typecheck runs mypy alone.
lint: venv
	$(BIN)/ruff check gp2bm tests benchmarks containers
	$(BIN)/mypy

typecheck: venv
	$(BIN)/mypy

test-deps:
	@missing=""; for p in $(APT_TEST_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "test-deps: not root, not installing$$missing"; exit 0; fi; \
	echo "test-deps: installing$$missing"; \
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $$missing >/dev/null) \
	|| echo "test-deps: could not install$$missing (the tests that need them skip)"

test: lint test-deps bytecode
	$(BIN)/pytest -q

# The edit-test loop: every test but those that start a real engine (docker), a Slurm
# cluster (slurm), or run whole campaigns and other long work (slow); a few minutes.
test-fast: lint bytecode
	$(BIN)/pytest -q -m "not docker and not slurm and not slow"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
