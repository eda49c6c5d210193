# nurture: the commands the README names.
.PHONY: run test install lock services lint typecheck check clean bench soak

run: install          ## run nurture on the embedded default (API, worker, scheduler)
	.venv/bin/nurture run

test:                 ## install, start Redis/PostgreSQL if needed, run the whole test suite
	scripts/test.sh

install:              ## .venv with nurture and its dev tools, at the versions of uv.lock
	scripts/install.sh

lock:                 ## after changing dependencies in pyproject.toml: resolve uv.lock again
	scripts/install.sh || true
	.tools/bin/uv lock

services:             ## start Redis and PostgreSQL for the tests if they are not running
	bash -c '. scripts/services.sh'

lint: install         ## ruff, and the import-linter contract: layers in flow order, no cycles
	.venv/bin/ruff check nurture tests bench
	.venv/bin/ruff format --check nurture tests bench
	.venv/bin/lint-imports

typecheck: install
	.venv/bin/mypy

check: lint typecheck test

bench: install        ## benchmarks on Redis, PostgreSQL and real workers: make bench [ONLY=sdk,render] [REPEAT=3] [N=2000]
	bash -c '. scripts/services.sh && .venv/bin/python -m bench $(if $(ONLY),--only $(ONLY)) $(if $(REPEAT),--repeat $(REPEAT)) $(if $(N),--sdk-messages $(N))'

soak: install         ## nurture run for 10 minutes under steady use: make soak [SOAK_S=600]
	NURTURE_SOAK=1 $(if $(SOAK_S),NURTURE_SOAK_S=$(SOAK_S)) .venv/bin/python -m pytest tests/soak -m soak -s -p no:cacheprovider

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
