"""Checks of the plugin's ``structcall_top_k`` request option, run with the vLLM environment's python.

    .venv-vllm/bin/python tests/vllm_retrieval_check.py MODEL_DIR

Builds real vLLM request objects (Chat Completions and Responses) carrying
``vllm_xargs={"structcall_top_k": k}`` (what ``extra_body={"vllm_xargs": ...}`` of the ``openai``
client sends), lets `StructcallToolParser` adjust them, and checks which tools the grammar admits,
that a call to a tool outside the candidates is not returned, and that bad values are one 400
naming the option. Prints one line "STRUCTCALL-RESULT {"checks": ..., "failures": [...]}"
(tests/test_vllm_parser.py reads it).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

from transformers import AutoTokenizer
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.entrypoints.openai.responses.protocol import ResponsesRequest
from vllm.exceptions import VLLMValidationError

from structcall.render import render_calls
from structcall.serving.vllm_plugin import StructcallToolParser, ToolCallValidationError, register

register()


def fn(name: str, description: str, /, **props: dict) -> dict:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": props, "required": list(props), "additionalProperties": False}}}


S = {"type": "string"}
LIBRARY = [
    fn("get_weather", "Current weather forecast for a city.", city=S),
    fn("add_numbers", "Add two integers.", a={"type": "integer"}, b={"type": "integer"}),
    fn("send_email", "Send an email message to a recipient.", to=S, body=S),
    fn("search_flights", "Search flights between two airports on a date.", origin=S, destination=S, date=S),
    fn("convert_currency", "Convert an amount of money from one currency to another.",
       amount={"type": "number"}, source=S, target=S),
    fn("translate_text", "Translate text into another language.", text=S, language=S),
    fn("book_restaurant", "Book a table at a restaurant.", name=S, people={"type": "integer", "minimum": 1}),
    fn("play_music", "Play a song or playlist.", song=S),
]
NAMES = [t["function"]["name"] for t in LIBRARY]
WEATHER_Q = [{"role": "user", "content": "What is the weather forecast in Paris today?"}]
FAILURES: list[str] = []
CHECKS = 0


def check(ok: bool, msg: str) -> None:
    global CHECKS
    CHECKS += 1
    if not ok:
        FAILURES.append(msg)


def chat(messages=WEATHER_Q, tools=LIBRARY, **kw) -> ChatCompletionRequest:
    return ChatCompletionRequest(model="m", messages=messages, tools=tools, **kw)


def admitted(tok, request) -> tuple[list[str], StructcallToolParser, object]:
    parser = StructcallToolParser(tok, request.tools)
    request = parser.adjust_request(request)
    g = parser.grammar(request)
    return [s.name for s in g.specs], parser, request


def rejected(tok, request, *needles: str) -> str | None:
    """The 400 message, or None (and a failure) when the request was accepted."""
    try:
        StructcallToolParser(tok, request.tools).adjust_request(request)
    except VLLMValidationError as e:
        msg = str(e)
        check(all(n in msg for n in needles), f"400 message {msg!r} lacks one of {needles}")
        return msg
    check(False, f"accepted, expected a 400 naming {needles}: {request.vllm_xargs!r}")
    return None


def main() -> None:
    tok = AutoTokenizer.from_pretrained(sys.argv[1])
    os.environ["STRUCTCALL_FORMAT"] = "hermes"

    # default: open to the whole library
    names, _, _ = admitted(tok, chat(tool_choice="required"))
    check(names == NAMES, f"without the option the grammar admits {names}, not the whole library")
    names, _, _ = admitted(tok, chat(tool_choice="required", vllm_xargs={"other_extension": 3}))
    check(names == NAMES, f"another extension's vllm_xargs key changed the tools: {names}")

    # top_k: only the retrieved candidates, best first
    for k in (1, 2, 3):
        names, parser, req = admitted(tok, chat(tool_choice="required", vllm_xargs={"structcall_top_k": k}))
        check(len(names) == k and names[0] == "get_weather", f"top_k={k} admits {names}")
        grammar = req.structured_outputs.grammar
        for other in set(NAMES) - set(names):
            check(other not in grammar, f"top_k={k}: {other} is still in the grammar handed to vLLM")
        # a call to a retrieved tool is returned; one to a tool left out is not, on both paths
        ok = render_calls([("get_weather", {"city": "Paris"})], "hermes", tools=LIBRARY)
        info = parser.extract_tool_calls(ok, req)
        check([c.function.name for c in info.tool_calls] == ["get_weather"], f"top_k={k}: valid call not returned: {info}")
        out = render_calls([("play_music", {"song": "x"})], "hermes", tools=LIBRARY)
        try:
            info = parser.extract_tool_calls(out, req)
            check(False, f"top_k={k}: a call to play_music (not retrieved) was returned: {info}")
        except ToolCallValidationError:
            check(True, "")
    # the value may come as a decimal string (vllm_xargs admits strings)
    names, _, _ = admitted(tok, chat(tool_choice="required", vllm_xargs={"structcall_top_k": "2"}))
    check(len(names) == 2 and names[0] == "get_weather", f"top_k='2' admits {names}")
    # k at least the library's size: everything
    names, _, _ = admitted(tok, chat(tool_choice="auto", vllm_xargs={"structcall_top_k": 50}))
    check(sorted(names) == sorted(NAMES), f"top_k=50 admits {names}")

    # the last user message is the query (earlier turns and text parts)
    turns = [{"role": "user", "content": "What is the weather forecast in Paris?"},
             {"role": "assistant", "content": "Sunny."},
             {"role": "user", "content": [{"type": "text", "text": "Convert 20 dollars to euros, the currency."}]}]
    names, _, _ = admitted(tok, chat(messages=turns, tool_choice="auto", vllm_xargs={"structcall_top_k": 1}))
    check(names == ["convert_currency"], f"multi-turn with content parts admits {names}")

    # a named tool_choice outside the candidates stays callable, and is the only call
    named = {"type": "function", "function": {"name": "play_music"}}
    names, parser, req = admitted(tok, chat(tool_choice=named, vllm_xargs={"structcall_top_k": 1}))
    check(names == ["get_weather", "play_music"] and parser.grammar(req).tool_choice == "play_music",
          f"named tool_choice with top_k=1 admits {names} ({parser.grammar(req).tool_choice})")

    # Responses API: input string, flat tools
    flat = [{"type": "function", **t["function"]} for t in LIBRARY]
    rreq = ResponsesRequest(model="m", input="Please send an email message to Bob", tools=flat, tool_choice="required",
                            vllm_xargs={"structcall_top_k": 1})
    rparser = StructcallToolParser(tok, rreq.tools)
    rreq = rparser.adjust_request(rreq)
    check([s.name for s in rparser.grammar(rreq).specs] == ["send_email"],
          f"responses top_k=1 admits {[s.name for s in rparser.grammar(rreq).specs]}")

    # bad values and bad requests: one 400 naming the problem
    for bad in (0, -2, 2.5, "x", [1, 2]):
        rejected(tok, chat(tool_choice="required", vllm_xargs={"structcall_top_k": bad}), "structcall_top_k", "positive integer")
    rejected(tok, chat(tool_choice="required", vllm_xargs={"structcall_topk": 2}), "structcall_topk", "structcall_top_k")
    rejected(tok, chat(messages=[{"role": "system", "content": "Be brief."}], tool_choice="required",
                       vllm_xargs={"structcall_top_k": 2}), "structcall_top_k", "no user message")
    # a broken schema in a tool the retriever did not pick is still reported, with its pointer
    broken = LIBRARY + [fn("broken_tool", "Never picked.", x={"type": "strin"})]
    rejected(tok, chat(tools=broken, tool_choice="required", vllm_xargs={"structcall_top_k": 1}),
             "/8/function/parameters/properties/x/type")


if __name__ == "__main__":
    try:
        main()
    except Exception:
        FAILURES.append("crash: " + traceback.format_exc())
    print("STRUCTCALL-RESULT " + json.dumps({"checks": CHECKS, "failures": FAILURES[:30], "n_failures": len(FAILURES)}),
          flush=True)
