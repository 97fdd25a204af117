# The two commands a newcomer needs: `make serve` and `make test`. Both install what is missing first.
.PHONY: setup serve test lint bench

setup:
	./tools/setup.sh

# `demo` names on stderr any demo petition that missed its state and still succeeds: the service starts anyway.
serve: setup
	.venv/bin/petitionflow deploy workflows forms
	.venv/bin/petitionflow demo --if-empty
	.venv/bin/petitionflow serve

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# -n auto: a worker per core; every test has its own database (a SQLite file, a PostgreSQL schema) and port.
# worksteal: an idle worker takes queued tests from a busy one, so the few minute-long fuzz runs do not leave
# one worker finishing alone.
test: lint
	.venv/bin/python -m pytest -n auto --dist worksteal

bench: setup
	.venv/bin/python bench/engine.py
