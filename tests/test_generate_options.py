"""Option objects of ``generate`` / ``generate_batch`` / ``stream_generate``, compiled-grammar
input, and compile-once: each call compiles each distinct tool set once (counted, not timed)."""

from __future__ import annotations

import copy
import gc
import importlib
import weakref

import pydantic
import pytest

import structcall.parse as parse_mod
import structcall.tools as tools_mod
from structcall import ToolGrammar, compile_tools
from structcall.decoding import (
    DecodingOptions,
    GrammarOptions,
    PromptOptions,
    ToolCallRetryError,
    generate,
    generate_batch,
    stream_generate,
)
from structcall.schema import Limits
from structcall.tools import normalize_tools

pytestmark = pytest.mark.usefixtures("one_torch_thread")
gen_mod = importlib.import_module("structcall.decoding.generate")  # the package's `generate` is the function

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "add", "description": "Add two integers.",
        "parameters": {"type": "object", "properties": {
            "a": {"type": "integer", "minimum": -1000, "maximum": 1000},
            "b": {"type": "integer"}},
            "required": ["a", "b"]}}},
]
LIMITS = Limits(max_string_length=20, max_number_digits=6)
ASK = "What's the weather in Paris? Also add 2 and 3."


@pytest.fixture
def compiles(monkeypatch):
    """Counts the calls of compile_tools made by generate's module."""
    calls = []
    real = gen_mod.compile_tools

    def counting(tools, **kw):
        calls.append((tools, kw))
        return real(tools, **kw)

    monkeypatch.setattr(gen_mod, "compile_tools", counting)
    return calls


@pytest.fixture
def normalised(monkeypatch):
    """Counts how often a callable or pydantic model is turned into a ToolSpec."""
    made = []
    for name in ("_from_callable", "_from_pydantic"):
        real = getattr(tools_mod, name)

        def counting(obj, i, problems, real=real):
            made.append(obj)
            return real(obj, i, problems)

        monkeypatch.setattr(tools_mod, name, counting)
    return made


def _weather_tool():
    """A fresh closure each time (a new identity, like a tool defined inside a function)."""
    suffix = "!"

    def get_weather(city: str, unit: str = "celsius") -> str:
        """Weather in a city.

        Args:
            city: the city.
            unit: celsius or fahrenheit.
        """
        return city + suffix

    return get_weather


def _lookup_model():
    """A fresh pydantic model each time (defined in a helper: pydantic keeps the namespace of
    the function a model is defined in, which would hold the test's other locals)."""

    class Lookup(pydantic.BaseModel):
        """Look a word up."""

        word: str

    return Lookup


# ------------------------------------------------------------------ compile once


def test_retries_compile_once_per_call(tiny_model, tiny_tokenizer, compiles):
    with pytest.raises(ToolCallRetryError) as info:
        generate(tiny_model, tiny_tokenizer, ASK, TOOLS, tool_choice="required", constrained=False,
                 retries=2, max_new_tokens=16, temperature=1.0, seed=3)
    assert len(info.value.attempts) == 3
    assert len(compiles) == 1
    first, *later = info.value.attempts
    # the first attempt's compile time holds the grammar's; later attempts reuse it (no backend here)
    assert all(a.timings["compile"] < first.timings["compile"] for a in later)
    generate(tiny_model, tiny_tokenizer, ASK, TOOLS, max_new_tokens=4)
    assert len(compiles) == 2  # once per call, not once per process


