"""compile_tools: accept/reject tables per format and schema feature, tool_choice, parallel
calls, caps, unenforced keywords, caching, dialects. No model needed.

Every table row is checked three times: by `ToolGrammar.accepts` (lark's Earley parser over the
Lark dialect), by llguidance's own matcher over the llguidance dialect and by xgrammar's matcher
over the EBNF dialect, so the dialects cannot drift apart."""

from __future__ import annotations

import json
import time

import pytest

from structcall import SchemaError, UnsupportedSchemaError, compile_tools
from structcall.compile import cache_info
from structcall.formats import FORMATS, detect_format, load_format
from structcall.schema import Limits
from structcall.testing import check_table, installed_engines
from tools_fixtures import function_tool as tool


def J(name, args):
    return json.dumps({"name": name, "arguments": args})


def check(g, table):
    assert check_table(g, table) == []  # every installed engine


WEATHER = tool("get_weather", {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}, ["city"])
TIME = tool("get_time", {"tz": {"type": "string"}})


def test_check_table_names_each_engine_that_disagrees():
    g = compile_tools([WEATHER], format="json", tool_choice="required")
    good, bad = J("get_weather", {"city": "Paris"}), J("get_weather", {"town": "Paris"})
    engines = installed_engines()
    assert engines[:2] == ("lark", "llguidance")  # xgrammar too where it is installed (make setup)
    assert check_table(g, [(good, True), (bad, False)], engines=engines) == []
    (msg,) = check_table(g, [(good, True), (bad, True)], engines=engines)  # one wrong row
    assert "expected accepts=True" in msg and f"{', '.join(engines)} disagree" in msg and "town" in msg
    (msg,) = check_table(g, [(good, False)], engines=["llguidance"])
    assert "llguidance disagree" in msg and "lark" not in msg
    with pytest.raises(ValueError, match="unknown engine.*'lark', 'llguidance', 'xgrammar'"):
        check_table(g, [(good, True)], engines=["outlines"])


# ---------------------------------------------------------------------------------- per format
def test_json_format_table():
    g = compile_tools([WEATHER, TIME], format="json")
    check(g, [
        (J("get_weather", {"city": "Paris"}), True),
        (J("get_weather", {"city": "Paris", "unit": "f"}), True),
        ("[" + J("get_weather", {"city": "A"}) + ", " + J("get_time", {}) + "]", True),
        ("I can't help with that.", True),  # auto: a plain answer
        ("", True),
        (J("get_weather", {"unit": "f"}), False),  # missing required
        (J("get_weather", {"city": "Paris", "unit": "k"}), False),  # enum
        (J("get_weather", {"unit": "f", "city": "Paris"}), False),  # keys in schema order only
        (J("get_wether", {"city": "Paris"}), False),  # unknown tool
        ('{"name": "get_weather", "arguments": {"city": "Paris"}} trailing', False),
        ('{"name":"get_weather","arguments":{"city":"Paris"}}', True),  # compact separators, as json.dumps writes them
        ('{"name":  "get_weather", "arguments": {"city": "Paris"}}', False),  # one space at most
        ('{"name": "get_weather", "arguments": {"city" : "Paris"}}', False),  # none before the colon
        (' {"name": "get_weather", "arguments": {"city": "Paris"}}', False),  # calls start the output
        ("[]", False),
    ])


def test_hermes_format_table():
    g = compile_tools([WEATHER, TIME], format="hermes")
    call = "<tool_call>\n" + J("get_weather", {"city": "Paris"}) + "\n</tool_call>"
    check(g, [
        (call, True),
        ("Let me check. " + call, True),  # text before the call
        ("<think>hmm</think>\n" + call, True),  # free text includes a think block in auto
        (call + "\n" + call.replace("get_weather", "get_time").replace('{"city": "Paris"}', "{}"), True),
        ("Just text, no call.", True),
        (call + " and more text", False),
        ("<tool_call>\n" + J("nope", {}) + "\n</tool_call>", False),
        ("<tool_call>" + J("get_weather", {"city": "Paris"}) + "</tool_call>", True),  # bounded whitespace in the envelope
        ("<tool_call>" + " " * 5 + J("get_weather", {"city": "Paris"}) + "</tool_call>", False),  # ... at most 4
        (call + "\n", True),  # whitespace after the last call, then the end
        (call + "\n<tool_call>", False),  # a further call needs all of it
        ("text <tool_call> not a call", False),  # the trigger commits to a call
    ])


