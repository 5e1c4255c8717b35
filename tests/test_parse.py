"""parse_calls: structured errors, lenient repairs, and fuzzing (it returns calls or raises
ToolCallError - nothing else - on any input)."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from structcall import ToolCallError, compile_tools, parse_calls
from structcall.errors import ERROR_KINDS
from structcall.formats import FORMATS
from structcall.parse import parse_output
from structcall.render import render_calls
from tools_fixtures import DAYS, function_tool, expressible

TOOLS = [
    function_tool("get_weather", {
        "city": {"type": "string", "minLength": 1}, "unit": {"enum": ["celsius", "fahrenheit"]}, "days": DAYS},
        ["city"], additionalProperties=False),
    function_tool("send_email", {
        "to": {"type": "string", "format": "email"}, "body": {"type": "string"}, "cc": {"type": "array", "items": {"type": "string"}}},
        ["to", "body"]),
]


def err(text, fmt="json", **kw) -> ToolCallError:
    with pytest.raises(ToolCallError) as ei:
        parse_calls(text, TOOLS, format=fmt, **kw)
    e = ei.value
    assert e.kind in ERROR_KINDS
    assert e.feedback.endswith("Fix the errors and try again.")
    return e


def test_valid_calls_every_format():
    calls = [("get_weather", {"city": "Paris", "days": 3}), ("send_email", {"to": "a@b.co", "body": "hi", "cc": ["x"]})]
    for fmt in FORMATS:
        text = render_calls(calls, fmt, tools=TOOLS)
        got = parse_calls(text, TOOLS, format=fmt)
        assert [(c.name, c.arguments) for c in got] == calls
        assert all(c.id.startswith("call_") for c in got) and len({c.id for c in got}) == 2
        oa = got[0].to_openai()
        assert oa["type"] == "function" and json.loads(oa["function"]["arguments"]) == {"city": "Paris", "days": 3}


def test_plain_text_is_no_call():
    assert parse_calls("It is sunny.", TOOLS, format="hermes") == []
    assert parse_output("Hello", TOOLS, format="json").content == "Hello"
    e = err("It is sunny.", tool_choice="required")
    assert e.kind == "no_call"


def test_error_kinds_and_pointers():
    assert err('{"name": "get_weather", "arguments": {"city": "Paris"').kind == "parse"
    e = err('{"name": "get_wether", "arguments": {}}')
    assert (e.kind, e.pointer) == ("unknown_tool", "/0/name") and "Did you mean 'get_weather'" in e.message
    e = err('{"name": "get_weather", "arguments": {"city": "Paris", "color": "red"}}')
    assert (e.kind, e.pointer) == ("unknown_argument", "/0/arguments/color")
    e = err('{"name": "get_weather", "arguments": {"unit": "celsius"}}')
    assert (e.kind, e.pointer) == ("missing_argument", "/0/arguments/city")
    e = err('{"name": "get_weather", "arguments": {"city": 3}}')
    assert (e.kind, e.pointer) == ("type", "/0/arguments/city")
    e = err('{"name": "get_weather", "arguments": {"city": "Paris", "days": 40}}')
    assert (e.kind, e.pointer) == ("value", "/0/arguments/days")
    e = err('{"name": "send_email", "arguments": {"to": "nobody", "body": "x"}}')
    assert (e.kind, e.pointer) == ("value", "/0/arguments/to")
    e = err('[{"name": "get_weather", "arguments": {"city": "A"}}, {"name": "get_weather", "arguments": {"city": "B"}}]', parallel_tool_calls=False)
    assert e.kind == "count"
    e = err('{"name": "get_weather", "arguments": {"city": "A"}}', tool_choice="none")
    assert e.kind == "count"
    e = err('{"name": "get_weather", "arguments": {"city": "A"}}', tool_choice="send_email")
    assert e.kind == "unknown_tool"
    e = err('[{"name": "get_weather", "arguments": {"city": "A"}}, {"name": "get_weather", "arguments": {"city": "B"}}]', tool_choice="get_weather")
    assert e.kind == "count"


def test_all_errors_collected_and_feedback_is_deterministic():
    text = '[{"name": "get_weather", "arguments": {"days": 0, "x": 1}}, {"name": "nope", "arguments": {}}]'
    e1, e2 = err(text), err(text)
    assert e1.feedback == e2.feedback
    kinds = sorted(k for k, _, _ in e1.errors)
    assert kinds == sorted(["unknown_argument", "missing_argument", "value", "unknown_tool"])
    assert e1.feedback.startswith("4 errors in your tool calls:")


def test_hermes_envelope_errors():
    ok = "<tool_call>\n" + json.dumps({"name": "get_weather", "arguments": {"city": "A"}}) + "\n</tool_call>"
    assert parse_output("Checking. " + ok, TOOLS, format="hermes").content == "Checking. "
    assert err(ok + " done", "hermes").kind == "parse"
    assert err(ok[: -len("</tool_call>")], "hermes").kind == "parse"
    (c,) = parse_calls(ok + " done", TOOLS, format="hermes", lenient=True)
    assert "dropped text after the call" in c.repairs


def test_hermes_closing_tag_inside_a_string_argument():
    args = {"to": "a@b.co", "body": "write </tool_call> literally, then <tool_call> too"}
    text = render_calls([("send_email", args)], "hermes", tools=TOOLS)
    g = compile_tools(TOOLS, format="hermes")
    assert g.accepts(text)
    (c,) = parse_calls(text, g)
    assert c.arguments == args


def test_lone_surrogates_stay_valid_utf8():
    (c,) = parse_calls('{"name": "send_email", "arguments": {"to": "a@b.co", "body": "\\udaf3"}}', TOOLS, format="json")
    out = c.to_openai()["function"]["arguments"]
    out.encode("utf-8")
    assert json.loads(out) == c.arguments


def test_pythonic_is_never_evaluated():
    for text in ['[get_weather(city=__import__("os").system("echo pwned"))]', '[get_weather(city="a" + "b")]', "[get_weather(city=open('/etc/passwd').read())]"]:
        assert err(text, "pythonic").kind == "parse"
    assert err('[get_weather("Paris")]', "pythonic").kind == "parse"
    (c,) = parse_calls('[get_weather(city="Paris", unit="celsius")]', TOOLS, format="pythonic")
    assert c.arguments == {"city": "Paris", "unit": "celsius"}


@pytest.mark.parametrize("text,repair", [
    ('```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```', "removed a code fence"),
    ('{"name": "get_weather", "arguments": {"city": "Paris"}} Hope this helps!', "dropped text after the call"),
    ("{'name': 'get_weather', 'arguments': {'city': 'Paris',}}", "read Python-style literals"),
    ('{"name": "get_weather", "arguments": {"city": "Paris", "days": None}}', "read Python-style literals"),
    ('{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}', "decoded arguments given as a JSON string"),
    ('\n{"name": "get_weather", "arguments": {"city": "Paris"}}', "removed whitespace before the call"),
])
def test_lenient_repairs_are_recorded(text, repair):
    if "None" in text:
        # None -> null, which then fails validation as a value: repaired parse, honest error
        with pytest.raises(ToolCallError) as ei:
            parse_calls(text, TOOLS, format="json", lenient=True)
        assert ei.value.kind == "type"
        return
    try:  # strict: an error, or (for a fenced call, which does not start with "{") plain text
        assert parse_calls(text, TOOLS, format="json") == [] and text.startswith("```")
    except ToolCallError:
        pass
    (c,) = parse_calls(text, TOOLS, format="json", lenient=True)
    assert c.arguments == {"city": "Paris"}
    assert any(r.startswith(repair) for r in c.repairs), c.repairs


def test_parse_accepts_a_toolgrammar():
    g = compile_tools(TOOLS, format="pythonic", tool_choice="required", parallel_tool_calls=False)
    (c,) = parse_calls('[get_weather(city="A")]', g)
    assert c.name == "get_weather"
    with pytest.raises(ToolCallError) as ei:
        parse_calls('[get_weather(city="A"), get_weather(city="B")]', g)
    assert ei.value.kind == "count"


# ------------------------------------------------------------------------------------ fuzzing
def _mutations(text: str, rng: random.Random):
    ops = [
        lambda s, i: s[:i] + s[i + 1:],
        lambda s, i: s[:i] + rng.choice('{}[]",:\\ \n\'0aTN<>/') + s[i:],
        lambda s, i: s[:i] + rng.choice('{}[]",:\\') + s[i + 1:],
        lambda s, i: s[:i],
        lambda s, i: s[:i] + s[i:][::-1],
        lambda s, i: s + s[i:],
    ]
    for _ in range(25):
        i = rng.randrange(len(text) + 1)
        yield rng.choice(ops)(text, i)


def _only_calls_or_toolcallerror(text, fmt, lenient):
    try:
        out = parse_calls(text, TOOLS, format=fmt, lenient=lenient)
    except ToolCallError as e:
        assert e.kind in ERROR_KINDS
        return
    assert isinstance(out, list)
    for c in out:
        assert c.name in ("get_weather", "send_email") and isinstance(c.arguments, dict)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300), fmt=st.sampled_from(FORMATS), lenient=st.booleans())
def test_fuzz_arbitrary_text(text, fmt, lenient):
    _only_calls_or_toolcallerror(text, fmt, lenient)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10**9), fmt=st.sampled_from(FORMATS), lenient=st.booleans())
def test_fuzz_near_miss_mutations(seed, fmt, lenient):
    rng = random.Random(seed)
    calls = [("get_weather", {"city": "Paris", "unit": "celsius"}), ("send_email", {"to": "a@b.co", "body": 'say "hi"\n', "cc": []})]
    text = render_calls(calls[: rng.randint(1, 2)], fmt, tools=TOOLS)
    g = compile_tools(expressible(TOOLS, fmt), format=fmt)  # FunctionGemma: send_email's list is rejected
    for m in _mutations(text, rng):
        _only_calls_or_toolcallerror(m, fmt, lenient)
        # soundness on near misses: whatever the grammar accepts, the strict parser validates
        if g.accepts(m):
            parse_calls(m, g)


def test_fuzz_pathological_inputs():
    for text in ["[" * 5000, "{" * 5000 + "}" * 5000, "<tool_call>" * 200, "\x00\ud800", "[TOOL_CALLS]" + "[" * 3000, '{"name": ' * 2000]:
        for fmt in FORMATS:
            for lenient in (False, True):
                _only_calls_or_toolcallerror(text, fmt, lenient)