def test_batch_compiles_each_distinct_tool_set_once(tiny_model, tiny_tokenizer, compiles):
    fn = _weather_tool()
    same_content = copy.deepcopy(TOOLS[:1])  # equal dicts in other objects: the same tool set
    requests = [
        ASK,
        ASK,
        {"messages": ASK, "tools": TOOLS[:1]},
        {"messages": ASK, "tools": same_content},
        {"messages": ASK, "tools": [fn]},
        {"messages": ASK, "tools": [fn]},  # a new list holding the same callable
        {"messages": ASK, "tool_choice": "add"},
        {"messages": ASK, "tool_choice": "add"},
    ]
    results = generate_batch(tiny_model, tiny_tokenizer, requests, TOOLS, max_new_tokens=4, batch_size=4)
    assert len(results) == 8
    sets = [(tuple(t["function"]["name"] if isinstance(t, dict) else t.__name__ for t in tools), kw["tool_choice"])
            for tools, kw in compiles]
    assert sorted(sets, key=repr) == sorted([
        (("get_weather", "add"), "auto"), (("get_weather",), "auto"), (("get_weather",), "auto"),
        (("get_weather", "add"), "add"),
    ], key=repr)
    # the two get_weather sets are the dict one and the callable one, each compiled once
    assert sum(1 for tools, _ in compiles if tools and callable(tools[0])) == 1
    compile_s = [r.timings["compile"] for r in results]
    assert all(c >= 0 for c in compile_s)


def test_callables_and_models_are_normalised_once_and_not_kept_alive(normalised):
    fn = _weather_tool()
    Lookup = _lookup_model()

    first = normalize_tools([fn, Lookup])
    again = normalize_tools([Lookup, fn])
    assert normalised == [fn, Lookup]  # the second call normalised nothing
    assert [s.name for s in again] == ["Lookup", "get_weather"]
    assert again[1].function is fn and again[0].model is Lookup
    assert [s.pointer for s in again] == ["/0", "/1"]  # pointers follow the new positions
    assert again[1].parameters == first[0].parameters and again[1].parameters is not first[0].parameters
    again[1].parameters["properties"]["city"]["type"] = "integer"  # a caller's edit stays its own
    assert normalize_tools([fn])[0].parameters == first[0].parameters
    replacement = _weather_tool()  # a new object of the same name is normalised anew
    normalize_tools([replacement])
    assert normalised[-1] is replacement


def test_the_identity_cache_keeps_no_tool_alive():
    fn = _weather_tool()
    Lookup = _lookup_model()

    normalize_tools([fn, Lookup])
    again = normalize_tools([fn, Lookup])
    assert {id(fn), id(Lookup)} <= set(tools_mod._by_id) and again[0].function is fn
    refs = [weakref.ref(fn), weakref.ref(Lookup)]
    del fn, Lookup, again
    gc.collect()
    assert [r() for r in refs] == [None, None]  # a dead closure or model is not kept by the cache
    assert all(ref() is not None for ref, _ in tools_mod._by_id.values())  # dead entries are gone


def test_compile_tools_with_a_callable_normalises_it_once(normalised):
    fn = _weather_tool()
    a = compile_tools([fn], format="json")
    b = compile_tools([fn], format="json", tool_choice="required")
    assert normalised == [fn]
    assert a.specs[0].function is fn and b.specs[0].function is fn


# ------------------------------------------------------------------ compiled grammar as tools


def test_a_compiled_grammar_is_used_as_it_is(tiny_model, tiny_tokenizer, compiles):
    grammar = compile_tools(TOOLS, format="json", tool_choice="required", max_calls=3, limits=LIMITS)
    assert grammar.limits == LIMITS and grammar.strict is False
    opts = dict(temperature=1.0, seed=7, max_new_tokens=60)
    from_grammar = generate(tiny_model, tiny_tokenizer, ASK, grammar, **opts)
    assert compiles == []
    from_tools = generate(tiny_model, tiny_tokenizer, ASK, TOOLS, format="json", tool_choice="required",
                          max_calls=3, limits=LIMITS, **opts)
    assert len(compiles) == 1
    assert from_grammar.text == from_tools.text and from_grammar.format == "json"
    assert from_grammar.ok and from_grammar.tool_calls
    # options that agree with the grammar may be repeated
    same = generate(tiny_model, tiny_tokenizer, ASK, grammar, format="json", tool_choice="required",
                    grammar_options=None, **opts)
    assert same.text == from_grammar.text
    batch = generate_batch(tiny_model, tiny_tokenizer, [ASK, {"messages": ASK, "tool_choice": "required"}],
                           grammar, **opts)
    assert batch[0].text == from_grammar.text and all(r.ok for r in batch)
    events = list(stream_generate(tiny_model, tiny_tokenizer, ASK, grammar, **opts))
    assert events[-1].result.text == from_grammar.text
    assert compiles[1:] == []