def test_pythonic_format_table():
    tools = [tool("get_weather", {"city": {"type": "string"}, "days": {"type": "integer"}, "metric": {"type": "boolean"}, "x": {"type": "null"}}, ["city"])]
    g = compile_tools(tools, format="pythonic")
    check(g, [
        ('[get_weather(city="Paris")]', True),
        ('[get_weather(city="Paris", days=-3, metric=True, x=None)]', True),
        ('[get_weather(city="A"), get_weather(city="B")]', True),
        ("Sure, it is sunny.", True),
        ('[get_weather(city="Paris", metric=true)]', False),  # Python literals, not JSON
        ("[get_weather(city='Paris')]", True),  # Python's own quoting (Llama 3.2, BFCL)
        ("[get_weather(city='Par\\'is\\x41')]", True),  # Python's escapes
        ("[get_weather(city='Paris\")]", False),  # quotes must match
        ('[get_weather("Paris")]', False),  # keyword arguments only
        ('get_weather(city="Paris")', True),  # auto: without the list it is plain text, not a call
    ])
    req = compile_tools(tools, format="pythonic", tool_choice="required")
    check(req, [('get_weather(city="Paris")', False), ('[get_weather(city="Paris")]', True)])


def test_mistral_format_table():
    g = compile_tools([WEATHER], format="mistral")
    check(g, [
        ("[TOOL_CALLS][" + J("get_weather", {"city": "Paris"}) + "]", True),
        ("No call needed.", True),
        ("Sure [TOOL_CALLS][" + J("get_weather", {"city": "Paris"}) + "]", False),
        ("[TOOL_CALLS]" + J("get_weather", {"city": "Paris"}), False),
    ])


# ---------------------------------------------------------------------------------- tool_choice
@pytest.mark.parametrize("fmt", FORMATS)
def test_tool_choice_modes(fmt):
    from structcall.render import render_calls

    one = render_calls([("get_weather", {"city": "Paris"})], fmt, tools=[WEATHER, TIME])
    other = render_calls([("get_time", {"tz": "UTC"})], fmt, tools=[WEATHER, TIME])
    two = render_calls([("get_weather", {"city": "Paris"}), ("get_time", {})], fmt, tools=[WEATHER, TIME])
    text = "The answer is 4."
    many = not load_format(fmt).single_call  # harmony: one call per message
    cases = {
        "auto": {one: True, two: many, text: True},
        "required": {one: True, two: many, text: False, "": False},
        "none": {one: False, two: False, text: True},
        "get_time": {one: False, other: True, two: False, text: False, render_calls([("get_time", {}), ("get_time", {})], fmt, tools=[WEATHER, TIME]): False},
        json.dumps({"type": "function", "function": {"name": "get_time"}}): {one: False, other: True},
    }
    for choice, table in cases.items():
        tc = json.loads(choice) if choice.startswith("{") else choice
        g = compile_tools([WEATHER, TIME], format=fmt, tool_choice=tc)
        check(g, list(table.items()))


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_tools_means_text_only(fmt):
    # as OpenAI's API: a request without tools gets plain text ("auto" and "none" alike)
    from structcall import parse_calls
    from structcall.compile import ToolChoice
    from structcall.render import render_calls

    call = render_calls([("get_weather", {"city": "Paris"})], fmt, tools=[WEATHER])
    for choice in ("auto", None, ToolChoice("auto"), "none"):
        g = compile_tools([], format=fmt, tool_choice=choice)
        assert g.choice == ToolChoice("none"), choice
        check(g, [("The answer is 4.", True), ("", True), (call, False)])
        assert parse_calls("The answer is 4.", [], format=fmt) == []
    for choice in ("required", ToolChoice("required")):
        with pytest.raises(ValueError, match=r"tool_choice='required' needs at least one tool, and none was given"):
            compile_tools([], format=fmt, tool_choice=choice)
    with pytest.raises(ValueError, match=r"names the function 'get_weather', which is not among the tools \(none given\)"):
        compile_tools([], format=fmt, tool_choice="get_weather")


