"""Checks of StructcallToolParser without a model, run with the vLLM environment's python.

    .venv-vllm/bin/python tests/vllm_parser_check.py MODEL_DIR [N_SAMPLES]

Builds real vLLM request objects (Chat Completions and Responses), lets the parser adjust
them, and feeds it outputs sampled from structcall's own grammar (`structcall.testing.sample`)
in every format, non-streaming and streamed in random chunks, through vLLM's own `Parser`
wrapper (``parse`` and ``parse_delta``, as the server calls them). Outputs cut at a random
point must give the same outcome on both paths: the complete calls before the cut, or an
error that names max_tokens. Prints one line
"STRUCTCALL-RESULT {"cases": ..., "calls": ..., "failures": [...]}" (tests/test_vllm_parser.py reads it).
"""

from __future__ import annotations

import json
import os
import random
import sys
import traceback

from transformers import AutoTokenizer
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.entrypoints.openai.responses.protocol import ResponsesRequest
from vllm.exceptions import VLLMValidationError

from vllm.parser.parser_manager import ParserManager

from structcall.serving.vllm_plugin import StructcallToolParser, ToolCallValidationError, register
from structcall.testing import sample

register()
PARSER_CLS = ParserManager.get_parser(tool_parser_name="structcall", enable_auto_tools=True)

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather.", "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 10},
                       "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"], "additionalProperties": False}}},
    {"type": "function", "function": {"name": "plan", "description": "Nested arguments.", "parameters": {
        "type": "object",
        "properties": {
            "steps": {"type": "array", "maxItems": 3, "items": {
                "type": "object",
                "properties": {"what": {"type": "string", "maxLength": 6}, "n": {"type": "integer", "minimum": 0, "maximum": 99},
                               "ok": {"type": "boolean"}, "tag": {"type": ["string", "null"], "maxLength": 4}},
                "required": ["what"], "additionalProperties": False}},
            "note": {"type": "string", "maxLength": 8},
            "ratio": {"type": "number"}},
        "required": ["steps"], "additionalProperties": False}}},
]
MESSAGES = [{"role": "user", "content": "hi"}]
# the formats small models write with JSON or Python calls (SmolLM2's own among them)
FORMATS_CHECKED = ("hermes", "json", "pythonic", "mistral", "smollm2")
FAILURES: list[str] = []


def fail(msg: str) -> None:
    FAILURES.append(msg)


def chat_request(**kw) -> ChatCompletionRequest:
    return ChatCompletionRequest(model="m", messages=MESSAGES, **{"tools": TOOLS, **kw})


def run_nonstream(tok, request, text):
    parser = PARSER_CLS(tok, request.tools)
    try:
        _, content, calls = parser.parse(text, request, enable_auto_tools=True)
    except ToolCallValidationError as e:
        return ("error", e.parameter, str(e))
    calls = [(c.name, c.arguments) for c in calls or []]
    # vLLM's Parser drops whitespace-only content next to calls when not streaming
    return ("ok", content if content and (content.strip() or not calls) else None, calls)


def run_stream(tok, request, text, rng: random.Random, eos: int):
    parser = PARSER_CLS(tok, request.tools)
    content, names, args, ids = "", {}, {}, {}
    pos = 0
    try:
        while True:
            step = rng.randint(1, 8)
            delta = text[pos:pos + step]
            pos += len(delta)
            done = pos >= len(text)
            dm = parser.parse_delta(delta, [1], request, prompt_token_ids=[0], finished=done)
            if dm is not None:
                content += dm.content or ""
                for d in dm.tool_calls:
                    if d.index in names:
                        fail(f"call {d.index} streamed twice: {text!r}")
                    names[d.index] = d.function.name
                    args[d.index] = d.function.arguments
                    ids[d.index] = d.id
            if done:
                break
    except ToolCallValidationError as e:
        return ("error", e.parameter, str(e))
    if sorted(names) != list(range(len(names))):
        fail(f"stream indexes {sorted(names)} are not 0..n-1: {text!r}")
    calls = [(names[i], args[i]) for i in sorted(names)]
    return ("ok", content if content and (content.strip() or not calls) else None, calls)


