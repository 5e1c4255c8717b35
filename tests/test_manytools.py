"""Compact tool prompts (signatures, names), tool retrieval, and the grammar holding the full
schemas of every admitted tool whatever the prompt showed."""

from __future__ import annotations

import json

import pytest

from benchmarks.bfcl_tools import bfcl_functions, bfcl_library, bfcl_multiple_items
from benchmarks.workload import make_tools
from structcall import ToolCallError, compile_tools, parse_calls
from structcall.decoding import generate, generate_batch, render_prompt
from structcall.decoding.prompt import tool_system_prompt
from structcall.formats import FORMATS
from structcall.retrieval import (
    BM25Retriever,
    EmbeddingRetriever,
    RankBM25Retriever,
    ToolLibrary,
    query_text,
    tokenize,
)
from structcall.schema import Limits
from structcall.signatures import compact_signature, render_tool_list, tool_list_tokens, type_hint
from tools_fixtures import function_tool

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WEATHER = function_tool("get_weather", {
    "city": {"type": "string", "description": "City name"},
    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
    "at": {"type": "object", "properties": {"lat": {"type": "number"}, "lng": {"type": "number"}}, "required": ["lat", "lng"]},
    "days": {"type": "integer", "minimum": 1, "maximum": 7}},
    ["city", "days"], description="Current weather in a city. Uses the nearest station.", additionalProperties=False)
BOOK = function_tool("book_flight", {
    "origin": {"type": "string", "minLength": 3, "maxLength": 3},
    "destination": {"type": "string", "minLength": 3, "maxLength": 3},
    "passengers": {"type": "array", "items": {"type": "string"}, "maxItems": 4}},
    ["origin", "destination"], description="Book a flight between two airports.", additionalProperties=False)
TOOLS = [WEATHER, BOOK]
# the weather tool without its object argument: what FunctionGemma's notation can write
WEATHER_SCALARS = function_tool("get_weather", {k: v for k, v in WEATHER["function"]["parameters"]["properties"].items() if k != "at"},
                                ["city", "days"], description="Current weather in a city.", additionalProperties=False)


@pytest.mark.parametrize(("schema", "hint"), [
    ({"type": "string"}, "str"),
    ({"type": "integer"}, "int"),
    ({"type": "number"}, "float"),
    ({"type": ["string", "null"]}, "str|None"),
    ({"enum": ["a", "b", 3]}, '"a"|"b"|3'),
    ({"enum": list(range(12))}, "0|1|2|3|4|5|6|7|..."),
    ({"const": "x"}, '"x"'),
    ({"type": "array", "items": {"type": "integer"}}, "list[int]"),
    ({"type": "array"}, "list"),
    ({"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}]}, "tuple[str, float]"),
    ({"type": "object", "properties": {"a": {"type": "boolean"}}, "required": []}, "{a?: bool}"),
    ({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "object",
      "properties": {"c": {"type": "string"}}}}}}}, "{a?: {b?: dict}}"),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "str|int"),
    ({"$ref": "#/$defs/Point"}, "Point"),
    ({}, "any"),
])
def test_type_hints(schema, hint):
    assert type_hint(schema) == hint


def test_compact_signature_shows_required_optional_defaults_and_first_sentence():
    spec = compile_tools([WEATHER]).specs[0]
    assert compact_signature(spec) == (
        'get_weather(city: str, unit?: "celsius"|"fahrenheit" = "celsius", '
        "at?: {lat: float, lng: float}, days: int) - Current weather in a city."
    )
    open_args = compile_tools([{"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "string"}},
                                                              "additionalProperties": True}}]).specs[0]
    assert compact_signature(open_args) == "f(x?: str, **kwargs)"


def test_render_tool_list_views_and_bad_view():
    full = render_tool_list(TOOLS, "full").splitlines()
    assert [json.loads(line)["function"]["name"] for line in full] == ["get_weather", "book_flight"]
    assert render_tool_list(TOOLS, "names") == (
        "get_weather - Current weather in a city.\nbook_flight - Book a flight between two airports."
    )
    assert render_tool_list(TOOLS, "compact").splitlines()[1] == (
        "book_flight(origin: str, destination: str, passengers?: list[str]) - Book a flight between two airports."
    )
    with pytest.raises(ValueError, match=r"tool_prompt must be one of \['full', 'compact', 'names'\], got 'short'"):
        render_tool_list(TOOLS, "short")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("view", ["compact", "names"])
