"""The verifier against hand-written cases, including BFCL's quirks."""

from __future__ import annotations

import json

import pytest

from experiments.tasks import ground_truth_for, render_calls
from experiments.toolbox import TOOLS
from experiments.verifier import (FORMAT_LABELS, SEMANTIC_LABELS, ast_match, is_explicit_answer,
                                  standardize_string, values_equal, verify)


def item(calls, *, tools=("get_weather", "get_forecast", "convert_units", "add_to_cart", "multiply"), expect="call",
         facts=()):
    return {"tools": [TOOLS[t].schema() for t in tools], "expect": expect, "gold_calls": calls,
            "ground_truth": ground_truth_for(calls), "facts": list(facts)}


def call(name, **args):
    return {"name": name, "arguments": args}


def text(*calls):
    return render_calls(list(calls))


WEATHER = item([call("get_weather", city="Paris")])
TWO = item([call("get_weather", city="Paris"), call("convert_units", value=5, from_unit="kilometers", to_unit="miles")])


def test_gold_response_is_correct_by_ast_and_execution():
    v = verify(text(call("get_weather", city="Paris")), WEATHER)
    assert (v.format_valid, v.ast_correct, v.exec_correct, v.label, v.kind) == (True, True, True, None, "calls")


def test_strings_compare_case_and_punctuation_insensitively():
    assert standardize_string("New-York, NY.") == standardize_string("new york ny")
    v = verify(text(call("get_weather", city="paris")), WEATHER)
    assert v.ast_correct and v.exec_correct  # the tool itself is case-insensitive


def test_ast_and_execution_can_disagree():
    # AST-equal after BFCL normalisation, but the tool sees a different city
    v = verify(text(call("get_weather", city="Pa-ris")), WEATHER)
    assert v.ast_correct and v.exec_correct is False
    # AST-wrong (swapped factors), execution-equal (same product)
    m = item([call("multiply", a=4, b=3)])
    v = verify(text(call("multiply", a=3, b=4)), m)
    assert (v.ast_correct, v.exec_correct, v.label) == (False, True, "wrong_value")


def test_int_for_float_is_accepted_but_not_the_reverse():
    conv = item([call("convert_units", value=5.0, from_unit="kilometers", to_unit="miles")])
    assert verify(text(call("convert_units", value=5, from_unit="kilometers", to_unit="miles")), conv).ast_correct
    cart = item([call("add_to_cart", item="notebook", quantity=3)])
    v = verify('<tool_call>\n{"name": "add_to_cart", "arguments": {"item": "notebook", "quantity": 3.0}}\n</tool_call>', cart)
    assert (v.format_valid, v.label, v.category) == (False, "type_error", "format")
    assert values_equal(3, 3.0, {"type": "number"}) == (True, None)
    assert values_equal(3.0, 3, {"type": "integer"}) == (False, "type_error")


def test_optional_argument_may_be_omitted_or_default_but_not_other():
    assert ground_truth_for([call("get_weather", city="Paris")]) == [{"get_weather": {"city": ["Paris"], "unit": ["", "celsius"]}}]
    assert verify(text(call("get_weather", city="Paris", unit="celsius")), WEATHER).ast_correct
    v = verify(text(call("get_weather", city="Paris", unit="fahrenheit")), WEATHER)
    assert (v.format_valid, v.label, v.exec_correct) == (True, "wrong_value", False)


def test_missing_optional_argument_the_request_named_is_semantic():
    f = item([call("get_weather", city="Oslo", unit="fahrenheit")])
    v = verify(text(call("get_weather", city="Oslo")), f)
    assert (v.format_valid, v.label, v.category) == (True, "wrong_value", "semantic")


@pytest.mark.parametrize("response, label", [
    ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"\n</tool_call>', "unparseable"),
    ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}', "unparseable"),
    ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call> done', "unparseable"),
    ('{"name": "get_weather", "arguments": {"city": "Paris"}}', "unparseable"),
    ('get_weather(city="Paris")', "unparseable"),
    ("", "unparseable"),
    ('<tool_call>\n{"name": "get_wether", "arguments": {"city": "Paris"}}\n</tool_call>', "unknown_tool"),
    ('<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call>', "unknown_argument"),
    ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "kelvin"}}\n</tool_call>', "type_error"),
    ('<tool_call>\n{"name": "get_weather", "arguments": {"city": 7}}\n</tool_call>', "type_error"),
    ('<tool_call>\n{"name": "get_weather", "arguments": {}}\n</tool_call>', "type_error"),
])
def test_format_failures(response, label):
    v = verify(response, WEATHER)
    assert (v.label, v.category, v.format_valid, v.ast_correct, v.exec_correct) == (label, "format", False, False, False)


@pytest.mark.parametrize("calls, label", [
    ([call("get_forecast", city="Paris", days=3)], "wrong_tool"),
    ([call("get_weather", city="Rome")], "wrong_value"),
    ([call("get_weather", city="Paris"), call("get_weather", city="Rome")], "extra_call"),
])
def test_semantic_failures(calls, label):
    v = verify(text(*calls), WEATHER)
    assert (v.label, v.category, v.format_valid, v.ast_correct) == (label, "semantic", True, False)