# A keyword the grammar cannot express: samples may violate it; both paths must then agree.
UNENFORCED = [{"type": "function", "function": {"name": "pick", "parameters": {
    "type": "object", "properties": {"x": {"type": "integer", "multipleOf": 3}, "y": {"type": "number", "maximum": 1}},
    "required": ["x"], "additionalProperties": False}}}]


def check_outputs(tok, request, label: str, rng: random.Random, n: int, eos: int, stats: dict):
    g = StructcallToolParser(tok, request.tools).grammar(request)
    enforced = not g.unenforced
    for k in range(n):
        text = sample(g, rng)
        stats["cases"] += 1
        ns = run_nonstream(tok, request, text)
        st = run_stream(tok, request, text, rng, eos)
        if not enforced:
            if (ns[0] == "error") != (st[0] == "error") or (ns[0] == "ok" and ns != st):
                fail(f"{label}: stream {st!r} and non-stream {ns!r} disagree for {text!r}")
            if ns[0] == "error" and (ns[1] != "tool_calls" or "model_feedback: " not in ns[2]):
                fail(f"{label}: a rejected call is not reported for the user with the model's feedback: {ns!r}")
            stats["rejected"] += ns[0] == "error"
            continue
        if ns[0] == "error" or st[0] == "error":
            # a sample of a fully enforced schema must validate (soundness of the grammar)
            fail(f"{label}: sampled output rejected (nonstream={ns[0]}, stream={st[0]}): {text!r}: {ns[-1] if ns[0] == 'error' else st[-1]}")
            continue
        if ns != st:
            fail(f"{label}: stream {st!r} != non-stream {ns!r} for {text!r}")
        for _, arguments in ns[2]:
            try:
                arguments.encode("utf-8")  # vLLM must be able to send it
            except UnicodeEncodeError:
                fail(f"{label}: arguments {arguments!r} cannot be sent as UTF-8")
        stats["calls"] += len(ns[2])
        if g.tool_choice not in ("auto", "none") and not ns[2]:
            fail(f"{label}: required/named output without a call: {text!r}")
        if not g.parallel_tool_calls and len(ns[2]) > 1:
            fail(f"{label}: {len(ns[2])} calls with parallel_tool_calls=false: {text!r}")
        # an output cut inside the call section: the same outcome streamed or not; calls
        # returned only when complete (a prefix of the full output's calls), otherwise an error
        # that points at max_tokens
        start = len(ns[1] or "") + 1
        if ns[2] and len(text) > start:
            cut = text[: rng.randint(start, len(text) - 1)]
            if g.accepts(cut):  # cut exactly between two parallel calls: a complete output
                continue
            st_cut = run_stream(tok, request, cut, rng, eos)
            ns_cut = run_nonstream(tok, request, cut)
            stats["cut"] += 1
            if st_cut != ns_cut:
                fail(f"{label}: cut output {cut!r}: stream {st_cut!r} != non-stream {ns_cut!r}")
            elif ns_cut[0] == "ok":
                if not ns_cut[2] or ns_cut[2] != ns[2][: len(ns_cut[2])]:
                    fail(f"{label}: cut output {cut!r} returned {ns_cut[2]!r}, not complete calls of {ns[2]!r}")
                stats["cut_kept_calls"] += 1
            elif ns_cut[1] != "max_tokens" or "max_tokens" not in ns_cut[2]:
                fail(f"{label}: cut output {cut!r} reported without naming max_tokens: {ns_cut!r}")


