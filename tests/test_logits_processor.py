"""``ToolLogitsProcessor``: structcall's grammar mask as a transformers ``LogitsProcessor``,
checked against ``structcall.generate(..., fast_forward=False)`` (same grammar, prompt and
sampling) on the tiny model and on the real SmolLM2-135M-Instruct."""

from __future__ import annotations

import pytest
import torch

from structcall import ToolLogitsProcessor, compile_tools, parse_calls
from structcall.decoding import generate, generate_batch
from structcall.decoding.prompt import render_prompt
from structcall.models import build_tiny_model
from structcall.schema import Limits
from tools_fixtures import ADD, weather_tool

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOOLS = [weather_tool("Weather in a city."), ADD]
OPTS = {"max_calls": 2, "limits": Limits(max_string_length=20, max_number_digits=6)}
ASK = [[{"role": "user", "content": "What's the weather in Paris? Also add 2 and 3."}],
       [{"role": "user", "content": "hi"}]]


def _hf(model, tokenizer, processor, grammar, messages, *, sample, max_new_tokens):
    prompt = render_prompt(tokenizer, messages, grammar)
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    out = model.generate(**ids, logits_processor=[processor], max_new_tokens=max_new_tokens, do_sample=sample,
                         temperature=0.9 if sample else None, top_k=None, top_p=None,
                         pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.parametrize("backend", ["llguidance", "outlines", "xgrammar"])
def test_equals_generate_without_fast_forward(backend, tiny_tokenizer, tiny_model64):
    for fmt, choice in (("hermes", "auto"), ("json", "required")):
        g = compile_tools(TOOLS, format=fmt, tool_choice=choice, **OPTS)
        p = ToolLogitsProcessor(g, tiny_tokenizer, backend=backend, model=tiny_model64)  # reused for every call
        for messages in ASK:
            for sample, seed in ((False, 0), (True, 1), (True, 2)):
                torch.manual_seed(seed)
                text = _hf(tiny_model64, tiny_tokenizer, p, g, messages, sample=sample, max_new_tokens=80)
                torch.manual_seed(seed)  # generate(seed=None) samples from torch's global generator
                ref = generate(tiny_model64, tiny_tokenizer, messages, TOOLS, format=fmt, tool_choice=choice,
                               backend=backend, fast_forward=False, temperature=0.9 if sample else 0.0,
                               max_new_tokens=80, **OPTS)
                assert text == ref.text, (fmt, choice, messages, sample, seed)


def test_one_matcher_per_row_in_a_padded_batch(tiny_tokenizer, tiny_model64):
    g = compile_tools(TOOLS, format="hermes", tool_choice="required", **OPTS)
    p = ToolLogitsProcessor(g, tiny_tokenizer)
    prompts = [render_prompt(tiny_tokenizer, m, g) for m in ASK]
    tiny_tokenizer.padding_side = "left"
    try:
        batch = tiny_tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tiny_tokenizer.padding_side = "right"
    out = tiny_model64.generate(**batch, logits_processor=[p], max_new_tokens=60, do_sample=False,
                                pad_token_id=tiny_tokenizer.pad_token_id)
    texts = tiny_tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    ref = generate_batch(tiny_model64, tiny_tokenizer, ASK, TOOLS, tool_choice="required", fast_forward=False,
                         max_new_tokens=60, **OPTS)
    assert texts == [r.text for r in ref]
    # and the same processor serves a following single call from scratch
    assert _hf(tiny_model64, tiny_tokenizer, p, g, ASK[1], sample=False, max_new_tokens=60) == ref[1].text


def test_eos_only_once_the_output_is_complete(tiny_tokenizer):
    """A model that always wants to stop still writes a complete call, then stops."""
    model = build_tiny_model(tiny_tokenizer, hidden_size=64, num_hidden_layers=2, intermediate_size=128, seed=3)
    eos = tiny_tokenizer.eos_token_id

    def want_eos(module, inputs, output):
        output[..., eos] += 50.0
        return output

    hook = model.lm_head.register_forward_hook(want_eos)
    try:
        g = compile_tools(TOOLS, format="hermes", tool_choice="required", **OPTS)
        p = ToolLogitsProcessor(g, tiny_tokenizer)
        text = _hf(model, tiny_tokenizer, p, g, ASK[0], sample=False, max_new_tokens=120)
    finally:
        hook.remove()
    calls = parse_calls(text, g)
    assert len(calls) == 1
    # unconstrained, the same model stops at once
    ids = tiny_tokenizer(render_prompt(tiny_tokenizer, ASK[0], g), return_tensors="pt", add_special_tokens=False)
    hook = model.lm_head.register_forward_hook(want_eos)
    try:
        free = model.generate(**ids, max_new_tokens=5, do_sample=False, pad_token_id=tiny_tokenizer.pad_token_id)
    finally:
        hook.remove()
    assert free.shape[1] == ids["input_ids"].shape[1] + 1


def test_a_processor_run_after_it_cannot_sneak_in_a_token(tiny_tokenizer, tiny_model):
    g = compile_tools(TOOLS, format="json", tool_choice="required", **OPTS)
    p = ToolLogitsProcessor(g, tiny_tokenizer)
    bad = tiny_tokenizer.encode("zzz", add_special_tokens=False)[0]

    def force_bad(input_ids, scores):
        scores[:, :] = float("-inf")
        scores[:, bad] = 0.0
        return scores

    ids = tiny_tokenizer(render_prompt(tiny_tokenizer, ASK[0], g), return_tensors="pt", add_special_tokens=False)
    with pytest.raises(Exception, match="rejected token"):
        tiny_model.generate(**ids, logits_processor=[p, force_bad], max_new_tokens=5, do_sample=False,
                            pad_token_id=tiny_tokenizer.pad_token_id)


@pytest.mark.slow
@pytest.mark.smollm2
def test_smollm2_equals_generate_without_fast_forward(smollm2):
    model, tok = smollm2
    g = compile_tools(TOOLS, tool_choice="required", format="hermes", **OPTS)
    p = ToolLogitsProcessor(g, tok, model=model)
    for messages in ASK:
        text = _hf(model, tok, p, g, messages, sample=False, max_new_tokens=48)
        ref = generate(model, tok, messages, TOOLS, tool_choice="required", format="hermes", fast_forward=False,
                       max_new_tokens=48, **OPTS)
        assert text == ref.text
        assert ref.tool_calls


def test_docs_example_runs():
    import contextlib
    import io
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "generate.md").read_text(encoding="utf-8")
    section = text[text.index("## With transformers `model.generate`: `ToolLogitsProcessor`"):]
    code = section[section.index("```python") + 9: section.index("```", section.index("```python") + 9)]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "docs/generate.md", "exec"), {"__name__": "docs"})  # noqa: S102 - our own docs
    assert buf.getvalue().strip() == "get_weather"
