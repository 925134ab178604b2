# The two commands of a fresh machine: `make run` and `make test`.
# Everything else (the virtualenv, the package, a private Redis) is set up on demand.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test e2e bench clean venv speech-tools browser-tools

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip >/dev/null
	@$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

## The whole stack on embedded defaults: Redis (private if none answers), the
## FreeSWITCH simulator, the IVR runtime, dialer workers and the HTTP API.
run: venv
	@$(PY) -m api.stack

## The whole test suite (real Redis, SQLite and PostgreSQL when one answers).
test: venv speech-tools browser-tools
	@$(PY) -m pytest

## The speech tests' far ends talk with flite (Debian's package): installed when missing and we may (root, apt).
speech-tools:
	@command -v flite >/dev/null || command -v espeak-ng >/dev/null || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq flite; } >/dev/null 2>&1; } || \
	echo "note: flite is not installed (apt-get install flite): the speech tests will be skipped"

## The dashboard's browser tests drive Debian's chromium with its chromium-driver (selenium): installed when
## missing and we may (root, apt); otherwise those tests are skipped and say why.
browser-tools:
	@{ command -v chromium >/dev/null && command -v chromedriver >/dev/null; } || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } >/dev/null 2>&1; } || \
	echo "note: chromium and chromium-driver are not installed (apt-get install chromium chromium-driver): the dashboard's browser tests will be skipped"

## The end-to-end suite on a real FreeSWITCH (FREESWITCH_PREFIX=<its install prefix>) with sipp far ends.
## Without one it says so and succeeds: `make test` and CI never need a FreeSWITCH.
e2e: venv
	@if [ -z "$$FREESWITCH_PREFIX" ] || [ ! -x "$$FREESWITCH_PREFIX/bin/freeswitch" ] || ! command -v sipp >/dev/null; then \
		echo "skipped: no real FreeSWITCH (set FREESWITCH_PREFIX to its install prefix; sipp must be installed)"; \
	else $(PY) -m pytest -m e2e tests/e2e -p no:cacheprovider --timeout 600; fi

## The benchmarks under bench/; figures are printed and written to var/bench/.
## One of them: `.venv/bin/python -m bench predictive` (names as in bench/bench_<name>.py).
bench: venv
	@$(PY) -m bench

clean:
	rm -rf $(VENV) var build *.egg-info
