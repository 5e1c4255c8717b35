"""The task suite: every generator's gold validates, executes and is in the grammar; splits are
reproducible and disjoint in surface form; the knobs do what they say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from structcall import compile_tools, parse_calls
from structcall.render import render_calls as core_render

from structcall.experiments.tasks import REQUEST_ARGS, SUBTASKS, TARGET_FORMAT, TaskConfig, ToolTasks
from structcall.experiments.toolbox import DOMAINS, TOOLS, execute_call
from structcall.experiments.verifier import verify

N = 96  # 12 per subtask


@pytest.fixture(scope="module")
def train():
    return list(ToolTasks("train", N))


@pytest.fixture(scope="module")
def evals():
    return list(ToolTasks("eval", N))


def test_every_subtask_is_generated_and_tagged(train, evals):
    for exs in (train, evals):
        assert {e["subtask"] for e in exs} == set(SUBTASKS)
        for e in exs:
            assert e["id"].split("-")[1] == e["subtask"]
            assert e["expect"] == {"irrelevance": "no_call", "response_generation": "answer"}.get(e["subtask"], "call")


@pytest.mark.parametrize("split", ["train", "eval"])
def test_gold_calls_validate_execute_and_score_correct(split):
    for e in ToolTasks(split, N):
        calls = parse_calls(e["target"], e["tools"], format="hermes")
        assert [c.name for c in calls] == [g["name"] for g in e["gold_calls"]], e["id"]
        for g in e["gold_calls"]:
            result = execute_call(g["name"], g["arguments"])
            assert "error" not in result, (e["id"], g, result)
        v = verify(e["target"], e, format="hermes")
        assert v.ast_correct and v.exec_correct and v.format_valid, (e["id"], v)
        # every tool the gold uses is in context
        names = {t["function"]["name"] for t in e["tools"]}
        assert {g["name"] for g in e["gold_calls"]} <= names


def test_gold_targets_are_in_the_grammar_and_match_the_core_renderer(train):
    for e in train[:40]:
        g = compile_tools(e["tools"], format="hermes")
        assert g.accepts(e["target"]), e["id"]
        if e["gold_calls"]:
            assert core_render(e["gold_calls"], TARGET_FORMAT, tools=e["tools"]) == e["target"]


def test_history_tool_results_are_real_executions(train):
    for e in train:
        pending = {}
        for m in e["messages"]:
            for tc in m.get("tool_calls") or []:
                pending[tc["id"]] = tc["function"]
            if m["role"] == "tool":
                f = pending[m["tool_call_id"]]
                assert json.loads(m["content"]) == execute_call(f["name"], json.loads(f["arguments"]))


def test_generation_is_deterministic_and_seeded():
    a = ToolTasks("train", 16, TaskConfig(seed=3))
    b = ToolTasks("train", 16, TaskConfig(seed=3))
    c = ToolTasks("train", 16, TaskConfig(seed=4))
    assert [a.get_example(i) for i in range(16)] == [b.get_example(i) for i in range(16)]
    assert [a.get_example(i)["messages"] for i in range(16)] != [c.get_example(i)["messages"] for i in range(16)]


def test_train_and_eval_are_disjoint_in_surface_form():
    train = list(ToolTasks("train", 400))
    evals = list(ToolTasks("eval", 400))
    train_t = {t for e in train for t in e["templates"]}
    eval_t = {t for e in evals for t in e["templates"]}
    assert train_t and eval_t and not (train_t & eval_t)
    train_users = {m["content"] for e in train for m in e["messages"] if m["role"] == "user"}
    eval_users = {m["content"] for e in evals for m in e["messages"] if m["role"] == "user"}
    assert not (train_users & eval_users)


def test_knob_tools_in_context_and_similar_distractors():
    for k in (2, 6):
        for e in ToolTasks("train", 48, TaskConfig(tools_in_context=k)):
            assert e["knobs"]["tools_in_context"] == len(e["tools"]) >= k
            assert len({t["function"]["name"] for t in e["tools"]}) == len(e["tools"])
            if e["subtask"] in ("function_name", "irrelevance", "parameter_value"):
                assert len(e["tools"]) == k
    sims = [e for e in ToolTasks("eval", 80, TaskConfig(tools_in_context=3, distractors="similar"))
            if e["subtask"] == "function_name"]
    for e in sims:
        domain = TOOLS[e["gold_calls"][0]["name"]].domain
        same = [t for t in e["tools"] if TOOLS[t["function"]["name"]].domain == domain]
        assert len(same) == min(3, len(DOMAINS[domain]))


def test_knob_reasoning_steps_bounds_parameter_value():
    zero = [e for e in ToolTasks("train", 160, TaskConfig(reasoning_steps=0)) if e["subtask"] == "parameter_value"]
    assert zero and all(e["knobs"]["reasoning_steps"] == 0 for e in zero)
    two = [e for e in ToolTasks("train", 320, TaskConfig(reasoning_steps=2)) if e["subtask"] == "parameter_value"]
    assert max(e["knobs"]["reasoning_steps"] for e in two) >= 2


def test_irrelevance_has_no_fitting_tool_in_context():
    for e in ToolTasks("eval", 160):
        if e["subtask"] != "irrelevance":
            continue
        assert e["gold_calls"] == [] and e["ground_truth"] == []
        source = e["templates"][0].split("#")[0].split("+")[0]
        if source != "out_of_scope":  # a toolbox request whose whole domain is left out
            offered = {TOOLS[t["function"]["name"]].domain for t in e["tools"]}
            assert TOOLS[source].domain not in offered


def test_config_is_validated():
    with pytest.raises(ValueError, match="tools_in_context"):
        TaskConfig(tools_in_context=1)
    with pytest.raises(ValueError, match="distractors"):
        TaskConfig(distractors="close")
    with pytest.raises(ValueError, match="unknown"):
        TaskConfig(subtasks=("nested", "juggling"))
    with pytest.raises(ValueError, match="split"):
        ToolTasks("dev", 3)
    with pytest.raises(IndexError):
        ToolTasks("eval", 3).get_example(3)


def test_task_interface_evaluate(evals):
    t = ToolTasks("eval", N)
    e = t.get_example(5)
    assert t.num_examples() == N
    assert t.evaluate(e, e["target"])["ast_correct"] is True
    assert t.evaluate(e, "<tool_call>\n{")["label"] == "unparseable"
    # a run in another format scores its own rendering of the gold calls
    smol = core_render(e["gold_calls"], "smollm2", tools=e["tools"])
    assert smol != e["target"] and t.evaluate(e, smol, format="smollm2")["ast_correct"] is True


def test_all_text_is_ascii(train, evals):
    for e in train + evals:
        json.dumps(e, ensure_ascii=True).encode("ascii")
        assert json.dumps(e, ensure_ascii=False).isascii()


def _canonical(schema):
    """``schema`` without ``default`` keys, with sorted keys (the comparison ignores key order)."""
    if isinstance(schema, dict):
        return {k: _canonical(v) for k, v in sorted(schema.items()) if k != "default"}
    if isinstance(schema, list):
        return [_canonical(v) for v in schema]
    return schema


def test_toolbox_schemas_are_structcalls_schemas_of_the_signatures():
    """Every tool's schema is what structcall derives from its typed, documented Python function
    (defaults aside), and equals, byte for byte, the schemas the task suite has always shown
    (tests/fixtures/toolbox_tools.jsonl: one line per tool, in toolbox order)."""
    from structcall.tools import normalize_tools

    pinned = (Path(__file__).parent / "fixtures" / "toolbox_tools.jsonl").read_text().splitlines()
    assert [json.dumps({"domain": t.domain, **t.schema()}) for t in TOOLS.values()] == pinned
    for t in TOOLS.values():
        spec = normalize_tools([t.fn])[0]
        assert _canonical(spec.to_openai()) == _canonical(t.schema()), t.name


def test_every_toolbox_tool_has_a_plain_request():
    assert list(REQUEST_ARGS) == list(TOOLS)
