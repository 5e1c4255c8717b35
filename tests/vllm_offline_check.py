"""Batch inference with ``vllm.LLM`` through structcall.serving.offline, run with the vLLM
environment's python:

    .venv-vllm/bin/python tests/vllm_offline_check.py MODEL_DIR TOOLS_JSON

Uses the ``guidance`` structured-outputs backend (so the grammar goes to vLLM in llguidance's
Lark dialect; the server tests cover xgrammar's EBNF) with the ``json`` and ``pythonic``
formats. (Hermes is left to the xgrammar server tests: llguidance 1.7.6 treats every added
token as special, so a tokenizer whose ``<tool_call>`` is one added token, like Qwen2.5's and
this test model's, gets a mask that allows that token and a matcher that then rejects it.)
Prints one line "STRUCTCALL-RESULT <json>" with every result (tests/test_vllm_offline.py checks it).
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    from vllm import LLM

    from structcall.serving.offline import generate_tool_calls, llm_backend
    from structcall.serving.vllm_plugin import dialect_for_backend

    model_dir, tools = sys.argv[1], json.loads(sys.argv[2])
    llm = LLM(model=model_dir, dtype="float32", enforce_eager=True, gpu_memory_utilization=0.2,
              max_model_len=2048, structured_outputs_config={"backend": "guidance"})
    conversations = [[{"role": "user", "content": f"Request number {i}: weather or a sum?"}] for i in range(8)]
    report: dict = {"backend": llm_backend(llm), "dialect": dialect_for_backend(llm_backend(llm)), "runs": {}}
    for label, kw in {
        "json/required": dict(format="json", tool_choice="required"),
        "json/named_single": dict(format="json", tool_choice="add", parallel_tool_calls=False),
        "json/auto": dict(format="json", tool_choice="auto", sampling={"max_tokens": 48, "temperature": 1.0}),
        "pythonic/required_single": dict(format="pythonic", tool_choice="required", parallel_tool_calls=False),
    }.items():
        kw.setdefault("sampling", {"max_tokens": 700, "temperature": 1.0})
        results = generate_tool_calls(llm, conversations, tools, **kw)
        report["runs"][label] = [
            {"text": r.text, "content": r.content, "finish_reason": r.finish_reason,
             "calls": [[c.to_openai()["function"]["name"], c.to_openai()["function"]["arguments"]] for c in r.calls],
             "error": None if r.ok else r.error.feedback}
            for r in results
        ]
    print("STRUCTCALL-RESULT " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
