"""The benchmark (benchmarks/): its helpers, and a smoke run of ``python -m benchmarks.run --quick``.

These tests check that the benchmark runs and that what it writes is well-formed (a Markdown
report with its tables, a JSON file with the expected keys, PNG plots). They never check how
fast anything is: speed targets are reported by the benchmark, not asserted.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `benchmarks` is a folder of the repository, not an installed package
    sys.path.insert(0, str(REPO))

from benchmarks.e2e_bench import check_output, whitespace_runaway  # noqa: E402
from benchmarks.report import _table, evaluate_targets  # noqa: E402
from benchmarks.timing import percentile, run_forked, summary  # noqa: E402
from benchmarks.workload import E2E_PROMPTS, E2E_TOOLS, call_schema, make_tools  # noqa: E402
from structcall import compile_tools, parse_calls  # noqa: E402

BACKENDS = ("llguidance", "outlines", "xgrammar")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------- helpers
def test_percentile_and_summary():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([3.0], 99) == 3.0
    s = summary([0.003, 0.001, 0.002])
    assert s["p50"] == 0.002 and s["max"] == 0.003 and s["n"] == 3
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_run_forked_reports_result_error_and_timeout():
    assert run_forked(lambda: (1.5, 2), 10) == ("ok", (1.5, 2))
    status, message = run_forked(lambda: 1 / 0, 10)
    assert status == "error" and "ZeroDivisionError" in message
    t0 = time.perf_counter()
    assert run_forked(lambda: time.sleep(30), 0.5) == ("timeout", 0.5)
    assert time.perf_counter() - t0 < 10  # the child was killed, not waited for


def test_make_tools_is_deterministic_prefix_stable_and_compiles():
    assert make_tools(10) == make_tools(10)
    assert make_tools(500)[:10] == make_tools(10)
    names = [t["function"]["name"] for t in make_tools(500)]
    assert len(set(names)) == 500
    with pytest.raises(ValueError, match="positive integer"):
        make_tools(0)
    g = compile_tools(make_tools(25), format="json", tool_choice="required", parallel_tool_calls=False)
    assert len(g.specs) == 25


def test_call_schema_is_the_language_of_the_json_workload():
    import jsonschema

    schema = call_schema(E2E_TOOLS)
    jsonschema.Draft7Validator.check_schema(schema)
    good = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
    jsonschema.validate(good, schema)
    assert parse_calls(json.dumps(good), E2E_TOOLS, format="json")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "get_weather", "arguments": {"city": "Paris", "unit": "kelvin"}}, schema)
    assert call_schema(E2E_TOOLS[:1])["properties"]["name"] == {"const": "get_weather"}
    # each benchmark mode asks for no more prompts than the workload has (a slice would quietly
    # give fewer), and no prompt is asked twice
    from benchmarks.run import Settings

    for s in (Settings.quick(), Settings.full()):
        assert max(s.tiny_prompts, s.smollm2_prompts) <= len(E2E_PROMPTS), s.mode
    assert len(set(E2E_PROMPTS)) == len(E2E_PROMPTS)


def test_output_checks():
    assert check_output('{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "fahrenheit"}}') == (True, "")
    valid, kind = check_output('{"name": "get_weather", "arguments": {"city": "Oslo"}}')
    assert not valid and kind in ("missing_argument", "parse")
    assert check_output("\n\n\n")[0] is False
    assert whitespace_runaway('{"name": "x", \n\n\n\n\n\n\n\n', "length")
    assert not whitespace_runaway('{"name": "x", \n\n\n\n\n\n\n\n', "stop")
    assert not whitespace_runaway('{"name": "get_weather", "arguments": {"city": "Osloooooo', "length")


def test_targets_say_by_how_much_they_are_missed():
    compile_rows = [
        {"vocab": 1000, "workload": "w", "tools": 100, "tokenizer": "t", "system": "structcall core",
         "cold_s": 0.020, "total_cold_s": 0.020, "cached_s": 0.0001},
        {"vocab": 1000, "workload": "w", "tools": 100, "tokenizer": "t", "system": "structcall + llguidance",
         "cold_s": 0.080, "total_cold_s": 0.100, "cached_s": 0.002},
    ]
    mask_rows = [{"vocab": 1000, "grammar": "g", "system": "structcall + llguidance", "p99": 0.003,
                  "p99_steady": 0.0004, "first_s": 0.01}]
    batch_rows = [{"system": "structcall + llguidance", "ws_runaway": 2, "outputs": 8}]
    targets = evaluate_targets({"compile": compile_rows, "mask": mask_rows, "batch": batch_rows})
    verdicts = {t["target"]: t for t in targets}
    core = verdicts["100 tools compile in 50 ms or less, cold (compile_tools)"]
    assert core["met"] is True and core["verdict"] == "met"
    total = verdicts["100 tools compile in 50 ms or less, cold (compile_tools + llguidance)"]
    assert total["met"] is False and total["verdict"].startswith("missed by x2.00 (100.0 ms vs 50.0 ms)")
    cached = verdicts["100 tools under 1 ms from cache (compile_tools hit + llguidance matcher)"]
    assert cached["met"] is False and "x2.00" in cached["verdict"]
    mask = next(t for t in targets if t["target"].startswith("mask p99"))
    assert mask["met"] is True and "3.0 ms" in mask["verdict"]  # the raw p99 is still shown
    runaway = verdicts["0 runs ending at the token limit because of whitespace"]
    assert runaway["met"] is False and runaway["verdict"] == "missed by 2"


def test_markdown_table_escapes_cells():
    table = _table(["a", "b"], [["x|y", "line\nbreak"]])
    lines = table.splitlines()
    assert lines[0] == "| a | b |" and lines[1] == "|---|---|"
    assert lines[2] == "| x\\|y | line break |"


# --------------------------------------------------------------------------- the quick run
def _table_blocks(md: str) -> list[list[str]]:
    blocks, current = [], []
    for line in md.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _cells(line: str) -> int:
    return len(line.replace("\\|", "").strip().strip("|").split("|"))


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x >= 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "TORCHDYNAMO_DISABLE": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--out", str(out)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"benchmark failed:\n{proc.stderr[-4000:]}"
    return out, proc


@pytest.mark.slow
def test_quick_run_writes_well_formed_json(quick_run):
    out, _ = quick_run
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for key in ("mode", "started", "duration_s", "machine", "versions", "settings", "backends", "models",
                "compile", "mask", "e2e", "batch", "targets", "plots", "facts"):
        assert key in results, key
    assert results["mode"] == "quick"
    assert results["machine"]["cpu_count"] >= 1 and results["machine"]["cpu"]
    assert results["versions"]["llguidance"] and results["versions"]["outlines"]
    backends = results["backends"]
    assert backends[0] == "llguidance" and set(backends) <= set(BACKENDS)

    systems = {r["system"] for r in results["compile"]}
    assert {"structcall core", "outlines (own JSON schema)"} | {f"structcall + {b}" for b in backends} <= systems
    assert {r["tools"] for r in results["compile"]} == {1, 10, 100}
    library = [r for r in results["compile"] if r["workload"] == "BFCL tools, hermes/auto/parallel"]
    assert {r["tools"] for r in library} == {100} and {r["system"] for r in library} >= {"structcall core"}
    assert "100 BFCL tools, hermes/auto/parallel" in {r["grammar"] for r in results["mask"]}
    for r in results["compile"]:
        assert r["status"] in ("ok", "timeout", "error", "skipped")
        if r["status"] == "ok":
            assert _finite(r["cold_s"]) and _finite(r["total_cold_s"]) and r["total_cold_s"] >= r["cold_s"] * 0.999
            if r["system"].startswith("structcall") and r["cached_s"] is not None:
                assert _finite(r["cached_s"])
        else:
            assert r["cold_s"] is None and r["note"]
    # the context-free backends compile every quick grammar; only outlines-core may run out of time
    for r in results["compile"]:
        if r["system"] in ("structcall core", "structcall + llguidance"):
            assert r["status"] == "ok", r

    for r in results["mask"]:
        assert r["n"] > 0 and _finite(r["p50"]) and r["p50"] <= r["p99"] <= r["max"]
        assert _finite(r["p99_steady"]) and _finite(r["first_s"])
        if r["system"].startswith("structcall"):
            assert r["rejected_walks"] == 0, r  # canonical tokens of valid outputs are never refused

    e2e = results["e2e"]["tiny"]
    rows = {r["system"]: r for r in e2e["rows"]}
    expected = {"HF generate, same length", "HF generate, free", "structcall loop, no grammar", "outlines generator"}
    for b in backends:
        expected |= {f"structcall + {b}", f"structcall + {b}, no fast-forward"}
    assert set(rows) == expected
    assert rows["HF generate, same length"]["time_ratio"] == pytest.approx(1.0)
    for name, r in rows.items():
        assert r["runs"] == len(results["models"]["tiny"]["prompts"]) * results["models"]["tiny"]["repeats"]
        assert _finite(r["time_s"]) and _finite(r["time_ratio"]) and _finite(r["tok_per_s_ratio"])
        assert 0.0 <= r["forced_share"] <= 1.0
        if name.startswith("structcall + "):
            # every constrained output parses and validates unless it ran into the token limit
            assert r["valid"] + r["length"] == r["runs"], r
            assert r["ws_runaway"] == 0
            assert (r["forced_share"] > 0) == ("no fast-forward" not in name)
    assert len(e2e["reference_lengths"]) == len(results["models"]["tiny"]["prompts"])

    sizes = sorted({r["batch"] for r in results["batch"]})
    assert sizes == results["settings"]["tiny_batch_sizes"]
    for r in results["batch"]:
        assert r["outputs"] == r["batch"] * r["runs"] and _finite(r["tok_per_s"])

    for t in results["targets"]:
        assert t["met"] in (True, False, None)
        assert t["verdict"] == "met" or t["verdict"].startswith(("met — ", "missed by", "not measured"))
    assert any(t["target"].startswith("0 runs ending") for t in results["targets"])
    assert results["facts"]["tiny: outlines_prompt_text_identical"] is True


@pytest.mark.slow
def test_quick_run_writes_markdown_tables_and_plots(quick_run):
    out, proc = quick_run
    md = (out / "results.md").read_text(encoding="utf-8")
    for heading in ("# structcall benchmark", "## Targets", "## 1. Grammar compile time", "## 2. Per-token mask time",
                    "## 3. End-to-end tool calls: tiny", "## 4. Batch scaling"):
        assert heading in md, heading
    assert "CPU cores" in md  # the machine is stated
    blocks = _table_blocks(md)
    assert len(blocks) >= 5
    for block in blocks:
        assert len(block) >= 3, block  # header, separator, at least one row
        assert set(block[1].replace("|", "")) == {"-"}
        width = _cells(block[0])
        assert all(_cells(line) == width for line in block), block
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(blocks[0]) == 2 + len(results["targets"])
    assert md in proc.stdout  # the report is also printed

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg

    assert sorted(results["plots"]) == ["batch.png", "compile.png", "e2e.png", "mask.png"]
    for name in results["plots"]:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC)
        image = mpimg.imread(out / name)
        assert image.shape[0] > 100 and image.shape[1] > 100
