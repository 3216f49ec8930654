# Two entry points for a fresh machine with only Python 3.11+ and pip: `make demo` and `make test`.
# Both install from requirements.lock (exact versions, with hashes), never from open ranges.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
# The lock's wheels, downloaded once: the install and the wheel test (tests/packaging) install
# from here with --no-index, so the tests themselves never reach the network.
WHEELHOUSE := $(VENV)/wheelhouse
# Three workers on the 2-core machines we run on: about a quarter of the suite waits (served
# sandboxes, kubectl, subprocesses), and a third worker fills it (195 s -> 177 s for pytest).
# `make test PYTEST_WORKERS=auto` on a larger machine.
PYTEST_WORKERS ?= 3

.PHONY: demo test lint typecheck unit bench lock mutate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The stamp makes a re-run skip the install unless the lock or pyproject.toml changed.
# eksup itself goes in editable and without build isolation: its build backend (hatchling) is
# in the lock too, so nothing unpinned is fetched.
$(VENV)/.installed: $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --require-hashes \
		--no-deps --dest $(WHEELHOUSE) -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-index \
		--find-links $(WHEELHOUSE) --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-index \
		--no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check --disable-pip-version-check
	touch $@

demo: $(VENV)/.installed
	$(BIN)/eksup demo

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# pytest's exit 5 means it collected no test: a failure here, named so nobody wonders.
# --dist loadfile: a file's tests share one worker, as some share a module-scoped world.
# Bytecode caches on even where the shell turns them off: each worker, and each `eksup` the
# tests start, would otherwise compile the project (and pytest re-rewrite every test module).
unit: $(VENV)/.installed
	env -u PYTHONDONTWRITEBYTECODE EKSUP_WHEELHOUSE=$(abspath $(WHEELHOUSE)) $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile \
		--durations=10; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no test: failing" >&2; fi; \
	exit $$status

test: lint typecheck unit

bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks

# Refresh the lock: the newest versions pyproject.toml's ranges allow, for every platform and
# Python >= 3.11 (uv's --universal), with hashes pip checks. Review the diff, run `make test`.
# `make lock UPGRADE=` keeps every existing pin and only adds what pyproject.toml gained.
UPGRADE ?= --upgrade
lock: $(VENV)/.installed
	UV_CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/uv pip compile pyproject.toml --extra test --extra sandbox --universal \
		--python-version 3.11 --generate-hashes --no-emit-package eksup $(UPGRADE) \
		--quiet --output-file $(LOCK)

# Mutation testing of the safety core (config: [tool.mutmut] in pyproject.toml). Not in CI:
# it costs minutes of CPU. MUTATE_JOBS bounds the worker processes on a shared machine.
MUTATE_JOBS ?= 2
mutate: $(VENV)/.installed
	rm -rf mutants
	$(BIN)/mutmut run --max-children $(MUTATE_JOBS)
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis dist mutants
