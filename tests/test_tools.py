"""Tool normalisation: every input shape -> ToolSpec; every problem reported with its pointer."""

from __future__ import annotations

import enum
from typing import Literal, Optional

import pydantic
import pytest

from structcall import SchemaError, ToolCallError, ToolSpec, compile_tools, parse_calls
from structcall.tools import normalize_tools, parse_docstring

from docstring_cases import CASES

WEATHER_PARAMS = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city"],
}


def test_openai_chat_and_responses_shapes_normalise_alike():
    chat = {"type": "function", "function": {"name": "get_weather", "description": "d", "parameters": WEATHER_PARAMS, "strict": True}}
    flat = {"type": "function", "name": "get_weather", "description": "d", "parameters": WEATHER_PARAMS}
    bare = {"name": "get_weather", "description": "d", "parameters": WEATHER_PARAMS}
    a, b, c = (normalize_tools([t])[0] for t in (chat, flat, bare))
    assert a.parameters == b.parameters == c.parameters == WEATHER_PARAMS
    assert a.name == b.name == c.name == "get_weather"
    assert a.strict is True and b.strict is None
    assert a.pointer == "/0/function/parameters" and b.pointer == "/0/parameters"


def test_bare_schema_plus_name():
    spec = ToolSpec.from_schema("lookup", {"type": "object", "properties": {"q": {"type": "string"}}})
    assert spec.name == "lookup" and spec.parameters["properties"]["q"] == {"type": "string"}
    (spec2,) = normalize_tools([("lookup", {"properties": {"q": {"type": "string"}}})])
    assert spec2.parameters["type"] == "object"


def test_missing_parameters_means_no_arguments():
    (spec,) = normalize_tools([{"name": "ping"}])
    assert spec.parameters == {"type": "object", "properties": {}}
    g = compile_tools([{"name": "ping"}], format="json", tool_choice="required")
    assert g.accepts('{"name": "ping", "arguments": {}}')
    assert not g.accepts('{"name": "ping", "arguments": {"x": 1}}')


def test_bfcl_quirks_are_normalised_and_original_name_kept():
    bfcl = {
        "name": "math.factorial",
        "description": "Factorial.",
        "parameters": {
            "type": "dict",
            "properties": {
                "n": {"type": "integer"},
                "scale": {"type": "float"},
                "pair": {"type": "tuple", "items": {"type": "integer"}},
                "meta": {"type": "any"},
                "opts": {"type": "dict", "properties": {"fast": {"type": "boolean"}}},
            },
            "required": ["n"],
        },
    }
    (spec,) = normalize_tools([bfcl])
    assert spec.name == "math_factorial" and spec.original_name == "math.factorial"
    p = spec.parameters
    assert p["type"] == "object"
    assert p["properties"]["scale"]["type"] == "number"
    assert p["properties"]["pair"]["type"] == "array"
    assert "type" not in p["properties"]["meta"]
    assert p["properties"]["opts"]["type"] == "object"
    # the model may use either name; the OpenAI shape gives back the original
    for name in ("math.factorial", "math_factorial"):
        (call,) = parse_calls('{"name": "%s", "arguments": {"n": 5}}' % name, [bfcl], format="json")
        assert call.name == "math_factorial"
        assert call.to_openai()["function"]["name"] == "math.factorial"


def test_every_problem_reported_with_pointer():
    tools = [
        {"type": "function", "function": {"name": "ok", "parameters": WEATHER_PARAMS}},
        {"type": "function", "function": {"name": "ok", "parameters": WEATHER_PARAMS}},
        {"type": "function", "function": {"name": "bad name", "parameters": {}}},
        {"type": "function", "function": {"name": "scalar", "parameters": {"type": "string"}}},
        {"type": "function", "function": {"name": "meta", "parameters": {"type": "object", "properties": {"a": {"type": 5}}}}},
        {"type": "function", "function": {"name": "dangling", "parameters": {"type": "object", "properties": {"a": {"$ref": "#/$defs/nope"}}}}},
        {"type": "function", "function": {"name": "neg", "parameters": {"type": "object", "properties": {"a": {"type": "string", "minLength": -1}}}}},
    ]
    with pytest.raises(SchemaError) as ei:
        normalize_tools(tools)
    pointers = [p.pointer for p in ei.value.problems]
    msg = str(ei.value)
    assert "/1/function/name" in pointers and "duplicate" in msg
    assert "/2/function/name" in pointers
    assert "/3/function/parameters/type" in pointers
    assert any(p.startswith("/4/function/parameters/properties/a") for p in pointers)
    assert "/5/function/parameters/properties/a/$ref" in pointers and "points nowhere" in msg
    assert any(p.startswith("/6/function/parameters/properties/a") for p in pointers)
    assert len(ei.value.problems) >= 6


