# fairseq-xdomain: `make demo` and `make test` set everything up and run.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha256sum requirements.txt setup.py | sha256sum | cut -c1-16)

.PHONY: install test test-fast demo lint bench clean

install: $(STAMP)

$(STAMP): requirements.txt setup.py
	@echo "==> building $(VENV) (Python 3.11, pinned set from requirements.txt)"
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	grep -v '^ve-fairseq' requirements.txt > $(VENV)/requirements-deps.txt
	$(BIN)/pip install --quiet -r $(VENV)/requirements-deps.txt
	grep '^ve-fairseq' requirements.txt > $(VENV)/requirements-fairseq.txt
	$(BIN)/pip install --quiet --no-deps --require-hashes -r $(VENV)/requirements-fairseq.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -c "import fairseq, fasttext, faiss, sentencepiece, sacremoses, pymorphy3, sklearn, sacrebleu; import fairseq_xdomain, preprocess"
	touch $@
	@echo "==> $(VENV) ready"

test: install
	$(BIN)/python -m pytest -q tests

demo: install
	$(BIN)/python -m fairseq_xdomain.demo

lint: install
	$(BIN)/ruff check .

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) build *.egg-info demo_out
