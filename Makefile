# The README's two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
PIP = $(PYTHON) -m pip
APT_PACKAGES = chromium texlive-latex-base texlive-latex-recommended texlive-latex-extra poppler-utils postgresql
# torch and torchvision first, pinned: they come from this machine's disk.
TORCH = torch==2.14.1 torchvision==0.29.1

.PHONY: install install-test system-packages demo test bench

install:
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e .

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

install-test: system-packages
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[test]'

demo: install
	$(PYTHON) -m p2p_eval demo  # not the console script: a fresh pyenv may not have its shim yet

test: install-test
	$(PYTHON) -m pytest -n 2 --dist loadgroup

bench: install
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PYTHON) $$b || exit 1; done