def test_every_problem_of_one_tool_is_reported():
    with pytest.raises(SchemaError) as ei:
        normalize_tools([{"name": "bad name!", "parameters": {"type": "object", "properties": {"x": {"type": "objekt"}, "y": {"$ref": "#/nowhere"}}}}])
    pointers = sorted(p.pointer for p in ei.value.problems)
    assert pointers == ["/0/name", "/0/parameters/properties/x/type", "/0/parameters/properties/y/$ref"]


def test_remote_ref_and_non_list_rejected_clearly():
    with pytest.raises(SchemaError, match="only local"):
        normalize_tools([{"name": "r", "parameters": {"type": "object", "properties": {"a": {"$ref": "http://x/y.json"}}}}])
    with pytest.raises(SchemaError, match="tools must be a list"):
        normalize_tools("get_weather")
    with pytest.raises(SchemaError, match="cannot make a tool"):
        normalize_tools([42])


class Unit(str, enum.Enum):
    celsius = "celsius"
    fahrenheit = "fahrenheit"


class Location(pydantic.BaseModel):
    city: str
    country: str = "FR"


class GetForecast(pydantic.BaseModel):
    """Get the weather forecast for a place."""

    location: Location
    days: int = pydantic.Field(3, ge=1, le=14, description="How many days.")
    unit: Unit = Unit.celsius


def test_pydantic_model_tool_typed_arguments():
    (spec,) = normalize_tools([GetForecast])
    assert spec.name == "GetForecast"
    assert spec.description == "Get the weather forecast for a place."
    assert "$defs" in spec.parameters
    g = compile_tools([GetForecast], format="json", tool_choice="required")
    text = '{"name": "GetForecast", "arguments": {"location": {"city": "Lyon"}, "days": 5, "unit": "fahrenheit"}}'
    assert g.accepts(text)
    (call,) = parse_calls(text, g)
    assert isinstance(call.typed, GetForecast)
    assert call.typed.location.city == "Lyon" and call.typed.unit is Unit.fahrenheit
    assert not g.accepts(text.replace('"days": 5', '"days": 15'))  # le=14 is in the grammar


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius", days: Optional[int] = None) -> str:
    """Get the current weather.

    Args:
        city: The city, e.g. Paris.
        unit (str): Temperature unit.
        days: Forecast days,
            if any.
    """
    return f"{city}:{unit}:{days}"


def numpy_style(x: float, y: float = 1.0) -> float:
    """Scale a number.

    Parameters
    ----------
    x : float
        The number.
    y : float
        The factor.
    """
    return x * y


def sphinx_style(path: str, recursive: bool = False) -> list:
    """List files.

    :param path: Directory to list.
    :param bool recursive: Descend into folders.
    :returns: names
    """
    return [path, recursive]