def test_compact_prompts_for_every_format(fmt, view, tiny_tokenizer, tiny_plain_tokenizer):
    tools = TOOLS if fmt != "functiongemma" else [  # its own tools: scalar arguments only
        WEATHER_SCALARS, function_tool("book_flight", {"to": {"type": "string"}})]
    grammar = compile_tools(tools, format=fmt)
    system = tool_system_prompt(grammar, tool_prompt=view)
    assert render_tool_list(tools, view) in system
    assert '"properties"' not in system and "get_weather" in system and "book_flight" in system
    assert system.endswith(tool_system_prompt(grammar).split("</tools>\n\n", 1)[1])  # same call instructions
    # both templates (one renders tools= itself, one does not) get structcall's compact list
    for tok in (tiny_tokenizer, tiny_plain_tokenizer):
        compact = render_prompt(tok, "weather in Oslo?", grammar, tool_prompt=view)
        full = render_prompt(tok, "weather in Oslo?", grammar)
        assert render_tool_list(tools, view) in compact and '"properties"' not in compact
        assert '"parameters"' in full
        assert len(tok(compact)["input_ids"]) < len(tok(full)["input_ids"])


def test_tool_list_tokens_saved_on_real_bfcl_functions(tiny_tokenizer):
    tools = bfcl_functions()[:100]
    full, compact, names = (tool_list_tokens(tiny_tokenizer, tools, v) for v in ("full", "compact", "names"))
    assert names < compact < full
    assert compact < 0.6 * full  # measured ~0.35-0.45 on this tokenizer; a regression shows here


@pytest.mark.parametrize("fmt", FORMATS)
def test_call_to_a_tool_shown_only_by_name_is_held_to_its_full_schema(fmt, tiny_tokenizer):
    grammar = compile_tools(TOOLS if fmt != "functiongemma" else [WEATHER_SCALARS], format=fmt, parallel_tool_calls=False)
    prompt = render_prompt(tiny_tokenizer, "weather in Oslo for 3 days", grammar, tool_prompt="names")
    assert "enum" not in prompt and "fahrenheit" not in prompt  # the prompt never showed the schema
    good = {"city": "Oslo", "days": 3, "unit": "fahrenheit"}
    bad = [({"city": "Oslo", "days": 3, "unit": "kelvin"}, "value"),   # outside the enum
           ({"city": "Oslo"}, "missing_argument"),                       # required 'days' missing
           ({"city": "Oslo", "days": 9}, "value"),                       # above maximum 7
           ({"city": "Oslo", "days": 3, "wind": True}, "unknown_argument")]
    from structcall.render import render_calls

    text = render_calls([{"name": "get_weather", "arguments": good}], fmt, tools=grammar.specs)
    assert grammar.accepts(text)
    assert parse_calls(text, grammar.specs, format=fmt)[0].arguments == good
    for args, kind in bad:
        text = render_calls([{"name": "get_weather", "arguments": args}], fmt, tools=grammar.specs)
        assert not grammar.accepts(text), args  # the grammar enforces the full schema
        with pytest.raises(ToolCallError) as err:
            parse_calls(text, grammar.specs, format=fmt)
        assert kind in [k for k, _, _ in err.value.errors]


def test_bm25_ranks_by_rare_terms_and_splits_names():
    assert tokenize("get_weatherForecast math.factorial") == ["weather", "forecast", "math", "factorial"]
    r = BM25Retriever()
    r.fit(["weather forecast city", "flight booking airport", "weather station data weather"])
    scores = r.scores("book a flight to Oslo")
    assert scores[1] > 0 and scores[0] == scores[2] == 0
    assert r.scores("unknown words only") == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="k1 >= 0"):
        BM25Retriever(k1=-1)


def test_retrieval_picks_the_gold_tool_in_a_fixture_library():
    library = ToolLibrary(TOOLS + make_tools(300))
    assert [s.name for s in library.search("Book me a flight from SFO to JFK", 1)] == ["book_flight"]
    top = library.search("What is the weather in Paris this week?", 3)
    assert top[0].name == "get_weather" and len(top) == 3
    # a named tool_choice is always among the candidates
    named = library.search("What is the weather in Paris?", 1, include=["book_flight"])
    assert [s.name for s in named] == ["get_weather", "book_flight"]
    with pytest.raises(ValueError, match="'book_flights' is not a tool of the library. Did you mean 'book_flight'"):
        library.search("x", 1, include=["book_flights"])
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        library.search("x", 0)


def test_retrieval_recall_on_real_bfcl_multiple():
    """Every BFCL v4 'multiple' question against a library of 1,000 distinct BFCL functions
    (its own and other categories'): BM25 finds the gold function in its top 3."""
    items = bfcl_multiple_items()
    library = ToolLibrary(bfcl_library(1000)[0])
    hits = 0
    for item in items:
        gold = {next(iter(g)) for g in item["ground_truth"]}
        got = {s.original_name for s in library.search(query_text(item["messages"]), 3)}
        hits += bool(gold & got)
    assert hits / len(items) > 0.8  # measured 0.88 (BM25 recall@3, 200 questions; rank-bm25: 0.875)


