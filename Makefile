# Two commands set everything up on a fresh machine:
#   make run    install into .venv and a Chinese font (first time only) and start the app on its embedded defaults
#   make test   install the test extras, headless Chromium and a Chinese font (first time only) and run the tests
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
ARGS ?=
# Two workers on the two cores, whole files each, the browser test (the longest file) first (tests/conftest.py).
PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder

.PHONY: run test install install-dev chromium fonts bench clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed fonts
	$(PY) app.py $(ARGS)

# A font with Chinese glyphs, for the pictures the app draws and the browser's page in Simplified Chinese.
fonts:
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	  else echo "no font with Chinese glyphs (sudo apt-get install fonts-wqy-microhei): Chinese text would show as boxes"; fi; }

# The browser test drives Debian's Chromium (Playwright cannot download a browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed (sudo apt-get install chromium); the browser test will be skipped"; fi; }

test: $(VENV)/.installed-dev chromium fonts
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) bench/cold_start.py
	$(PY) bench/hub_transfer.py

clean:
	rm -rf $(VENV) .pytest_cache
