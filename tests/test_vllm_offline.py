"""Batch inference with ``vllm.LLM`` through ``structcall.serving.offline``.

Runs ``tests/vllm_offline_check.py`` with the vLLM environment's python: a real ``vllm.LLM``
(guidance backend, so the grammar travels in llguidance's Lark dialect) generates for a batch
of conversations in the json and pythonic formats; every call must validate against its
schema (checked here with jsonschema, independently of structcall).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from vllm_server import run_vllm_script, vllm_model_dir, vllm_workdir  # noqa: F401
from tools_fixtures import function_tool

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("vllm_offline_check.py")
BOUNDED_INT = {"type": "integer", "minimum": -1000, "maximum": 1000}
TOOLS = [
    function_tool("get_weather", {"city": {"type": "string", "maxLength": 12}, "unit": {"enum": ["celsius", "fahrenheit"]}},
                  ["city"], additionalProperties=False),
    function_tool("add", {"a": BOUNDED_INT, "b": BOUNDED_INT}, ["a", "b"], additionalProperties=False),
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}


def test_offline_batch_generation_returns_valid_calls(vllm_model_dir, vllm_workdir):
    report = run_vllm_script(SCRIPT, str(vllm_model_dir), json.dumps(TOOLS), cwd=vllm_workdir)
    assert report["backend"] == "guidance" and report["dialect"] == "lark"
    runs = report["runs"]
    assert set(runs) == {"json/required", "json/named_single", "json/auto", "pythonic/required_single"}
    for label, results in runs.items():
        assert len(results) == 8
        for r in results:
            assert r["error"] is None, f"{label}: {r['error']}\n{r['text']!r}"
            for name, arguments in r["calls"]:
                jsonschema.validate(json.loads(arguments), SCHEMAS[name])
            if label != "json/auto":
                assert r["calls"], f"{label}: no call in {r['text']!r}"
                assert r["finish_reason"] == "stop"
            if label in ("json/named_single", "pythonic/required_single"):
                assert len(r["calls"]) == 1
            if label == "json/named_single":
                assert r["calls"][0][0] == "add"
    # auto: the random model writes text (never starting with a call opener), returned as content
    for r in runs["json/auto"]:
        if not r["calls"]:
            assert r["content"] == r["text"] and not r["text"].startswith(("{", "["))