def test_rank_bm25_and_embedding_retrievers_plug_in():
    library = ToolLibrary(TOOLS + make_tools(50), retriever=RankBM25Retriever())
    assert library.search("book a flight from SFO to JFK", 1)[0].name == "book_flight"

    vocab = ["weather", "flight", "invoice"]

    def embed(texts):  # a bag-of-words embedding: any texts -> vectors function plugs in
        return [[t.lower().count(w) for w in vocab] for t in texts]

    lib = ToolLibrary(TOOLS, retriever=EmbeddingRetriever(embed))
    assert lib.search("which flight?", 1)[0].name == "book_flight"
    with pytest.raises(TypeError, match="retriever must have fit"):
        ToolLibrary(TOOLS, retriever=object())


def test_generate_with_top_k_restricts_or_opens_the_grammar(tiny_model, tiny_tokenizer):
    library = ToolLibrary(TOOLS + make_tools(40))
    opts = {"format": "hermes", "tool_choice": "required", "parallel_tool_calls": False,
            "limits": Limits(max_string_length=12, max_number_digits=4), "max_new_tokens": 120}
    ask = "Book a flight from SFO to JFK"
    for seed in range(4):
        r = generate(tiny_model, tiny_tokenizer, ask, library, top_k=1, temperature=1.0, seed=seed, **opts)
        assert r.candidates == ["book_flight"]
        assert "book_flight" in r.prompt and "get_weather" not in r.prompt
        assert r.ok and [c.name for c in r.tool_calls] == ["book_flight"]  # only the candidate is callable
    # left open, the grammar admits every tool of the library while the prompt shows one
    names = set()
    for seed in range(8):
        r = generate(tiny_model, tiny_tokenizer, ask, library, top_k=1, restrict_to_candidates=False,
                     temperature=1.0, seed=seed, tool_prompt="compact", **opts)
        assert r.candidates == ["book_flight"] and "crm_get_contact_0" not in r.prompt
        # the one constraint here the grammar leaves to the validator: a float's maximum
        assert r.ok or r.error_kinds == ["value"], r.errors
        names |= {c.name for c in r.tool_calls}
    assert names - {"book_flight"}  # the random model called tools it was never shown, validly
    # a named tool_choice outside the top k joins the candidates
    r = generate(tiny_model, tiny_tokenizer, ask, library, top_k=1, **{**opts, "tool_choice": "get_weather"})
    assert r.candidates == ["book_flight", "get_weather"] and r.tool_calls[0].name == "get_weather"
    # generate_batch indexes shared tools once; per-row results carry their own candidates
    out = generate_batch(tiny_model, tiny_tokenizer, [ask, "weather in Oslo for 2 days?"], TOOLS + make_tools(40),
                         top_k=1, **opts)
    assert [r.candidates for r in out] == [["book_flight"], ["get_weather"]]
    with pytest.raises(ValueError, match="retriever= needs top_k="):
        generate(tiny_model, tiny_tokenizer, ask, TOOLS, retriever=BM25Retriever())
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        generate(tiny_model, tiny_tokenizer, ask, TOOLS, top_k=0)



def test_many_tools_evaluation_tool_sets_and_cells():
    from benchmarks.manytools_eval import build_cells, tool_sets, wilson

    library = bfcl_library(300)[0]
    items = bfcl_multiple_items()[:20]
    for item in items:
        gold = {next(iter(g)).replace(".", "_") for g in item["ground_truth"]}
        for n in (3, 10, 30):
            tools = tool_sets(item, library, n, seed=0)
            names = [t["name"].replace(".", "_") for t in tools]
            assert len(names) == n == len(set(names)) and gold <= set(names)
            assert tools == tool_sets(item, library, n, seed=0)  # seeded
            own = {t["name"] for t in item["tools"]}
            assert all(t in item["tools"] or t["name"] not in own for t in tools)
    cells = build_cells([3, 10], ["full", "retrieval"], 3, [10], ["free", "constrained"])
    assert cells == [(3, "full", "constrained"), (10, "full", "free"), (10, "full", "constrained"),
                     (10, "retrieval", "free"), (10, "retrieval", "constrained")]
    lo, hi = wilson(8, 10)
    assert (round(lo, 3), round(hi, 3)) == (0.49, 0.943)  # the Wilson 95% interval of 8/10
    assert wilson(0, 0) == (0.0, 1.0)
    from benchmarks.manytools_eval import picked_gold

    first = bfcl_multiple_items()[0]  # gold: triangle_properties.get
    assert picked_gold('<tool_call>\n{"name": "triangle_properties_get", "arguments": {"side1": 5, "si', first)
    assert not picked_gold('<tool_call>\n{"name": "circle_properties_get", "arguments": {}}', first)
    assert not picked_gold("The triangle has sides 3, 4 and 5.", first)