def test_parallel_calls_match_order_free_all_or_nothing():
    a, b = TWO["gold_calls"]
    assert verify(text(b, a), TWO).ast_correct
    assert verify(text(a, b), TWO).exec_correct
    v = verify(text(a), TWO)
    assert v.label == "missing_call"
    v = verify(text(b, call("get_weather", city="Lima")), TWO)
    assert (v.ast_correct, v.label) == (False, "wrong_value")
    v = verify(text(b, call("get_forecast", city="Paris", days=2)), TWO)
    assert v.label == "wrong_tool"


def test_duplicate_parallel_calls_need_distinct_matches():
    gold = [call("get_weather", city="Paris"), call("get_weather", city="Rome")]
    ok, label, _ = ast_match([("get_weather", {"city": "Paris"})] * 2, ground_truth_for(gold),
                             {"get_weather": TOOLS["get_weather"].parameters})
    assert (ok, label) == (False, "wrong_value")


def test_abstention_only_from_an_explicit_answer():
    irr = item([], expect="no_call")
    v = verify("Sorry, none of my tools can do that.", irr)
    assert (v.ast_correct, v.exec_correct, v.format_valid, v.kind) == (True, True, True, "text")
    # a broken call is a format failure, never a correct abstention
    for broken in ('<tool_call>\n{"name": ', '{"name": "get_weather"}', "<tool_call", "   "):
        v = verify(broken, irr)
        assert (v.ast_correct, v.label) == (False, "unparseable"), broken
    v = verify(text(call("get_weather", city="Paris")), irr)
    assert (v.label, v.category, v.format_valid) == ("wrong_abstention", "semantic", True)
    # and a text answer where a call was due is a wrong abstention
    v = verify("I cannot help.", WEATHER)
    assert (v.label, v.format_valid, v.kind) == ("wrong_abstention", True, "text")
    assert not is_explicit_answer("ok <tool_call> maybe")


def test_truncated_text_is_not_an_answer():
    irr = item([], expect="no_call")
    v = verify("Sorry, none of my tools can", irr, truncated=True)
    assert (v.label, v.format_valid) == ("unparseable", False)


def test_response_generation_checks_the_facts():
    ans = item([], expect="answer", facts=["18", "sunny", "45.0"])
    assert verify("It is 18 degrees and sunny; the price was 45 USD.", ans).ast_correct
    v = verify("It is 18 degrees and cloudy; 45.", ans)
    assert (v.label, v.format_valid) == ("wrong_value", True)
    v = verify(text(call("get_weather", city="Paris")), ans)
    assert v.label == "wrong_abstention"


def test_bfcl_quirks_dict_float_types_and_dotted_names():
    bfcl_tools = [{"name": "math.factorial", "description": "Factorial.",
                   "parameters": {"type": "dict", "properties": {"number": {"type": "integer"}}, "required": ["number"]}},
                  {"name": "geometry.circle_area", "description": "Area.",
                   "parameters": {"type": "dict", "properties": {"radius": {"type": "float"},
                                                                 "units": {"type": "string"}}, "required": ["radius"]}}]
    ex = {"tools": bfcl_tools, "expect": "call", "gold_calls": None,
          "ground_truth": [{"geometry.circle_area": {"radius": [5.0], "units": ["cm", ""]}}]}
    ok = '<tool_call>\n{"name": "geometry.circle_area", "arguments": {"radius": 5}}\n</tool_call>'
    v = verify(ok, ex, execute=False)
    assert (v.ast_correct, v.exec_correct, v.calls[0]["name"]) == (True, None, "geometry.circle_area")
    v = verify('<tool_call>\n{"name": "geometry.circle_area", "arguments": {"radius": 5, "units": "CM"}}\n</tool_call>', ex,
               execute=False)
    assert v.ast_correct
    fact = {"tools": bfcl_tools, "expect": "call", "gold_calls": None,
            "ground_truth": [{"math.factorial": {"number": [5]}}]}
    v = verify('<tool_call>\n{"name": "math.factorial", "arguments": {"number": 5.0}}\n</tool_call>', fact, execute=False)
    assert (v.ast_correct, v.label) == (False, "type_error")
    v = verify('<tool_call>\n{"name": "math.factorial", "arguments": {"number": 5.5}}\n</tool_call>', fact, execute=False)
    assert (v.label, v.category) == ("type_error", "format")


def test_labels_partition_into_format_and_semantic():
    assert set(FORMAT_LABELS).isdisjoint(SEMANTIC_LABELS)
    assert len(FORMAT_LABELS) == 4 and len(SEMANTIC_LABELS) == 5


def test_verdict_is_json_serialisable():
    json.dumps(verify(text(call("get_weather", city="Paris")), WEATHER).as_dict())


def test_name_accuracy_separates_choosing_the_function_from_filling_it():
    assert verify(text(call("get_weather", city="Rome")), WEATHER).names_correct  # right function, wrong value
    assert not verify(text(call("get_forecast", city="Paris", days=2)), WEATHER).names_correct
    assert not verify('<tool_call>\n{"name": "get_weather", "arguments": {"city": 7}}\n</tool_call>', WEATHER).names_correct
    assert not verify(text(call("get_weather", city="Paris"), call("get_weather", city="Oslo")), WEATHER).names_correct
    assert verify(text(*reversed(TWO["gold_calls"])), TWO).names_correct
    assert verify("No tool fits.", item([], expect="no_call")).names_correct
    assert verify("It is cold.", item([], expect="answer", facts=["18"])).names_correct  # right decision, wrong fact
    assert not verify("I cannot.", WEATHER).names_correct
