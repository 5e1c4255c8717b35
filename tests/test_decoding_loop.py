"""The decoding loop on a real (tiny, random-weight) Llama: fast-forward, batching, KV cache,
sampling, stopping, special tokens."""

from __future__ import annotations

import re

import pytest
import torch

from structcall import compile_tools, parse_calls
from structcall.decoding import get_backend
from structcall.decoding.loop import Sequence, _sample, decode, iter_decode
from structcall.decoding.prompt import render_prompt
from structcall.decoding.vocab import stop_token_ids, tokenizer_info
from structcall.models import build_tiny_model
from structcall.schema import Limits
from tools_fixtures import function_tool, weather_tool

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOOLS = [
    weather_tool("Weather in a city.", required=("city", "unit"), days=True),
    function_tool("search_flights", {
        "origin": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "destination": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "nonstop": {"type": "boolean"}}, ["origin", "destination"], description="Flights between two airports."),
]
OPTS = {"max_calls": 3, "limits": Limits(max_string_length=24)}
PROMPTS = [
    "What's the weather in Paris, in celsius?",
    "Find me a flight from SFO to JFK, nonstop please, and also the weather in New York for 3 days.",
    "hi",
]


@pytest.fixture(scope="module")
def model64(tiny_model64):
    return tiny_model64


def _setup(tokenizer, model, backend, grammars, prompts):
    stop = stop_token_ids(tokenizer, model)
    info = tokenizer_info(tokenizer, stop)
    be = get_backend(backend, tokenizer, stop_ids=stop) if backend else None
    seqs = []
    for g, p in zip(grammars, prompts):
        ids = tokenizer(render_prompt(tokenizer, p, g), add_special_tokens=False)["input_ids"]
        seqs.append(Sequence(ids, matcher=be.matchers(g, 1)[0] if be else None))
    return info, seqs


@pytest.mark.parametrize("backend", ["llguidance", "outlines"])
@pytest.mark.parametrize("fmt", ["hermes", "json", "pythonic", "mistral"])
def test_fast_forward_matches_step_by_step_greedy(backend, fmt, tiny_tokenizer, model64):
    for choice in ("required", "search_flights"):
        g = compile_tools(TOOLS, format=fmt, tool_choice=choice, **OPTS)
        outs = {}
        for mode in ("chunk", "stepwise"):
            info, seqs = _setup(tiny_tokenizer, model64, backend, [g], PROMPTS[1:2])
            stats = decode(model64, tiny_tokenizer, info, seqs, max_new_tokens=300, fast_forward=mode)
            outs[mode] = (seqs[0], stats)
        (fast, fast_stats), (slow, slow_stats) = outs["chunk"], outs["stepwise"]
        assert fast.token_ids == slow.token_ids
        assert fast.forced == slow.forced > 0
        assert fast.finish == slow.finish and fast.finish in ("grammar", "eos")
        # one forward pass per sampled token instead of one per token
        assert fast_stats.forward_passes < slow_stats.forward_passes
        assert parse_calls(tiny_tokenizer.decode(fast.token_ids), g)


def test_forced_tokens_are_canonical(tiny_tokenizer, tiny_model):
    g = compile_tools(TOOLS, format="json", tool_choice="get_weather", **OPTS)
    info, seqs = _setup(tiny_tokenizer, tiny_model, "llguidance", [g], PROMPTS[:1])
    steps = list(iter_decode(tiny_model, tiny_tokenizer, info, seqs, max_new_tokens=100))
    # the envelope's first forced run (up to the first separator, where the model picks JSON's
    # spaced or compact style) is drafted as the tokenizer writes it; the model confirmed the
    # tokens it kept and replaced the first one it would not write (a random model may cross
    # the boundary); the forced runs after each separator are drafted too
    canonical = tiny_tokenizer.encode('{"name":', add_special_tokens=False)
    out = seqs[0].token_ids
    kept = next((k for k, (a, b) in enumerate(zip(out, canonical)) if a != b), len(canonical))
    assert kept >= len(canonical) - 1 and seqs[0].forced >= kept - 1
    text = info.decode_bytes(out).decode("utf-8", "replace")
    assert re.match(r'\{"name": ?"get_weather", ?"arguments": ?\{"city": ?"', text), text
    assert seqs[0].forced >= len(tiny_tokenizer.encode('"get_weather","arguments":{"city":', add_special_tokens=False)) // 2
    assert [t for _, toks in (x for step in steps for x in step) for t in toks] == seqs[0].token_ids


