.PHONY: help demo test lint lessons-check clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

demo:  ## README command 1: install what is missing and run the happy-path scenario
	scripts/demo

test:  ## README command 2: lint, type-check and run every test (what CI runs)
	scripts/test

lint:  ## ruff and mypy only
	scripts/bootstrap --dev && .venv/bin/ruff check kafkalab lessons tests scripts && .venv/bin/mypy

lessons-check:  ## validate every lesson folder against lessons.toml
	.venv/bin/kafkalab dev check

clean:  ## stop everything kafkalab started and delete the local data dir
	-.venv/bin/kafkalab down --all
	rm -rf .kafkalab