def check_adjust(tok) -> None:
    # Chat Completions: grammar set, response_format dropped; named -> exactly one call
    req = chat_request(tool_choice={"type": "function", "function": {"name": "plan"}}, parallel_tool_calls=True,
                       response_format={"type": "json_object"})
    parser = StructcallToolParser(tok, req.tools)
    req = parser.adjust_request(req)
    so = req.structured_outputs
    if so is None or not so.grammar or req.response_format is not None:
        fail(f"chat adjust_request: structured_outputs={so!r} response_format={req.response_format!r}")
    g = parser.grammar(req)
    if g.tool_choice != "plan" or g.parallel_tool_calls:
        fail(f"named tool_choice compiled as {g!r} parallel={g.parallel_tool_calls}")
    if "::=" not in so.grammar:
        fail("default dialect is not EBNF")
    os.environ["STRUCTCALL_GRAMMAR"] = "lark"
    try:
        req2 = StructcallToolParser(tok, TOOLS).adjust_request(chat_request(tool_choice="required"))
        if "%llguidance" not in req2.structured_outputs.grammar:
            fail("STRUCTCALL_GRAMMAR=lark did not give llguidance Lark")
    finally:
        del os.environ["STRUCTCALL_GRAMMAR"]
    # auto + response_format: refused, not silently weakened
    try:
        StructcallToolParser(tok, TOOLS).adjust_request(chat_request(tool_choice="auto", response_format={"type": "json_object"}))
        fail("auto + response_format was accepted")
    except VLLMValidationError:
        pass
    # Responses API: flat tools, named choice, text format dropped
    flat = [{"type": "function", **t["function"]} for t in TOOLS]
    rreq = ResponsesRequest(model="m", input="hi", tools=flat, tool_choice={"type": "function", "name": "get_weather"})
    rparser = StructcallToolParser(tok, rreq.tools)
    rreq = rparser.adjust_request(rreq)
    if not rreq.structured_outputs or rreq.text is not None or rparser.grammar(rreq).tool_choice != "get_weather":
        fail(f"responses adjust_request: {rreq.structured_outputs!r} text={rreq.text!r}")
    # invalid tools: one 400 listing every problem
    bad = [{"type": "function", "function": {"name": "a", "parameters": {"type": "object", "properties": {"x": {"type": "strin"}}}}},
           {"type": "function", "function": {"name": "b", "parameters": {"type": "object", "properties": {"y": {"$ref": "#/$defs/nope"}}}}}]
    try:
        StructcallToolParser(tok, None).adjust_request(chat_request(tools=bad, tool_choice="required"))
        fail("invalid tools accepted")
    except VLLMValidationError as e:
        msg = str(e)
        for ptr in ("/0/function/parameters/properties/x", "/1/function/parameters/properties/y"):
            if ptr not in msg:
                fail(f"400 message lacks {ptr}: {msg}")
    # strict tools with an unenforceable keyword: refused
    strict = [{"type": "function", "function": {"name": "s", "strict": True, "parameters": {
        "type": "object", "properties": {"x": {"type": "integer", "multipleOf": 3}}, "required": ["x"], "additionalProperties": False}}}]
    try:
        StructcallToolParser(tok, None).adjust_request(chat_request(tools=strict, tool_choice="required"))
        fail("strict tool with multipleOf accepted")
    except VLLMValidationError as e:
        if "multipleOf" not in str(e):
            fail(f"strict refusal does not name the keyword: {e}")


def main() -> None:
    model_dir = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    tok = AutoTokenizer.from_pretrained(model_dir)
    eos = tok.eos_token_id
    rng = random.Random(1234)
    stats = {"cases": 0, "calls": 0, "rejected": 0, "cut": 0, "cut_kept_calls": 0}
    try:
        check_adjust(tok)
        for fmt in FORMATS_CHECKED:
            os.environ["STRUCTCALL_FORMAT"] = fmt
            for choice in ("auto", "required", {"type": "function", "function": {"name": "plan"}}):
                for parallel in (True, False):
                    label = f"{fmt}/{choice if isinstance(choice, str) else 'named'}/parallel={parallel}"
                    check_outputs(tok, chat_request(tool_choice=choice, parallel_tool_calls=parallel), label, rng, n, eos, stats)
            check_outputs(tok, chat_request(tools=UNENFORCED, tool_choice="required"), f"{fmt}/unenforced", rng, n, eos, stats)
        del os.environ["STRUCTCALL_FORMAT"]
    except Exception:
        fail("crash: " + traceback.format_exc())
    print("STRUCTCALL-RESULT " + json.dumps({**stats, "failures": FAILURES[:20], "n_failures": len(FAILURES)}), flush=True)


if __name__ == "__main__":
    main()