@pytest.mark.parametrize("backend", ["llguidance", "outlines"])
def test_batch_equals_one_by_one(backend, tiny_tokenizer, model64):
    """Different prompt lengths, grammars and forced-run lengths in one batch (left padding,
    masked holes in the KV cache, finished rows pruned) give each row's solo result."""
    grammars = [
        compile_tools(TOOLS, format="hermes", tool_choice="required", **OPTS),
        compile_tools(TOOLS, format="json", tool_choice="get_weather", parallel_tool_calls=False, **OPTS),
        compile_tools(TOOLS, format="pythonic", tool_choice="required", **OPTS),
    ]
    info, batch = _setup(tiny_tokenizer, model64, backend, grammars, PROMPTS)
    decode(model64, tiny_tokenizer, info, batch, max_new_tokens=150)
    for g, p, row in zip(grammars, PROMPTS, batch):
        info, solo = _setup(tiny_tokenizer, model64, backend, [g], [p])
        decode(model64, tiny_tokenizer, info, solo, max_new_tokens=150)
        assert row.token_ids == solo[0].token_ids
        assert row.finish == solo[0].finish


def test_batch_of_unconstrained_and_constrained_rows(tiny_tokenizer, model64):
    g = compile_tools(TOOLS, format="hermes", tool_choice="required", **OPTS)
    info, batch = _setup(tiny_tokenizer, model64, "llguidance", [g, g], PROMPTS[:2])
    batch[1].matcher = None  # the same prompt machinery, no grammar
    decode(model64, tiny_tokenizer, info, batch, max_new_tokens=40)
    info, solo = _setup(tiny_tokenizer, model64, None, [g], PROMPTS[1:2])
    decode(model64, tiny_tokenizer, info, solo, max_new_tokens=40)
    assert batch[1].token_ids == solo[0].token_ids
    assert batch[1].forced == 0


def test_sampling_is_seeded(tiny_tokenizer, tiny_model):
    g = compile_tools(TOOLS, format="json", tool_choice="required", **OPTS)

    def run(seed):
        info, seqs = _setup(tiny_tokenizer, tiny_model, "llguidance", [g], PROMPTS[:1])
        seqs[0].seed = seed
        decode(tiny_model, tiny_tokenizer, info, seqs, max_new_tokens=200, temperature=1.0, top_p=0.95)
        return seqs[0].token_ids

    assert run(7) == run(7)
    assert len({tuple(run(s)) for s in range(6)}) > 1


def test_sample_top_p_and_greedy():
    gen = torch.Generator().manual_seed(0)
    logits = torch.tensor([0.0, 3.0, 2.9, -1.0])
    assert _sample(logits, 0.0, 1.0, gen) == 1
    assert {_sample(logits, 1.0, 1e-6, gen) for _ in range(50)} == {1}  # nucleus of one token
    assert {_sample(logits, 1.0, 0.9, gen) for _ in range(200)} == {1, 2}  # the two big ones
    with pytest.raises(ValueError, match="top_p"):
        next(iter_decode(None, None, None, [], max_new_tokens=1, top_p=0.0))


def test_stops_at_max_new_tokens(tiny_tokenizer, tiny_model):
    g = compile_tools(TOOLS, format="hermes", tool_choice="required", **OPTS)
    info, seqs = _setup(tiny_tokenizer, tiny_model, "llguidance", [g], PROMPTS[:1])
    seqs.append(Sequence(list(seqs[0].prompt_ids)))  # and an unconstrained row
    decode(tiny_model, tiny_tokenizer, info, seqs, max_new_tokens=12, temperature=1.0)
    for s in seqs:
        assert len(s.token_ids) <= 12
    assert seqs[0].finish == "length" and len(seqs[0].token_ids) == 12
    assert seqs[1].finish in ("length", "eos")


def test_special_tokens_never_leak_under_constraints(tiny_tokenizer):
    """Push every special token's logit far up: constrained outputs still contain none
    (except that EOS may end the output), unconstrained ones are full of them."""
    model = build_tiny_model(tiny_tokenizer, hidden_size=64, num_hidden_layers=2, intermediate_size=128, seed=3)
    stop = stop_token_ids(tiny_tokenizer, model)
    info = tokenizer_info(tiny_tokenizer, stop)
    special = sorted(info.special_ids)

    def boost(module, inputs, output):
        output[..., special] += 40.0
        return output

    model.lm_head.register_forward_hook(boost)
    g = compile_tools(TOOLS, format="hermes", tool_choice="required", **OPTS)
    for backend in ("llguidance", "outlines"):
        info, seqs = _setup(tiny_tokenizer, model, backend, [g] * 3, PROMPTS)
        for k, s in enumerate(seqs):
            s.seed = k
        decode(model, tiny_tokenizer, info, seqs, max_new_tokens=300, temperature=1.0)
        for s in seqs:
            assert not set(s.token_ids) & info.special_ids
            assert s.finish in ("grammar", "eos")
            assert parse_calls(tiny_tokenizer.decode(s.token_ids), g)
    info, free = _setup(tiny_tokenizer, model, None, [g], PROMPTS[:1])
    free[0].seed = 0
    decode(model, tiny_tokenizer, info, free, max_new_tokens=10, temperature=1.0)
    assert free[0].finish == "eos" or set(free[0].token_ids) & info.special_ids
