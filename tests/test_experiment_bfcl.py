"""BFCL evaluation: the real v4 data of the bfcl-eval package, and the hand-written v3-named
fixture in tests/fixtures/bfcl (BFCL's file layout and quirks)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from structcall.experiments.bfcl import CATEGORIES, check_categories, load_bfcl, package_data_dir
from structcall.experiments.verifier import verify

FIXTURE = Path(__file__).parent / "fixtures" / "bfcl"


def call(name, **args):
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n</tool_call>"


def test_loads_every_category_with_answers():
    items = load_bfcl(FIXTURE)
    cats = {i["subtask"] for i in items}
    assert cats == {"simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"}  # v3 "simple" read as v4
    assert len(items) == 10
    for i in items:
        assert i["expect"] == ("no_call" if i["subtask"] == "irrelevance" else "call")
        assert (i["ground_truth"] == []) == (i["subtask"] == "irrelevance")


@pytest.mark.parametrize("item_id, response, ok", [
    ("simple_0", call("geometry.triangle_area", base=6, height=4), True),              # int for float
    ("simple_0", call("geometry.triangle_area", base=6.0, height=4.0, unit="CM"), True),
    ("simple_0", call("geometry.triangle_area", base=6.0, height=4.0, unit="mm"), False),
    ("simple_1", call("math.factorial", number=7), True),
    ("simple_1", call("math_factorial", number=7), True),                              # the normalised name
    ("simple_1", call("math.factorial", number=7.0), False),                           # float for int
    ("multiple_0", call("finance.stock_price", ticker="aapl"), True),                  # case-insensitive
    ("multiple_0", call("math.factorial", number=1), False),                           # wrong function
    ("multiple_1", call("maps.route", start="Lyon", end="Geneva", avoid_tolls=True), True),
    ("multiple_1", call("maps.route", start="Lyon", end="Geneva", waypoints=[], avoid_tolls=True), True),
    ("multiple_1", call("maps.route", start="Lyon", end="Geneva"), False),              # avoid_tolls required by answer
    ("parallel_0", call("math.factorial", number=6) + "\n" + call("math.factorial", number=5), True),
    ("parallel_0", call("math.factorial", number=6), False),
    ("parallel_multiple_0", call("convert_temperature", value=0, from_scale="celsius", to_scale="kelvin") + "\n"
     + call("math.factorial", number=4), True),
    ("irrelevance_0", "I can't answer that with these tools.", True),
    ("irrelevance_0", call("math.factorial", number=3), False),
    ("irrelevance_1", '{"name": "finance.stock_price"', False),                        # broken call: not an abstention
])
def test_bfcl_ast_rules(item_id, response, ok):
    item = {i["id"]: i for i in load_bfcl(FIXTURE)}[item_id]
    v = verify(response, item, execute=False, format="hermes")
    assert v.ast_correct is ok, v
    assert v.exec_correct is None  # BFCL items are scored by AST only


def test_reads_every_v4_category_from_the_bfcl_eval_package():
    items = load_bfcl(categories=CATEGORIES, per_category=5, seed=0)
    by_cat = {c: [i for i in items if i["subtask"] == c] for c in CATEGORIES}
    assert all(len(v) == 5 for v in by_cat.values()), {c: len(v) for c, v in by_cat.items()}
    assert (package_data_dir() / "BFCL_v4_simple_python.json").is_file()
    for i in items:
        assert i["suite"] == "bfcl" and i["id"].startswith(i["subtask"].replace("_python", ""))
        assert (i["expect"] == "no_call") == (i["subtask"] in ("irrelevance", "live_irrelevance"))
        assert (i["ground_truth"] == []) == (i["expect"] == "no_call")
    # the whole file when no sample is asked for: v4 simple_python has 400 items (v4 renamed v3's "simple")
    assert len(load_bfcl(categories=["simple"])) == len(load_bfcl(categories=["simple_python"])) == 400
    # the same seed gives the same sample; another seed another one
    assert load_bfcl(categories=["multiple"], per_category=5, seed=0) == by_cat["multiple"]
    assert load_bfcl(categories=["multiple"], per_category=5, seed=1) != by_cat["multiple"]


def test_prompts_keep_parameter_descriptions():
    from structcall.compile import compile_tools
    from structcall.decoding.prompt import render_prompt
    from structcall.models import CHATML_TEMPLATE

    from structcall.experiments.models import train_task_tokenizer

    tok = train_task_tokenizer(["a plain ChatML tokenizer"] * 4, vocab_size=300)
    tok.chat_template = CHATML_TEMPLATE  # renders no tools: structcall writes the tool prompt
    item = load_bfcl(categories=["live_simple"], per_category=1)[0]
    prompt = render_prompt(tok, item["messages"], compile_tools(item["tools"], format="hermes"))
    described = [(name, p["description"]) for t in item["tools"] for name, p in t["parameters"]["properties"].items()
                 if p.get("description")]
    assert described and all(d in prompt for _, d in described)


def test_unknown_or_missing_categories_are_errors_never_skipped(tmp_path):
    with pytest.raises(ValueError, match=r"unknown BFCL category 'simple_pyton'; did you mean 'simple_python'"):
        load_bfcl(categories=["simple_pyton"])
    with pytest.raises(ValueError, match="unknown BFCL category 'multi_turn_base'"):
        check_categories(["multi_turn_base"])
    # a requested category the directory lacks is named
    with pytest.raises(FileNotFoundError, match="no question file for BFCL category live_simple"):
        load_bfcl(FIXTURE, categories=["simple", "live_simple"])


def test_bad_files_are_named(tmp_path):
    d = tmp_path / "b"
    shutil.copytree(FIXTURE, d)
    (d / "possible_answer" / "BFCL_v3_parallel.json").unlink()
    with pytest.raises(FileNotFoundError, match="BFCL_v3_parallel.json"):
        load_bfcl(d)
    shutil.rmtree(d)
    shutil.copytree(FIXTURE, d)
    with (d / "BFCL_v3_simple.json").open("a") as f:
        f.write("{not json\n")
    with pytest.raises(ValueError, match=r"BFCL_v3_simple.json:4"):
        load_bfcl(d)
    with pytest.raises(FileNotFoundError, match="no BFCL question files"):
        load_bfcl(tmp_path)


@pytest.mark.slow
def test_cli_scores_two_models_in_three_regimes(tmp_path, capsys):
    from structcall.models import build_tiny_model

    from structcall.experiments.cli import main
    from structcall.experiments.models import save_model, train_task_tokenizer

    texts = [json.dumps(i["tools"]) + i["messages"][0]["content"] for i in load_bfcl(FIXTURE)] * 3
    tok = train_task_tokenizer(texts, vocab_size=500)
    paths = []
    for seed in (0, 1):
        model = build_tiny_model(tok, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                 intermediate_size=64, seed=seed)
        paths.append(str(save_model(model, tok, tmp_path / f"m{seed}")))
    out = tmp_path / "out"
    args = ["experiment", "eval", "--bfcl", str(FIXTURE), "--out", str(out), "--max-new-tokens", "48", "--no-progress"]
    for p in paths:
        args += ["--model", p]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| model | regime | category |" in printed
    result = json.loads((out / "bfcl_results.json").read_text())
    assert set(result["metrics"]) == set(paths)
    rows = [json.loads(line) for line in (out / "bfcl_items.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 3 * 10  # models x (free, repaired, constrained) x items
    for r in rows:
        assert r["exec"] is None
        if r["regime"] == "constrained":
            # the grammar admits only schema-valid calls: no unknown tool/argument or type error can come out
            assert r["label"] not in ("misspelled_tool", "absent_tool", "unknown_argument", "type_error"), r
            if r["label"] == "unparseable":
                assert r["finish_reason"] == "length" or "call-like" in r["detail"] or "empty" in r["detail"], r


def _contradictory(rows):
    """Real BFCL v4 rows whose function docs contradict themselves ("type": "integer" with string enums)."""
    return [r for r in rows if any(p.get("type") == "integer" and any(isinstance(v, str) for v in p.get("enum", []))
                                   for f in r["function"] for p in f["parameters"].get("properties", {}).values())]


def test_function_docs_structcall_cannot_compile_are_left_out_and_reported():
    path = package_data_dir() / "BFCL_v4_live_multiple.json"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    bad = _contradictory(rows)
    assert bad, "live_multiple holds integer parameters with string enums"
    excluded: list[dict] = []
    items = load_bfcl(categories=["live_multiple"], excluded=excluded)
    assert len(items) + len(excluded) == len(rows)
    assert {x["id"] for x in excluded} >= {r["id"] for r in bad}
    assert not {x["id"] for x in excluded} & {i["id"] for i in items}
    assert all(x["subtask"] == "live_multiple" and "no value of enum/const" in x["reason"]
               and "/parameters/properties/" in x["reason"] for x in excluded)
    # file order is kept
    order = {r["id"]: n for n, r in enumerate(rows)}
    assert [order[i["id"]] for i in items] == sorted(order[i["id"]] for i in items)


def test_a_sampled_item_that_cannot_compile_is_replaced(tmp_path):
    # a directory of real rows: two usable live_multiple questions and every contradictory one
    src = package_data_dir()
    rows = [json.loads(line) for line in (src / "BFCL_v4_live_multiple.json").read_text().splitlines()]
    bad = _contradictory(rows)[:3]
    good = [r for r in rows if r not in _contradictory(rows)][:2]
    chosen = {r["id"] for r in bad + good}
    (tmp_path / "possible_answer").mkdir()
    (tmp_path / "BFCL_v4_live_multiple.json").write_text("".join(json.dumps(r) + "\n" for r in bad + good))
    answers = [line for line in (src / "possible_answer" / "BFCL_v4_live_multiple.json").read_text().splitlines()
               if json.loads(line)["id"] in chosen]
    (tmp_path / "possible_answer" / "BFCL_v4_live_multiple.json").write_text("\n".join(answers) + "\n")
    for seed in range(6):
        excluded: list[dict] = []
        items = load_bfcl(tmp_path, per_category=2, seed=seed, excluded=excluded)
        assert [i["id"] for i in items] == [r["id"] for r in good]  # the sample is refilled to 2 usable items
        assert {x["id"] for x in excluded} <= {r["id"] for r in bad}