@pytest.mark.parametrize("fmt", FORMATS)
def test_parallel_false_is_enforced_by_the_grammar(fmt):
    from structcall.render import render_calls

    one = render_calls([("get_weather", {"city": "Paris"})], fmt, tools=[WEATHER])
    two = render_calls([("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})], fmt, tools=[WEATHER])
    g = compile_tools([WEATHER], format=fmt, tool_choice="required", parallel_tool_calls=False)
    check(g, [(one, True), (two, False)])
    g3 = compile_tools([WEATHER], format=fmt, tool_choice="required", max_calls=2)
    three = render_calls([("get_weather", {"city": c}) for c in "ABC"], fmt, tools=[WEATHER])
    check(g3, [(two, not load_format(fmt).single_call), (three, False)])


def test_bad_options_get_clear_errors():
    with pytest.raises(ValueError, match=r"unknown output format 'hermess'.*Did you mean 'hermes'"):
        compile_tools([WEATHER], format="hermess")
    with pytest.raises(ValueError, match=r"not among the tools.*Did you mean 'get_weather'"):
        compile_tools([WEATHER], tool_choice="get_wether")
    with pytest.raises(ValueError, match="max_calls"):
        compile_tools([WEATHER], max_calls=0)
    with pytest.raises(ValueError, match="tool_choice"):
        compile_tools([WEATHER], tool_choice={"type": "nope"})


def test_think_block_for_reasoning_models():
    g = compile_tools([WEATHER], format="hermes", tool_choice="required", allow_think=True)
    call = "<tool_call>\n" + J("get_weather", {"city": "Paris"}) + "\n</tool_call>"
    check(g, [(call, True), ("<think>\nThe user wants weather.\n</think>\n" + call, True), ("<think>x" + call, False)])


# ------------------------------------------------------------------------------ schema features
def args_grammar(props, required=(), fmt="json", **kw):
    return compile_tools([tool("f", props, required, **kw.pop("extra", {}))], format=fmt, tool_choice="required", **kw)


def fa(args):
    return J("f", args)


def test_types_and_nesting():
    g = args_grammar({
        "s": {"type": "string"}, "i": {"type": "integer"}, "n": {"type": "number"}, "b": {"type": "boolean"},
        "z": {"type": "null"}, "o": {"type": "object", "properties": {"k": {"type": "array", "items": {"type": "integer"}}}, "required": ["k"]},
    }, ["s"])
    check(g, [
        (fa({"s": "x", "i": -12, "n": 3.25, "b": False, "z": None, "o": {"k": [1, 2, 3]}}), True),
        (fa({"s": "x", "n": 1e-05}), True),
        (fa({"s": "x", "n": 7}), True),  # an integer is a number
        (fa({"s": 1}), False),
        (fa({"s": "x", "i": 1.5}), False),
        (fa({"s": "x", "o": {}}), False),
        (fa({"s": "x", "o": {"k": ["a"]}}), False),
        ('{"name": "f", "arguments": {"s": "x", "i": 012}}', False),
    ])


def test_strings_escapes_and_control_characters():
    g = args_grammar({"s": {"type": "string"}}, ["s"])
    check(g, [
        (fa({"s": 'quote " and \\ backslash'}), True),
        (fa({"s": "tab\tnewline\n"}), True),  # json.dumps escapes them
        ('{"name": "f", "arguments": {"s": "\\u00e9\\ud83d\\ude00"}}', True),
        ('{"name": "f", "arguments": {"s": "raw\nnewline"}}', False),  # raw control character
        ('{"name": "f", "arguments": {"s": "bad \\x escape"}}', False),
        (fa({"s": "unicode é 中文 🙂"}).replace("\\u00e9", "é"), True),
    ])


def test_no_surrogates_in_any_dialect():
    """Encoded surrogates (bytes ED A0 80 ...) are invalid UTF-8: no dialect may admit them raw."""
    import llguidance
    import xgrammar as xgr

    from structcall.testing import _xgr_byte_compiler, byte_tokenizer

    g = args_grammar({"s": {"type": "string"}}, ["s"])
    prefix = b'{"name": "f", "arguments": {"s": "'
    xm = xgr.GrammarMatcher(_xgr_byte_compiler().compile_grammar(g.gbnf()))
    lm = llguidance.LLMatcher(byte_tokenizer(), g.llguidance(), log_level=0)
    for accept in (xm.accept_token, lm.consume_token):
        assert all(accept(b) for b in prefix)
        assert not all(accept(b) for b in (0xED, 0xA0, 0x80))  # U+D800 encoded: rejected
    assert "\\ud800" in g.lark() and "\\uD800" in g.gbnf()


def test_enum_const_and_big_enum():
    values = [f"v{i:03d}" for i in range(300)]
    g = args_grammar({"e": {"enum": values}, "c": {"const": 3}, "m": {"enum": [1, "1", None, [1, 2], {"a": True}]}}, ["e"])
    check(g, [
        (fa({"e": "v299", "c": 3}), True),
        (fa({"e": "v300"}), False),
        (fa({"e": "v001", "c": 4}), False),
        (fa({"e": "v001", "m": "1"}), True),
        (fa({"e": "v001", "m": [1, 2]}), True),
        (fa({"e": "v001", "m": {"a": True}}), True),
        (fa({"e": "v001", "m": 2}), False),
    ])


def test_integer_bounds_exact():
    g = args_grammar({"i": {"type": "integer", "minimum": -15, "maximum": 1234}, "x": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10}}, ["i"])
    table = [(fa({"i": v}), -15 <= v <= 1234) for v in (-16, -15, -9, 0, 9, 10, 99, 100, 999, 1000, 1234, 1235, 9999)]
    table += [(fa({"i": 0, "x": v}), 0 < v < 10) for v in (0, 1, 9, 10)]
    check(g, table)
    assert g.unenforced == []


def test_string_lengths_pattern_and_formats():
    g = args_grammar({
        "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "zip": {"type": "string", "pattern": "^\\d{5}(-\\d{4})?$"},
        "short": {"type": "string", "minLength": 2, "maxLength": 4},
        "d": {"type": "string", "format": "date"},
        "t": {"type": "string", "format": "date-time"},
        "u": {"type": "string", "format": "uuid"},
        "ip": {"type": "string", "format": "ipv4"},
        "mail": {"type": "string", "format": "email"},
        "url": {"type": "string", "format": "uri"},
    })
    check(g, [
        (fa({"code": "CDG", "zip": "75001-1234", "short": "ab"}), True),
        (fa({"code": "CDGX"}), False),
        (fa({"code": "cdg"}), False),
        (fa({"zip": "7500"}), False),
        (fa({"short": "a"}), False),
        (fa({"short": "abcde"}), False),
        (fa({"d": "2024-02-29", "t": "2024-02-29T10:00:00Z"}), True),
        (fa({"d": "2024-13-01"}), False),
        (fa({"t": "2024-02-29 10:00"}), False),
        (fa({"u": "123e4567-e89b-12d3-a456-426614174000", "ip": "192.168.0.255"}), True),
        (fa({"ip": "256.1.1.1"}), False),
        (fa({"mail": "a.b@example.com"}), True),
        (fa({"mail": "not an email"}), False),
        (fa({"url": "https://example.com/a?b=1&c=%20"}), True),
        (fa({"url": "no scheme"}), False),
    ])


def test_arrays_bounds_and_tuples():
    g = args_grammar({"a": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3}, "t": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False}}, ["a"])
    check(g, [
        (fa({"a": [1]}), True),
        (fa({"a": [1, 2, 3]}), True),
        (fa({"a": []}), False),
        (fa({"a": [1, 2, 3, 4]}), False),
        (fa({"a": [1], "t": ["x", 2]}), True),
        (fa({"a": [1], "t": ["x"]}), True),
        (fa({"a": [1], "t": [2, "x"]}), False),
        (fa({"a": [1], "t": ["x", 2, 3]}), False),
    ])


