"""`CallSplitter`: the incremental scanner that finds each call as it closes in a growing
output (streaming, and outputs cut by the token limit). No model needed.

The splitter's contract, checked for every format it supports:

* the pieces it returns do not depend on how the output arrives: fed whole, fed with one cut
  at every character position, or fed in random chunks, it returns the same pieces;
* each piece is one complete call in the same format, which the core parser reads as exactly
  that call (values may hold brackets, quotes, escapes and the envelope's own text);
* a cut output returns the calls completed before the cut, in order, and never a call that is
  not in the output;
* text before the calls (where the format allows it) is not a call, and marks where the call
  section starts.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from structcall import parse_calls
from structcall.formats import FORMATS, load_format
from structcall.render import render_calls
from structcall.split import CallSplitter
from tools_fixtures import SEARCH, WEATHER

TOOLS = [WEATHER, SEARCH]

# Real outputs as the families write them (copied from vLLM's parser tests, chat templates and
# model cards, with the tools renamed to the ones above): (format, output, calls in order).
REAL = [
    ("hermes", 'Sure, let me check the weather.<tool_call>{"name": "get_weather", "arguments": {"city": "NYC"}}</tool_call>',
     [("get_weather", {"city": "NYC"})]),
    ("hermes", '<tool_call>{"name": "search", "arguments": {"q": "cats"}}</tool_call>'
               '<tool_call>{"name": "search", "arguments": {"q": "dogs"}}</tool_call>',
     [("search", {"q": "cats"}), ("search", {"q": "dogs"})]),
    ("hermes", '<think>hmm</think>\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}'
               '\n</tool_call>\n',
     [("get_weather", {"city": "Paris", "unit": "celsius"})]),
    ("smollm2", '<tool_call>[\n{"name": "search", "arguments": {"q": "value1"}}\n]</tool_call>', [("search", {"q": "value1"})]),
    ("mistral", '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}},{"name": "search", "arguments": {"q": "x"}}]',
     [("get_weather", {"city": "Paris"}), ("search", {"q": "x"})]),
    ("pythonic", '[get_weather(city="Paris"),\nsearch(q="dogs")]', [("get_weather", {"city": "Paris"}), ("search", {"q": "dogs"})]),
    ("pythonic", "[get_weather(city='Par\\'is (north)')]", [("get_weather", {"city": "Par'is (north)"})]),
    ("llama3_json", '{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "search", "parameters": {"q": "test"}}',
     [("get_weather", {"city": "Paris"}), ("search", {"q": "test"})]),
    ("json", '[{"name": "get_weather", "arguments": {"city": "Paris"}},\n {"name": "search", "arguments": {"q": "x"}}]',
     [("get_weather", {"city": "Paris"}), ("search", {"q": "x"})]),
    ("json", '{"name": "search", "arguments": {"q": "{[(\\"a\\")]}"}}', [("search", {"q": '{[("a")]}'})]),
    ("deepseek_v3", "Let me look.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>search\n```json\n"
                    "{\"q\": \"x\"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
                    "```json\n{\"city\": \"Rome\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
     [("search", {"q": "x"}), ("get_weather", {"city": "Rome"})]),
    ("deepseek_v31", 'CONTENT<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>search<｜tool▁sep｜>{"q": "Paris"}<｜tool▁call▁end｜>'
                     '<｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "Paris"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
     [("search", {"q": "Paris"}), ("get_weather", {"city": "Paris"})]),
    ("harmony", '<|channel|>analysis<|message|>User wants weather.<|end|><|start|>assistant'
                '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>',
     [("get_weather", {"city": "Paris"})]),
    ("qwen3_coder", "<tool_call>\n<function=search>\n<parameter=q>\nline one\nline two\n</parameter>\n</function>\n</tool_call>\n"
                    "<tool_call>\n<function=get_weather>\n<parameter=city>\nRome\n</parameter>\n</function>\n</tool_call>",
     [("search", {"q": "line one\nline two"}), ("get_weather", {"city": "Rome"})]),
    ("functiongemma", "<start_function_call>call:get_weather{city:<escape>London, {UK}<escape>}<end_function_call>"
                      "<start_function_call>call:search{q:<escape>UTC<escape>}<end_function_call>",
     [("get_weather", {"city": "London, {UK}"}), ("search", {"q": "UTC"})]),
    ("kimi_k2", "Compare weather. <|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0 "
                '<|tool_call_argument_begin|>{"city": "Beijing"}<|tool_call_end|><|tool_call_begin|>functions.get_weather:1 '
                '<|tool_call_argument_begin|>{"city": "Shanghai"}<|tool_call_end|><|tool_calls_section_end|>',
     [("get_weather", {"city": "Beijing"}), ("get_weather", {"city": "Shanghai"})]),
    ("glm", "I will help you get the weather.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Beijing</arg_value>\n"
            "</tool_call>\n<tool_call>search\n<arg_key>q</arg_key>\n<arg_value>a {b} [c]</arg_value>\n</tool_call>",
     [("get_weather", {"city": "Beijing"}), ("search", {"q": "a {b} [c]"})]),
    ("minimax_m2", '<minimax:tool_call><invoke name="search"><parameter name="q">OpenAI</parameter></invoke>'
                   '<invoke name="search"><parameter name="q">Gemini</parameter></invoke></minimax:tool_call>',
     [("search", {"q": "OpenAI"}), ("search", {"q": "Gemini"})]),
    ("deepseek_v32", '<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="city" string="true">SF'
                     '</｜DSML｜parameter>\n</｜DSML｜invoke>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="city" '
                     'string="true">NYC</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>',
     [("get_weather", {"city": "SF"}), ("get_weather", {"city": "NYC"})]),
]


def _whole(fmt, text):
    sp = CallSplitter(fmt)
    return sp, sp.feed(text)


def _chunked(fmt, text, cuts):
    """Feed `text` growing through the (sorted) cut positions, then whole."""
    sp = CallSplitter(fmt)
    pieces = []
    for k in list(cuts) + [len(text)]:
        pieces += sp.feed(text[:k])
    return sp, pieces


def _parsed(fmt, pieces):
    out = []
    for p in pieces:
        calls = parse_calls(p, TOOLS, format=fmt)
        assert len(calls) == 1, (fmt, p)  # a piece is exactly one complete call
        out.append((calls[0].name, calls[0].arguments))
    return out


def test_every_format_has_a_real_output():
    assert {f for f, _, _ in REAL} == set(FORMATS)


@pytest.mark.parametrize("fmt,text,calls", REAL, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(REAL)])
def test_real_output_split_at_every_position(fmt, text, calls):
    sp, whole = _whole(fmt, text)
    assert _parsed(fmt, whole) == calls
    assert len(sp.ends) == len(calls) and sp.ends == sorted(sp.ends) and sp.ends[-1] <= len(text)
    assert sp.complete_end == sp.ends[-1]
    assert not sp.in_call
    trigger = load_format(fmt).trigger
    assert sp.section_start == (text.find(trigger) if trigger else 0)
    for k in range(len(text) + 1):
        _, pieces = _chunked(fmt, text, [k])
        assert pieces == whole, (k, text[:k])


@pytest.mark.parametrize("fmt,text,calls", REAL, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(REAL)])
def test_real_output_fed_in_random_chunks(fmt, text, calls):
    _, whole = _whole(fmt, text)
    rng = random.Random(len(text))
    for _ in range(60):
        cuts = sorted(rng.sample(range(len(text) + 1), rng.randint(1, min(12, len(text)))))
        assert _chunked(fmt, text, cuts)[1] == whole, cuts
    # one character at a time, as a streaming detokenizer may deliver it
    assert _chunked(fmt, text, range(len(text)))[1] == whole


@pytest.mark.parametrize("fmt,text,calls", REAL, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(REAL)])
def test_cut_output_keeps_the_calls_completed_before_the_cut(fmt, text, calls):
    _, whole = _whole(fmt, text)
    ends = CallSplitter(fmt)
    ends.feed(text)
    seen, first = 0, None
    for k in range(len(text) + 1):
        sp, pieces = _whole(fmt, text[:k])
        assert pieces == whole[: len(pieces)], text[:k]  # a prefix of the calls, never another one
        assert len(pieces) >= seen, text[:k]  # a longer output never has fewer complete calls
        seen = len(pieces)
        assert len(pieces) >= sum(e <= k for e in ends.ends), text[:k]
        assert sp.complete_end <= k
        if pieces and first is None:
            first = k
    # just before the first call completes: no call yet, the output ends inside one, and the
    # section start is already known
    sp, pieces = _whole(fmt, text[: first - 1])
    assert pieces == [] and sp.in_call, text[: first - 1]
    assert sp.section_start == ends.section_start


@pytest.mark.parametrize("fmt", FORMATS)
def test_plain_text_is_not_a_call(fmt):
    for text in ("The weather is nice today.", "I can't help with that (sorry) [really] {ok}.", ""):
        sp, pieces = _whole(fmt, text)
        assert pieces == [] and sp.ends == [] and sp.complete_end == 0, text
        assert not sp.in_call
        if load_format(fmt).trigger:
            assert sp.section_start is None


@pytest.mark.parametrize("fmt", [f for f in FORMATS if load_format(f).text_before_call])
def test_text_before_the_calls_marks_the_section_start(fmt):
    calls = [("get_weather", {"city": "Paris"}), ("search", {"q": "x"})]
    if load_format(fmt).single_call:
        calls = calls[:1]
    body = render_calls(calls, fmt, tools=TOOLS)
    content = "Let me check (in {celsius}) [first]: "
    text = content + body
    sp, pieces = _whole(fmt, text)
    assert _parsed(fmt, pieces) == calls
    assert sp.section_start == len(content)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if not load_format(f).trigger])
def test_text_before_the_calls_ends_a_format_whose_calls_start_the_output(fmt):
    body = render_calls([("search", {"q": "x"})], fmt, tools=TOOLS)
    sp, pieces = _whole(fmt, "Sure. " + body)
    assert pieces == [] and sp.section_start is None


def test_feed_needs_the_growing_output():
    sp = CallSplitter("hermes")
    sp.feed("<tool_call>\n{")
    with pytest.raises(ValueError, match="only grows"):
        sp.feed("<tool_call>\n[")


def test_accepts_an_output_format_object():
    fmt = load_format("mistral")
    sp = CallSplitter(fmt)
    assert sp.format == "mistral"
    assert len(sp.feed('[TOOL_CALLS][{"name": "search", "arguments": {"q": "x"}}]')) == 1


def test_a_single_call_format_stops_after_its_call():
    text = ('<|channel|>commentary to=functions.search <|constrain|>json<|message|>{"q": "a"}<|call|>'
            '<|channel|>commentary to=functions.search <|constrain|>json<|message|>{"q": "b"}<|call|>')
    _, pieces = _whole("harmony", text)
    assert _parsed("harmony", pieces) == [("search", {"q": "a"})]


def test_a_bare_json_call_is_one_call():
    text = '{"name": "search", "arguments": {"q": "x"}}{"name": "search", "arguments": {"q": "y"}}'
    _, pieces = _whole("json", text)
    assert _parsed("json", pieces) == [("search", {"q": "x"})]


# ------------------------------------------------------------------------------------- fuzz
# Values hold every character that could confuse a scanner: brackets, both quotes, escapes,
# separators, newlines, the envelopes' own characters and non-ASCII text.
_VALUE = st.text(alphabet=list("ab ,;:=[](){}\"'\\\n\t<>/|`") + ["é", "東", "🎉", "｜"], max_size=14)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(FORMATS), values=st.lists(_VALUE, min_size=1, max_size=3), data=st.data())
def test_fuzz_rendered_calls_at_random_split_points(fmt, values, data):
    f = load_format(fmt)
    if f.single_call:
        values = values[:1]
    if fmt == "qwen3_coder":  # XML values are raw text: they cannot hold the closing tags
        assume(not any("</" in v or "<function" in v or "<parameter" in v for v in values))
    calls = [("search", {"q": v}) for v in values]
    text = render_calls(calls, fmt, tools=TOOLS)
    sp, whole = _whole(fmt, text)
    assert _parsed(fmt, whole) == calls, text
    assert sp.ends[-1] <= len(text)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8), label="cuts"))
    assert _chunked(fmt, text, cuts)[1] == whole, (text, cuts)
    k = data.draw(st.integers(0, len(text)), label="cut")
    _, pieces = _whole(fmt, text[:k])
    assert pieces == whole[: len(pieces)], text[:k]