def test_callable_google_docstring_and_execute():
    (spec,) = normalize_tools([get_weather])
    assert spec.description == "Get the current weather."
    props = spec.parameters["properties"]
    assert props["city"] == {"type": "string", "description": "The city, e.g. Paris."}
    assert props["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert props["days"]["description"] == "Forecast days, if any."
    assert spec.parameters["required"] == ["city"]
    (call,) = parse_calls('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}\n</tool_call>', [get_weather])
    assert call.execute() == "Oslo:celsius:2"


@pytest.mark.parametrize("fn,expected", [(numpy_style, {"x": "The number.", "y": "The factor."}), (sphinx_style, {"path": "Directory to list.", "recursive": "Descend into folders."})])
def test_callable_numpy_and_sphinx_docstrings(fn, expected):
    (spec,) = normalize_tools([fn])
    got = {k: v.get("description") for k, v in spec.parameters["properties"].items()}
    assert got == expected
    assert spec.description in ("Scale a number.", "List files.")


def test_callable_problems_are_collected():
    def f(*args, **kwargs):
        return None

    def g(a, /, b: int):
        return None

    with pytest.raises(SchemaError) as ei:
        normalize_tools([f, g])
    assert len(ei.value.problems) == 3
    assert "*args/**kwargs" in str(ei.value) and "positional-only" in str(ei.value)


def test_parse_docstring_plain_description_only():
    assert parse_docstring("Just text.\n\nMore.") == ("Just text.\n\nMore.", {})
    assert parse_docstring("") == ("", {})


@pytest.mark.parametrize("doc,desc,params", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse_docstring_table(doc, desc, params):
    assert parse_docstring(doc) == (desc, params)


# ------------------------------------------------------------- fast metaschema check == jsonschema
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=4),
                  st.lists(st.one_of(st.text(max_size=3), st.integers(0, 2)), max_size=3), st.just({}), st.just({"type": "string"}), st.just("(unclosed"))
_KEYS = ["type", "properties", "required", "items", "minLength", "maxLength", "pattern", "enum", "anyOf", "allOf", "minimum",
         "multipleOf", "additionalProperties", "prefixItems", "uniqueItems", "format", "$defs", "not", "minItems", "dependentRequired", "examples"]


@settings(max_examples=400, deadline=None)
@given(key=st.sampled_from(_KEYS), value=_JUNK, nested=st.booleans())
def test_fast_metaschema_check_agrees_with_jsonschema(key, value, nested):
    from jsonschema import Draft202012Validator

    from structcall.errors import Problem
    from structcall.tools import check_schema

    inner = {key: value}
    schema = {"type": "object", "properties": {"a": inner}} if nested else {"type": "object", **inner}
    problems: list[Problem] = []
    check_schema(schema, "", problems)
    reference = list(Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema))
    if key == "pattern" and isinstance(value, str):
        import re

        try:
            re.compile(value)
            ok = True
        except re.error:
            ok = False
        assert bool(problems) == (not ok)  # jsonschema does not check regex syntax without a format checker
        return
    assert bool(problems) == bool(reference), (schema, problems, [e.message for e in reference])


# ------------------------------------------------------------------ drafts, open objects, patterns
def test_old_draft_keywords_are_normalised_to_2020_12():
    (spec,) = normalize_tools([{"name": "f", "parameters": {
        "$schema": "http://json-schema.org/draft-04/schema#", "id": "urn:f", "type": "object",
        "properties": {
            "n": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
            "t": {"type": "array", "items": [{"type": "integer"}], "additionalItems": False},
            "r": {"$ref": "#/definitions/r", "maxLength": 2},
        },
        "dependencies": {"a": ["b"], "c": {"required": ["d"]}},
        "definitions": {"r": {"type": "string"}},
    }}])
    p = spec.parameters
    assert "$schema" not in p and "id" not in p and "dependencies" not in p
    assert p["dependentRequired"] == {"a": ["b"]} and p["dependentSchemas"] == {"c": {"required": ["d"]}}
    assert p["properties"]["n"] == {"type": "number", "exclusiveMinimum": 0}
    assert p["properties"]["t"] == {"type": "array", "prefixItems": [{"type": "integer"}], "items": False}
    assert p["properties"]["r"] == {"$ref": "#/definitions/r"}  # draft 4-7 ignore keywords beside $ref
    # 2020-12 (or no $schema) keeps keywords beside $ref
    (spec,) = normalize_tools([{"name": "f", "parameters": {"type": "object", "properties": {"r": {"$ref": "#/$defs/r", "maxLength": 2}}, "$defs": {"r": {"type": "string"}}}}])
    assert spec.parameters["properties"]["r"]["maxLength"] == 2


