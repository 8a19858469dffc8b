# The front door: `make run` and `make test` do all the set-up on a fresh machine.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MO     := $(patsubst %.po,%.mo,$(wildcard webapp/translations/*/LC_MESSAGES/messages.po))
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: install run demo test lint format bench translations messages clean

install: $(STAMP) $(MO)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@

translations: $(MO)

# Re-extract the UI strings and merge them into the Finnish and Swedish catalogues.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -o webapp/translations/messages.pot .
	$(BIN)/pybabel update -N -i webapp/translations/messages.pot -d webapp/translations

demo: install
	TALLENNE_DEMO=1 $(BIN)/tallenne demo

# Served by gunicorn as in production (gthread workers; no query strings in the access log).
run: demo
	@echo "Tallenne: http://$(HOST):$(PORT)  (stop with Ctrl-C)"
	TALLENNE_DEMO=1 TALLENNE_BIND=$(HOST):$(PORT) TALLENNE_WORKERS=2 \
		$(BIN)/gunicorn -c deploy/gunicorn.conf.py wsgi:app

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.calls_list
	$(BIN)/python -m bench.audit_chain
	$(BIN)/python -m bench.storage
	$(BIN)/python -m bench.streaming
	$(BIN)/python -m bench.imports
	$(BIN)/python -m bench.pbx_import
	$(BIN)/python -m bench.retention
	$(BIN)/python -m bench.customers
	$(BIN)/python -m bench.reviews

clean:
	rm -rf $(VENV) $(MO) .pytest_cache
