# fairseq-xdomain: `make demo` and `make test` set everything up and run.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# Where torch comes from (README, "Install"):
#   TORCH=pinned  the CPU torch of requirements.txt, installed only where .venv has no torch or a
#                 +cpu one; any other torch in .venv (a CUDA build you put there) is kept
#   TORCH=system  a venv with --system-site-packages that uses $(PYTHON)'s own torch (a cluster's
#                 CUDA torch); never installs or replaces torch
# Default: system if .venv was made that way, else pinned.
TORCH  ?= $(if $(shell grep -s 'include-system-site-packages = true' $(VENV)/pyvenv.cfg),system,pinned)
REQS   := requirements.txt requirements-fairseq.txt setup.py
STAMP  := $(VENV)/.installed-$(TORCH)-$(shell cat $(REQS) | sha256sum | cut -c1-16)
SYSTEM_SITE := $(if $(filter system,$(TORCH)),--system-site-packages)

.PHONY: install bytecode test demo lint bench clean

install: $(STAMP)

# Installs or upgrades in place: a changed requirements file never wipes .venv.
$(STAMP): $(REQS)
	@case "$(TORCH)" in pinned|system) ;; \
	  *) echo "error: TORCH=$(TORCH): expected TORCH=pinned or TORCH=system" >&2; exit 2 ;; esac
	@if [ ! -x $(BIN)/python ]; then \
	  echo "==> creating $(VENV) with $(PYTHON) $(SYSTEM_SITE)"; \
	  $(PYTHON) -m venv $(SYSTEM_SITE) $(VENV) || exit 2; \
	elif [ "$(TORCH)" = system ] && ! grep -q 'include-system-site-packages = true' $(VENV)/pyvenv.cfg; then \
	  echo "error: $(VENV) was made without system site packages: for TORCH=system remove it first (rm -rf $(VENV))" >&2; exit 2; \
	fi
	@echo "==> installing the pinned set into $(VENV) (TORCH=$(TORCH))"
	$(BIN)/pip install --quiet --upgrade pip
	@torch=$$($(BIN)/python -c 'import torch; print(torch.__version__)' 2>/dev/null); \
	if [ "$(TORCH)" = system ] && [ -z "$$torch" ]; then \
	  echo "error: TORCH=system: $(PYTHON) has no torch (load your cluster's PyTorch first)" >&2; exit 2; \
	elif [ -n "$$torch" ] && { [ "$(TORCH)" = system ] || [ "$${torch%+cpu}" = "$$torch" ]; }; then \
	  echo "==> keeping torch $$torch (not replaced)"; \
	  grep -v '^torch==' requirements.txt > $(VENV)/requirements-deps.txt; \
	else cp requirements.txt $(VENV)/requirements-deps.txt; fi
	$(BIN)/pip install --quiet -r $(VENV)/requirements-deps.txt
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements-fairseq.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -c "import fairseq, fasttext, faiss, sentencepiece, sacremoses, pymorphy3, sklearn, sacrebleu, torch; import fairseq_xdomain, fairseq_xdomain.preprocess.cli; print('==> torch', torch.__version__, 'cuda', torch.cuda.is_available())"
	rm -f $(VENV)/.installed-*
	touch $@
	@echo "==> $(VENV) ready"

# Bytecode of this source tree, for every process the suite and the demo start: pip compiles what
# it installs, not an editable tree, and where PYTHONDONTWRITEBYTECODE is set (as on some CI and
# build machines) each process would compile the package's modules again (~0.25 CPU-s per
# fairseq-train). Only changed files are recompiled; a stale .pyc is never used (mtime check).
bytecode: install
	@$(BIN)/python -m compileall -q fairseq_xdomain bench

# The suite runs its test files on TEST_JOBS processes (pytest-xdist; a file's tests stay together,
# so a module's fixture is built once), the most expensive files first (tests/conftest.py,
# HEAVIEST_FIRST), one thread each: on 2 cores about 13 min (the suite is CPU-bound: both cores
# busy throughout; docs/lab-notes.md, "What the test suite costs").
TEST_JOBS ?= 2
test: lint bytecode
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder tests

demo: install bytecode
	$(BIN)/python -m fairseq_xdomain.demo

# ruff, then the import rules of docs/design.md ("Import rules": the contracts in pyproject.toml);
# a broken contract exits non-zero. `make test` runs this first.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache --no-logo

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) build *.egg-info demo_out
