# Each target creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test test-slow lint bench bench-quick schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/wardgraph serve --demo

# The suite a developer runs; the long runs (marked slow) are `make test-slow`, and CI runs both.
test: $(STAMP)
	$(BIN)/pytest -m "not slow"

test-slow: $(STAMP)
	$(BIN)/pytest -m slow

lint: $(STAMP)
	$(BIN)/ruff check wardgraph tests bench
	$(BIN)/mypy wardgraph

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

bench-quick: $(STAMP)
	$(BIN)/python bench/run_all.py --quick

schema: $(STAMP)
	$(BIN)/python -c "from wardgraph.schema import sdl; open('wardgraph/schema.graphql', 'w').write(sdl())"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
