"""The verifier against hand-written cases, including BFCL's quirks."""

from __future__ import annotations

import functools
import json

import pytest

from structcall.render import render_calls

from structcall.experiments.tasks import ground_truth_for
from structcall.experiments.toolbox import TOOLS
from structcall.experiments import verifier
from structcall.experiments.verifier import (DECISION_LABELS, FAMILY, FORMAT_LABELS, SEMANTIC_LABELS, ast_match,
                                  is_explicit_answer, nearest_tool, standardize_string, values_equal)

#: every response below is Hermes text (``text`` renders the calls with ``render_calls(..., "hermes")``)
verify = functools.partial(verifier.verify, format="hermes")


def item(calls, *, tools=("get_weather", "get_forecast", "convert_units", "add_to_cart", "multiply"), expect="call",
         facts=()):
    return {"tools": [TOOLS[t].schema() for t in tools], "expect": expect, "gold_calls": calls,
            "ground_truth": ground_truth_for(calls), "facts": list(facts)}


def call(name, **args):
    return {"name": name, "arguments": args}


def text(*calls):
    return render_calls(list(calls), "hermes")


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
    ('<tool_call>\n{"name": "get_wether", "arguments": {"city": "Paris"}}\n</tool_call>', "misspelled_tool"),
    ('<tool_call>\n{"name": "getWeather", "arguments": {"city": "Paris"}}\n</tool_call>', "misspelled_tool"),
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
    assert (v.label, v.category, v.format_valid, v.decision) == ("call_not_due", "decision", True, "call")
    # and a text answer where a call was due is a decision error
    v = verify("I cannot help.", WEATHER)
    assert (v.label, v.category, v.format_valid, v.kind) == ("text_not_call", "decision", True, "text")
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
    assert v.label == "call_not_due"


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


def test_labels_partition_into_three_families():
    assert set(FORMAT_LABELS).isdisjoint(SEMANTIC_LABELS) and set(DECISION_LABELS).isdisjoint(FORMAT_LABELS + SEMANTIC_LABELS)
    assert (len(FORMAT_LABELS), len(DECISION_LABELS), len(SEMANTIC_LABELS)) == (4, 2, 5)
    assert set(FAMILY.values()) == {"format", "decision", "semantic"}


def labels(v):
    return [(e["family"], e["label"]) for e in v.errors]


def test_a_call_on_a_no_call_item_is_a_decision_error_even_when_broken():
    irr = item([], expect="no_call")
    v = verify(text(call("get_weather", city="Paris")), irr)
    assert labels(v) == [("decision", "call_not_due")] and v.format_valid and not v.repairable
    # a misspelled call where no call is due keeps both errors, and no repair makes it right
    v = verify(text(call("getWeather", city="Paris")), irr)
    assert labels(v) == [("format", "misspelled_tool"), ("decision", "call_not_due")]
    assert not v.repaired_correct and not v.format_valid
    # a call to a tool that exists nowhere: the decision error only (nothing was due)
    v = verify(text(call("book_flight", origin="Oslo")), irr)
    assert labels(v) == [("decision", "call_not_due")]


def test_misspelled_in_context_tool_is_format_and_repairable():
    assert nearest_tool("getWeather", ["get_weather", "get_forecast"]) == "get_weather"
    assert nearest_tool("get_wether", ["get_weather", "get_forecast"]) == "get_weather"
    assert nearest_tool("get_stock_price", ["get_weather", "get_forecast"]) is None
    v = verify(text(call("getWeather", city="Paris")), WEATHER)
    assert labels(v) == [("format", "misspelled_tool")]
    assert (v.format_valid, v.ast_correct, v.repairable, v.repaired_correct, v.repaired_valid) == (False, False, True, True, True)
    # misspelled and a wrong value: both errors kept, the repair does not make it right
    v = verify(text(call("getWeather", city="Rome")), WEATHER)
    assert labels(v) == [("format", "misspelled_tool"), ("semantic", "wrong_value")]
    assert (v.repairable, v.repaired_valid, v.names_correct) == (False, True, False)


def test_absent_tool_on_a_call_item_is_semantic():
    v = verify(text(call("get_stock_price", symbol="ACME")), WEATHER)
    assert labels(v) == [("semantic", "absent_tool")]
    assert (v.format_valid, v.ast_correct, v.repairable) == (True, False, False)


def test_lenient_repairs_and_what_they_cannot_repair():
    good = text(call("get_weather", city="Paris"))
    for slip in ("```\n" + good + "\n```", good + "\nDone!", good.replace('"', "'")):
        v = verify(slip, WEATHER)
        assert ("format", "unparseable") in labels(v) and v.repairable and v.repaired_correct, slip
    for slip in ("", '<tool_call>\n{"name": ', text(call("get_weather", location="Paris"))):
        v = verify(slip, WEATHER)
        assert not v.repairable and not v.repaired_correct, slip
    # a correct output is correct in the repair regime too, and not "repairable"
    v = verify(good, WEATHER)
    assert (v.repaired_correct, v.repairable, v.errors) == (True, False, [])


def test_every_error_is_kept():
    # a misspelled tool whose arguments are also broken: both format errors
    v = verify(text(call("getWeather", location="Paris")), WEATHER)
    assert {"misspelled_tool", "unknown_argument"} <= {e["label"] for e in v.errors}
    # two calls, one misspelled, one with a wrong value: format + semantic
    v = verify(text(call("getWeather", city="Paris"), call("convert_units", value=6, from_unit="kilometers",
                                                          to_unit="miles")), TWO)
    assert labels(v) == [("format", "misspelled_tool"), ("semantic", "wrong_value")]


def test_native_empty_call_list_is_a_no_call_reply():
    from structcall.experiments.verifier import is_no_call_reply

    assert is_no_call_reply("<tool_call>[]</tool_call>") and is_no_call_reply("No tool fits.")
    assert not is_no_call_reply("<tool_call>[{}]</tool_call>")


def test_verdict_is_json_serialisable():
    for output in (text(call("get_weather", city="Paris")), text(call("get_weather", city="Oslo")), '<tool_call>\n{"name": '):
        v = verify(output, WEATHER)
        d = v.as_dict()
        assert json.loads(json.dumps(d)) == d, output  # only JSON types: no tuple, set or object survives as itself
        assert (d["ast_correct"], d["label"], d["calls"], d["errors"]) == (v.ast_correct, v.label, v.calls, v.errors)


def test_name_accuracy_separates_choosing_the_function_from_filling_it():
    assert verify(text(call("get_weather", city="Rome")), WEATHER).names_correct  # right function, wrong value
    assert not verify(text(call("get_forecast", city="Paris", days=2)), WEATHER).names_correct
    assert not verify('<tool_call>\n{"name": "get_weather", "arguments": {"city": 7}}\n</tool_call>', WEATHER).names_correct
    assert not verify(text(call("get_weather", city="Paris"), call("get_weather", city="Oslo")), WEATHER).names_correct
    assert verify(text(*reversed(TWO["gold_calls"])), TWO).names_correct
    assert verify("No tool fits.", item([], expect="no_call")).names_correct
    assert verify("It is cold.", item([], expect="answer", facts=["18"])).names_correct  # right decision, wrong fact
    assert not verify("I cannot.", WEATHER).names_correct
