"""The helpers of benchmarks/vllm_bench.py (structcall's vLLM parser vs vLLM's hermes parser):
its BFCL requests come from the real bfcl-eval data, and its scoring counts valid and invalid
calls with jsonschema. The benchmark itself starts two vLLM servers (``make bench-vllm``); its
figures are reported, never asserted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `benchmarks` is a folder of the repository, not an installed package
    sys.path.insert(0, str(REPO))

from benchmarks.vllm_bench import CATEGORIES, bfcl_requests, json_schema, score, summarize, table  # noqa: E402


def test_requests_are_real_bfcl_items_as_chat_requests():
    reqs = bfcl_requests(2)
    assert [r["category"] for r in reqs] == [c for c in CATEGORIES for _ in range(2)]
    first = reqs[0]
    assert first["id"] == "simple_python_0" and first["messages"][0]["role"] == "user"
    assert first["tools"][0]["type"] == "function" and first["tools"][0]["function"]["name"] == "calculate_triangle_area"
    assert first["tools"][0]["function"]["parameters"]["type"] == "dict"  # BFCL's own type names, as sent


def test_scoring_maps_bfcl_types_and_counts_invalid_calls():
    assert json_schema({"type": "dict", "properties": {"x": {"type": "float"}, "t": {"type": "tuple"},
                                                        "a": {"type": "any"}}}) == \
        {"type": "object", "properties": {"x": {"type": "number"}, "t": {"type": "array"}, "a": {}}}
    req = bfcl_requests(1)[0]  # calculate_triangle_area(base: int, height: int, unit: str), base+height required
    calls = [("calculate_triangle_area", json.dumps({"base": 10, "height": 5})),
             ("calculate_triangle_area", json.dumps({"base": "10", "height": 5})),  # wrong type
             ("calculate_triangle_area", json.dumps({"base": 10})),  # missing argument
             ("no_such_tool", "{}"), ("calculate_triangle_area", "{not json")]
    assert score(req, calls) == (1, 4)
    rows = [{"latency_s": 2.0, "valid": 1, "invalid": 0, "status": 200},
            {"latency_s": 4.0, "valid": 0, "invalid": 2, "status": 200},
            {"latency_s": 1.0, "valid": 0, "invalid": 0, "status": 422}]
    s = summarize(rows)
    assert s == {"requests": 3, "valid_calls": 1, "invalid_calls_returned": 2, "no_usable_call": 2, "http_errors": 1,
                 "latency_median_s": 2.0, "latency_mean_s": 7.0 / 3}
    text = table({p: {c: s for c in ("required", "auto")} for p in ("structcall", "hermes")})
    assert "| invalid calls returned as valid | 2 | 2 | 2 | 2 |" in text