def test_options_that_disagree_with_a_compiled_grammar_are_errors(tiny_model, tiny_tokenizer):
    grammar = compile_tools(TOOLS, format="json", tool_choice="required")
    for kw, needle in [
        ({"tool_choice": "auto"}, "tool_choice='auto' (the grammar's is 'required')"),
        ({"format": "hermes"}, "format='hermes' (the grammar's is 'json')"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls=False"),
        ({"max_calls": 2}, "max_calls=2"),
        ({"allow_think": True}, "allow_think=True"),
        ({"strict": True}, "strict=True"),
        ({"limits": LIMITS}, "limits="),
        ({"grammar_options": GrammarOptions(format="pythonic")}, "format='pythonic'"),
    ]:
        with pytest.raises(ValueError, match="tools is a compiled <ToolGrammar json") as info:
            generate(tiny_model, tiny_tokenizer, ASK, grammar, **kw)
        assert needle in str(info.value)
    with pytest.raises(ValueError, match=r"generate_batch\(\) requests\[1\].*tool_choice='none'"):
        generate_batch(tiny_model, tiny_tokenizer, [ASK, {"messages": ASK, "tool_choice": "none"}], grammar)
    with pytest.raises(ValueError, match="top_k= retrieves tools"):
        generate(tiny_model, tiny_tokenizer, ASK, grammar, top_k=1)
    with pytest.raises(ValueError, match="disagree"):
        stream_generate(tiny_model, tiny_tokenizer, ASK, grammar, format="hermes")  # raised at the call


# ------------------------------------------------------------------ option objects


def test_option_objects_give_the_same_output_as_keywords(tiny_model, tiny_tokenizer):
    keywords = dict(format="json", tool_choice="required", max_calls=3, limits=LIMITS, temperature=1.0,
                    top_p=0.9, seed=5, max_new_tokens=60, tool_prompt="compact", fast_forward=False)
    objects = dict(
        grammar_options=GrammarOptions(format="json", tool_choice="required", max_calls=3, limits=LIMITS),
        prompt_options=PromptOptions(tool_prompt="compact"),
        decoding_options=DecodingOptions(temperature=1.0, top_p=0.9, seed=5, max_new_tokens=60, fast_forward=False),
    )
    a = generate(tiny_model, tiny_tokenizer, ASK, TOOLS, **keywords)
    b = generate(tiny_model, tiny_tokenizer, ASK, TOOLS, **objects)
    assert a.ok and a.tool_calls
    assert (a.text, a.token_ids, a.prompt) == (b.text, b.token_ids, b.prompt)
    assert a.forced_tokens == b.forced_tokens == 0
    # one object plus keywords of the other groups
    c = generate(tiny_model, tiny_tokenizer, ASK, TOOLS, grammar_options=objects["grammar_options"],
                 tool_prompt="compact", temperature=1.0, top_p=0.9, seed=5, max_new_tokens=60, fast_forward=False)
    assert c.token_ids == a.token_ids
    batch_kw = generate_batch(tiny_model, tiny_tokenizer, [ASK, ASK], TOOLS, **keywords)
    batch_obj = generate_batch(tiny_model, tiny_tokenizer, [ASK, ASK], TOOLS, **objects)
    assert [r.token_ids for r in batch_kw] == [r.token_ids for r in batch_obj]
    assert batch_kw[0].token_ids == a.token_ids  # request 0 samples with seed + 0
    stream_kw = list(stream_generate(tiny_model, tiny_tokenizer, ASK, TOOLS, **keywords))
    stream_obj = list(stream_generate(tiny_model, tiny_tokenizer, ASK, TOOLS, **objects))
    assert [(e.type, e.text) for e in stream_kw] == [(e.type, e.text) for e in stream_obj]
    assert stream_kw[-1].result.text == a.text


def test_defaults_are_documented_keyword_only_fields():
    assert DecodingOptions() == DecodingOptions(backend="llguidance", constrained=True, max_new_tokens=256,
                                                temperature=0.0, top_p=1.0, seed=None, fast_forward=True,
                                                stop_on_repeat=True, lenient=False)
    assert GrammarOptions() == GrammarOptions(format=None, tool_choice="auto", parallel_tool_calls=True,
                                              max_calls=None, strict=False, allow_think=False, limits=None)
    assert PromptOptions() == PromptOptions(tool_prompt="full", top_k=None, retriever=None,
                                            restrict_to_candidates=True)
    with pytest.raises(TypeError):
        DecodingOptions(256)  # keyword-only
    with pytest.raises(Exception, match="frozen|cannot assign"):
        DecodingOptions().seed = 3  # type: ignore[misc]


def test_conflicting_and_unknown_arguments_are_clear_errors(tiny_model, tiny_tokenizer):
    m, t = tiny_model, tiny_tokenizer
    with pytest.raises(TypeError, match=r"generate\(\): seed= given both as a keyword and in decoding_options="):
        generate(m, t, ASK, TOOLS, decoding_options=DecodingOptions(seed=1), seed=2)
    with pytest.raises(TypeError, match=r"tool_choice= given both .* grammar_options=.*dataclasses.replace"):
        generate(m, t, ASK, TOOLS, grammar_options=GrammarOptions(), tool_choice="add")
    with pytest.raises(TypeError, match=r"generate_batch\(\): top_k= given both"):
        generate_batch(m, t, [ASK], TOOLS, prompt_options=PromptOptions(top_k=1), top_k=2)
    with pytest.raises(TypeError, match=r"stream_generate\(\): max_new_tokens= given both"):
        stream_generate(m, t, ASK, TOOLS, decoding_options=DecodingOptions(), max_new_tokens=3)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'temprature'\. Did you mean 'temperature'\?"):
        generate(m, t, ASK, TOOLS, temprature=0.5)
    with pytest.raises(TypeError, match="decoding_options must be a DecodingOptions, got GrammarOptions"):
        generate(m, t, ASK, TOOLS, decoding_options=GrammarOptions())
    with pytest.raises(TypeError, match="limits must be a structcall.schema.Limits or None, got dict"):
        generate(m, t, ASK, TOOLS, limits={"max_string_length": 3})
    with pytest.raises(ValueError, match="top_p must be in"):
        DecodingOptions(top_p=0)
    with pytest.raises(ValueError, match="max_calls must be a positive integer"):
        GrammarOptions(max_calls=0)
    with pytest.raises(ValueError, match="retriever= needs top_k="):
        PromptOptions(retriever=object())
    with pytest.raises(ValueError, match="batch_size"):
        generate_batch(m, t, [ASK], TOOLS, batch_size=0)


def test_stream_parses_against_the_compiled_grammar(tiny_model, tiny_tokenizer, monkeypatch):
    seen = []
    real = gen_mod.parse_calls

    def recording(text, tools, **kw):
        seen.append((tools, kw))
        return real(text, tools, **kw)

    def no_normalising(tools):
        raise AssertionError("tools normalised again while streaming")

    grammar = compile_tools(TOOLS, format="hermes", tool_choice="required", max_calls=3, limits=LIMITS)
    monkeypatch.setattr(gen_mod, "parse_calls", recording)
    monkeypatch.setattr(parse_mod, "normalize_tools", no_normalising)
    events = list(stream_generate(tiny_model, tiny_tokenizer, ASK, grammar, temperature=1.0, seed=1,
                                  max_new_tokens=120))
    calls = [e for e in events if e.type == "tool_call"]
    assert events[-1].result.ok and calls
    assert seen and all(tools is grammar and "tool_choice" not in kw and "format" not in kw for tools, kw in seen)
    assert isinstance(seen[0][0], ToolGrammar)


def test_every_option_field_is_documented_in_the_generate_page():
    from dataclasses import fields
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "generate.md").read_text(encoding="utf-8")
    for cls in (GrammarOptions, PromptOptions, DecodingOptions):
        assert cls.__name__ in text
        doc = cls.__doc__ or ""
        for f in fields(cls):
            assert f"`{f.name}" in text or f"{f.name}=" in text, f"docs/generate.md does not document {f.name}"
            assert f"{f.name}:" in doc, f"{cls.__name__}'s docstring does not document {f.name}"