def test_anyof_oneof_nullable_and_refs():
    defs = {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["v"]}}
    g = args_grammar({
        "u": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "o": {"oneOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "string"}}]},
        "n": {"type": ["string", "null"]},
        "tree": {"$ref": "#/$defs/node"},
    }, extra={"$defs": defs})
    check(g, [
        (fa({"u": "x", "o": True, "n": None}), True),
        (fa({"u": 3, "o": ["a"], "n": "s"}), True),
        (fa({"u": 1.5}), False),
        (fa({"tree": {"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}]}}), True),  # recursive
        (fa({"tree": {"v": 1, "kids": [{"kids": []}]}}), False),
    ])
    assert g.unenforced == []  # oneOf branches of disjoint types: exclusivity holds by construction
    with pytest.raises(UnsupportedSchemaError, match="recursive"):
        g.regex()


def test_additional_properties():
    g = args_grammar({"meta": {"type": "object", "additionalProperties": {"type": "integer"}}, "free": {"type": "object"}})
    check(g, [
        (fa({"meta": {"a": 1, "b": 2}}), True),
        (fa({"meta": {"a": "x"}}), False),
        (fa({"free": {"a": [1, {"b": None}], "c": "x"}}), True),
        (fa({"other": 1}), False),  # declared properties only
    ])


def test_unenforced_keywords_listed_with_pointers_and_strict_mode():
    props = {"n": {"type": "integer", "multipleOf": 5}, "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
             "p": {"type": "string", "pattern": "^(?=a)a+$"}, "x": {"type": "number", "maximum": 2.5}}
    g = args_grammar(props)
    notes = {(n.pointer, n.keyword) for n in g.unenforced}
    base = "/0/function/parameters/properties"
    assert (f"{base}/n/multipleOf", "multipleOf") in notes
    assert (f"{base}/tags/uniqueItems", "uniqueItems") in notes
    assert (f"{base}/p/pattern", "pattern") in notes
    assert (f"{base}/x/maximum", "maximum") in notes
    with pytest.raises(UnsupportedSchemaError) as ei:
        args_grammar(props, strict=True)
    assert ei.value.pointer.startswith(base) and ei.value.keyword in ("multipleOf", "uniqueItems", "pattern", "maximum")


def test_default_caps_are_applied_and_reported():
    g = args_grammar({"s": {"type": "string"}, "n": {"type": "number"}, "a": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}}}, limits=Limits(max_string_length=5, max_array_items=3))
    check(g, [
        (fa({"s": "abcde"}), True),
        (fa({"s": "abcdef"}), False),
        (fa({"n": 123456789012345}), True),
        (fa({"n": 1234567890123456}), False),  # runaway number capped at 15 digits
        (fa({"a": [1, 2, 3]}), True),
        (fa({"a": [1, 2, 3, 4]}), False),
    ])
    capped = {(n.pointer.rsplit("/", 1)[-1], n.keyword) for n in g.capped}
    assert {("s", "maxLength"), ("n", "number"), ("a", "maxItems")} <= capped


def test_whitespace_is_bounded_everywhere():
    """No grammar admits an unbounded run of whitespace outside free text."""
    g = args_grammar({"s": {"type": "string", "enum": ["a"]}, "o": {"type": "object", "properties": {"k": {"type": "integer"}}}})
    check(g, [
        (fa({"s": "a"}), True),
        ('{"name": "f", "arguments": {"s":  "a"}}', False),
        ('{"name": "f", "arguments": {"s": "a"} }', False),
        ('{"name": "f", "arguments": {"s": "a"}}\n\n', True),  # a short run after the call, then the end
        ('{"name": "f", "arguments": {"s": "a"}}\n\n\n\n\n', False),  # ... bounded
    ])


def test_invalid_tools_raise_schema_error_not_tracebacks():
    with pytest.raises(SchemaError) as ei:
        compile_tools([tool("f", {"a": {"type": "strng"}}), tool("g", {"b": {"$ref": "#/nowhere"}})])
    assert len(ei.value.problems) == 2
    with pytest.raises(SchemaError, match="not a Python identifier"):
        compile_tools([tool("f", {"not-ident": {"type": "string"}})], format="pythonic")


# --------------------------------------------------------------------------- dialects & caching
def test_all_dialects_render_from_one_ir():
    g = compile_tools([WEATHER, TIME], format="hermes", tool_choice="required")
    assert g.lark().startswith("start:")
    assert g.llguidance().startswith("%llguidance {}")
    assert g.gbnf().startswith("root ::=")
    import re as _re

    rx = g.regex()
    assert _re.fullmatch(rx, "<tool_call>\n" + J("get_time", {"tz": "UTC"}) + "\n</tool_call>")
    assert not _re.fullmatch(rx, "<tool_call>\n" + J("get_time", {"tz": 1}) + "\n</tool_call>")


def test_compile_cache_hits_by_stable_hash():
    tools = [tool(f"t{i}", {"x": {"type": "integer"}}) for i in range(100)]
    before = cache_info()["hits"]
    g1 = compile_tools(tools, format="json")
    t0 = time.perf_counter()
    g2 = compile_tools(json.loads(json.dumps(tools)), format="json")
    dt = time.perf_counter() - t0
    assert cache_info()["hits"] == before + 1
    assert g1.cache_key == g2.cache_key and g1.ir is g2.ir
    assert compile_tools(tools, format="hermes").cache_key != g1.cache_key
    assert dt < 5  # sanity only; speed is measured in benchmarks/


def test_format_entries_and_detection():
    for name in FORMATS:
        assert set(load_format(name).rules(2)) == {"calls_one", "calls_many"}
        assert load_format(name).name == name
    assert detect_format("{% for t in tools %}<tool_call>{% endfor %}") == "hermes"
    assert detect_format("[TOOL_CALLS]") == "mistral"
    assert detect_format("<|im_start|>system") == "hermes"
    assert detect_format("[func_name1(params_name1=params_value1)]") == "pythonic"
    assert detect_format("plain") == "json"


def test_real_world_quirks_compile_soundly():
    """OpenAPI nullable, draft-4 boolean exclusive bounds, forbidden properties, a root anyOf,
    huge integer bounds: they compile, and what the grammar admits validates."""
    import random

    from structcall import parse_calls
    from structcall.testing import sample

    params = {
        "properties": {
            "n": {"type": "string", "nullable": True},
            "e": {"enum": ["a", "b"], "nullable": True},
            "x": {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "maximum": 5},
            "gone": False,
            "big": {"type": "integer", "minimum": 10**20},
            "id": {"type": "integer", "format": "int64"},
        },
        "anyOf": [{"required": ["n"]}, {"required": ["e"]}],
    }
    g = compile_tools([{"name": "f", "parameters": params}], format="json", tool_choice="required")
    check(g, [
        (fa({"n": None}), True),
        (fa({"e": None, "x": 5}), True),
        (fa({"e": "a", "x": 0}), False),  # exclusive minimum 0
        (fa({"n": "s", "gone": 1}), False),
        (fa({"n": "s", "big": 10**20 + 7}), True),
        (fa({"n": "s", "big": 10**20 - 1}), False),
        (fa({}), False),  # anyOf: one of n/e is required
    ])
    rng = random.Random(1)
    for _ in range(40):
        parse_calls(sample(g, rng), g)
