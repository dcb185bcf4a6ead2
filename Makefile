# Every target builds .venv when it is missing, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

NODE_STAMP := node_modules/.installed

.PHONY: demo test lint bench run clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The board's map library (Leaflet), from the npm registry as package-lock.json pins it.
# Without npm the board still works: its map falls back to a list.
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $(NODE_STAMP); \
	else \
		echo "npm not found: the board's map will show a list (install Node.js and npm for Leaflet)"; \
	fi

# Debian's Chromium and its WebDriver, for the board's browser tests (tests/browser).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || [ ! -d /usr/share/fonts/truetype/noto ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-color-emoji) \
			|| echo "could not install chromium (root needed): the browser tests will be skipped"; \
	fi

demo: $(STAMP) $(NODE_STAMP)
	$(BIN)/dispatchbot demo

lint: $(STAMP)
	$(BIN)/ruff check bot handlers storage sandbox tests
	$(BIN)/ruff format --check bot handlers storage sandbox tests
	$(BIN)/mypy
	$(BIN)/lint-imports

# The tests' databases live in memory-backed /dev/shm where there is one: every SQLite
# commit is flushed to the disk (synchronous=FULL), which the tests do not need to wait for.
TEST_TMP := $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm)

test: lint $(NODE_STAMP) browser
	$(if $(TEST_TMP),TMPDIR=$(TEST_TMP) )$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m tests.bench_speed
	$(BIN)/python -m tests.bench
	$(BIN)/python -m tests.bench_import
	$(BIN)/python -m tests.bench_delivery
	$(BIN)/python -m tests.bench_find

run: $(STAMP) $(NODE_STAMP)
	$(BIN)/dispatchbot run

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