def test_dependencies_are_enforced_by_the_validator():
    tools = [{"name": "f", "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                                          "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "dependencies": {"a": ["b"]}}}]
    g = compile_tools(tools, format="json")
    assert [n.keyword for n in g.unenforced] == ["dependentRequired"]
    with pytest.raises(ToolCallError, match="dependency"):
        parse_calls('{"name": "f", "arguments": {"a": "x"}}', g)
    assert parse_calls('{"name": "f", "arguments": {"a": "x", "b": "y"}}', g)[0].arguments == {"a": "x", "b": "y"}


def test_free_form_argument_map_accepts_its_keys():
    tools = [{"name": "f", "parameters": {"type": "object", "additionalProperties": {"type": "string"}}}]
    (call,) = parse_calls('{"name": "f", "arguments": {"my_service": "up"}}', tools, format="json")
    assert call.arguments == {"my_service": "up"}
    with pytest.raises(ToolCallError) as ei:
        parse_calls('{"name": "f", "arguments": {"my_service": 1}}', tools, format="json")
    assert ei.value.kind == "type" and ei.value.pointer == "/0/arguments/my_service"


def test_pattern_keys_are_arguments_and_others_are_unknown():
    tools = [{"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}},
                                          "patternProperties": {"^x_[a-z]+$": {"type": "integer"}}}}]
    g = compile_tools(tools, format="json")
    assert g.accepts('{"name": "f", "arguments": {"a": 1, "x_y": 2}}')
    assert not g.accepts('{"name": "f", "arguments": {"a": 1, "zz": 2}}')
    assert parse_calls('{"name": "f", "arguments": {"x_y": 2}}', g)[0].arguments == {"x_y": 2}
    with pytest.raises(ToolCallError) as ei:
        parse_calls('{"name": "f", "arguments": {"zz": 2}}', g)
    assert ei.value.kind == "unknown_argument" and "'^x_[a-z]+$'" in ei.value.message
    # the closed default (the schema is silent on other keys) is reported with its pointer
    assert [n.pointer for n in g.capped if n.keyword == "additionalProperties"] == ["/0/parameters/additionalProperties"]


def test_strict_raises_for_a_key_pattern_the_grammar_cannot_express():
    from structcall import UnsupportedSchemaError

    tools = [{"name": "f", "parameters": {"type": "object", "patternProperties": {"^(?!admin)[a-z]+$": {"type": "integer"}}}}]
    assert any(n.keyword == "patternProperties" for n in compile_tools(tools, format="json").unenforced)
    with pytest.raises(UnsupportedSchemaError) as ei:
        compile_tools(tools, format="json", strict=True)
    assert ei.value.pointer == "/0/parameters/patternProperties/^(?!admin)[a-z]+$"


def test_depth_and_no_finite_value_are_schema_errors_with_pointers():
    s: dict = {"type": "string"}
    for _ in range(300):
        s = {"type": "object", "properties": {"x": s}}
    with pytest.raises(SchemaError, match="nested deeper than 200 levels") as ei:
        compile_tools([{"name": "f", "parameters": s}])
    assert ei.value.problems[0].pointer.startswith("/0/parameters/properties/x/properties/x")
    with pytest.raises(SchemaError, match="no finite value") as ei:
        compile_tools([{"name": "f", "parameters": {"type": "object", "properties": {"x": {"$ref": "#"}}, "required": ["x"]}}])
    assert [p.pointer for p in ei.value.problems] == ["/0/parameters"]
    # recursion with a way out compiles
    compile_tools([{"name": "f", "parameters": {"type": "object", "properties": {"x": {"$ref": "#"}}}}])


def test_pattern_engines():
    from structcall import patterns

    assert patterns.engine("^(a+)+$") == "re2"
    assert patterns.engine("^(?=a)b") == "regex"
    assert patterns.search("^(a+)+$", "a" * 10_000 + "!") is False
    assert patterns.search(r"^\d+$", "١٢") is False  # ASCII digits, as in the grammar (ECMA-262)
    with pytest.raises(patterns.PatternUndecided, match="could not be checked safely"):
        patterns.search("^(?=a)(a+)+$", "a" * 10_000 + "!")
