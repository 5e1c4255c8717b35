"""Teachers: k candidate responses per training prompt, each labelled by the verifier.

* :func:`model_candidates` samples any Hugging Face causal LM at a temperature through
  ``structcall.generate_batch(constrained=False)`` (the arXiv 2410.18890 recipe: a stronger
  teacher's correct and incorrect answers become the students' data).
* :func:`oracle_candidates` writes the gold response plus realistic negatives of every kind:
  format slips small models make (an unclosed tag, a Python-style call, single quotes, a
  misspelled tool, a renamed argument, a number as a string, a missing required argument) and
  semantic slips (another tool, a wrong value, a dropped or extra call, a wrong abstention).
  Each negative is scored by the verifier and kept only if it gets the label it was made for.

A candidate is a dict ``{"id", "text", "source", "verdict"}`` (``verdict`` = ``Verdict.as_dict()``).
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import random
from typing import Any, Callable

from structcall.render import render_calls

from . import phrasing as P
from .tasks import REMINDERS, SUBJECTS, TITLES, plain_request
from .toolbox import CATALOGUE, CITIES, TOOLS
from .verifier import verify

__all__ = ["oracle_candidates", "model_candidates", "is_correct", "FORMAT_SLIPS", "DECISION_SLIPS", "SEMANTIC_SLIPS"]


def is_correct(verdict: dict) -> bool:
    """Correct = AST match and (where the tools run) the same execution results."""
    return bool(verdict["ast_correct"]) and verdict["exec_correct"] is not False


# --------------------------------------------------------------------------------------------
# Oracle negatives
# --------------------------------------------------------------------------------------------
NEGATIVES_FORMAT = "hermes"
"""The format the oracle's negatives are written in (their slips are slips of this format)."""


def _body(call: dict) -> str:
    return json.dumps({"name": call["name"], "arguments": call["arguments"]})


def _calls(ex: dict) -> list[dict]:
    return copy.deepcopy(ex["gold_calls"])


def _some_call(ex: dict, rng: random.Random) -> list[dict]:
    """A valid call to some tool in context (for text items: a call where none is due)."""
    names = [t["function"]["name"] for t in ex["tools"]]
    today = _dt.date.fromisoformat(ex["messages"][0]["content"].split()[2])
    _, call, _ = plain_request(rng, rng.choice(names), "train", today)
    return [call]


def _unclosed(ex, rng):
    calls = _calls(ex) or _some_call(ex, rng)
    return render_calls(calls, NEGATIVES_FORMAT)[: -len("</tool_call>")].rstrip()


def _python_style(ex, rng):
    calls = _calls(ex) or _some_call(ex, rng)
    return "[" + ", ".join(f"{c['name']}(" + ", ".join(f"{k}={v!r}" for k, v in c["arguments"].items()) + ")"
                           for c in calls) + "]"


def _single_quotes(ex, rng):
    calls = _calls(ex) or _some_call(ex, rng)
    return "\n".join(f"<tool_call>\n{_body(c).replace(chr(34), chr(39))}\n</tool_call>" for c in calls)


def _text_after(ex, rng):
    calls = _calls(ex) or _some_call(ex, rng)
    return render_calls(calls, NEGATIVES_FORMAT) + "\n" + rng.choice(["Let me know if you need anything else.", "Done!", "I hope this helps."])


def _bare_json(ex, rng):
    calls = _calls(ex) or _some_call(ex, rng)
    return "\n".join(_body(c) for c in calls)


def _truncated(ex, rng):
    text = render_calls(_calls(ex) or _some_call(ex, rng), NEGATIVES_FORMAT)
    return text[: rng.randint(len("<tool_call>\n{") + 1, len(text) - len("}\n</tool_call>") - 1)]


def _misspelled_tool(ex, rng):
    calls = _calls(ex) or _some_call(ex, rng)
    c = rng.choice(calls)
    parts = c["name"].split("_")
    c["name"] = rng.choice(["".join(p.capitalize() if i else p for i, p in enumerate(parts)),
                            c["name"][:-1], c["name"].replace("_", ""), c["name"] + "s"])
    return render_calls(calls, NEGATIVES_FORMAT)


def _renamed_argument(ex, rng):
    calls = _calls(ex) or _some_call(ex, rng)
    c = rng.choice(calls)
    if not c["arguments"]:
        return None
    k = rng.choice(list(c["arguments"]))
    new = rng.choice([k + "_name", k.split("_")[0] + "Value", {"city": "location", "date": "day"}.get(k, k + "s")])
    c["arguments"] = {(new if key == k else key): v for key, v in c["arguments"].items()}
    return render_calls(calls, NEGATIVES_FORMAT)


def _stringified_number(ex, rng):
    calls = _calls(ex) or _some_call(ex, rng)
    options = [(c, k) for c in calls for k, v in c["arguments"].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not options:
        return None
    c, k = rng.choice(options)
    c["arguments"][k] = str(c["arguments"][k])
    return render_calls(calls, NEGATIVES_FORMAT)


def _missing_required(ex, rng):
    calls = _calls(ex) or _some_call(ex, rng)
    c = rng.choice(calls)
    req = [k for k in TOOLS[c["name"]].required if k in c["arguments"]]
    if not req:
        return None
    drop = rng.choice(req)
    c["arguments"] = {k: v for k, v in c["arguments"].items() if k != drop}
    return render_calls(calls, NEGATIVES_FORMAT)


def _bad_date(ex, rng):
    calls = _calls(ex) or _some_call(ex, rng)
    options = [(c, k) for c in calls for k, v in c["arguments"].items()
               if TOOLS[c["name"]].properties[k].get("format") == "date"]
    if not options:
        return None
    c, k = rng.choice(options)
    d = _dt.date.fromisoformat(c["arguments"][k])
    c["arguments"][k] = rng.choice([d.strftime("%B %d, %Y"), d.strftime("%d/%m/%Y"), "tomorrow"])
    return render_calls(calls, NEGATIVES_FORMAT)


# label -> slips that should produce it
FORMAT_SLIPS: dict[str, list[Callable]] = {
    "unparseable": [_unclosed, _python_style, _single_quotes, _text_after, _bare_json, _truncated],
    "misspelled_tool": [_misspelled_tool],
    "unknown_argument": [_renamed_argument],
    "type_error": [_stringified_number, _missing_required, _bad_date],
}


def _other_value(name: str, key: str, value: Any, rng: random.Random) -> Any:
    schema = TOOLS[name].properties[key]
    if "enum" in schema:
        others = [e for e in schema["enum"] if e != value]
        return rng.choice(others) if others else None
    if schema.get("format") == "date":
        return (_dt.date.fromisoformat(value) + _dt.timedelta(days=rng.choice([-2, -1, 1, 2, 7]))).isoformat()
    if schema["type"] == "integer":
        lo = schema.get("minimum", -10**9)
        cand = [v for v in (value + 1, value - 1, value + 2, value * 2) if v >= lo and v != value]
        return rng.choice(cand) if cand else None
    if schema["type"] == "number":
        return rng.choice([value + 1, value * 2, round(value / 2, 2) or 1])
    if schema["type"] == "string":
        if value in CITIES:
            return rng.choice([c for c in CITIES if c != value])
        if value in CATALOGUE:
            return rng.choice([c for c in CATALOGUE if c != value])
        pools = [TITLES, SUBJECTS, REMINDERS]
        for pool in pools:
            if value in pool:
                return rng.choice([p for p in pool if p != value])
        return value + " " + rng.choice(["copy", "draft", "old"]) if " " not in value else value.split(" ")[0]
    if schema["type"] == "array":
        return value[:-1] + [value[-1] + 1] if value else None
    return None


def _wrong_value(ex, rng):
    if ex["expect"] == "answer":
        text = ex["target"]
        for f in ex["facts"]:
            text = text.replace(f, {"True": "False"}.get(f, "unknown" if not f[:1].isdigit() else str(len(f) * 7 + 3)))
        return text
    calls = _calls(ex)
    if not calls:
        return None
    c = rng.choice(calls)
    keys = list(c["arguments"])
    rng.shuffle(keys)
    for k in keys:
        v = _other_value(c["name"], k, c["arguments"][k], rng)
        if v is not None and v != c["arguments"][k]:
            c["arguments"][k] = v
            return render_calls(calls, NEGATIVES_FORMAT)
    return None


def _wrong_tool(ex, rng):
    calls = _calls(ex)
    if not calls:
        return None
    names = [t["function"]["name"] for t in ex["tools"] if t["function"]["name"] not in {c["name"] for c in calls}]
    if not names:
        return None
    i = rng.randrange(len(calls))
    today = _dt.date.fromisoformat(ex["messages"][0]["content"].split()[2])
    _, other, _ = plain_request(rng, rng.choice(names), "train", today)
    calls[i] = other
    return render_calls(calls, NEGATIVES_FORMAT)


def _missing_call(ex, rng):
    calls = _calls(ex)
    if len(calls) < 2:
        return None
    calls.pop(rng.randrange(len(calls)))
    return render_calls(calls, NEGATIVES_FORMAT)


def _extra_call(ex, rng):
    calls = _calls(ex)
    if not calls:
        return None
    extra = _some_call(ex, rng)[0]
    calls.insert(rng.randrange(len(calls) + 1), extra)
    return render_calls(calls, NEGATIVES_FORMAT)


def _text_not_call(ex, rng):
    return rng.choice(P.REFUSALS) if ex["expect"] == "call" else None


def _call_not_due(ex, rng):
    return None if ex["expect"] == "call" else render_calls(_some_call(ex, rng), NEGATIVES_FORMAT)


SEMANTIC_SLIPS: dict[str, list[Callable]] = {
    "wrong_tool": [_wrong_tool], "wrong_value": [_wrong_value], "missing_call": [_missing_call],
    "extra_call": [_extra_call],
}
DECISION_SLIPS: dict[str, list[Callable]] = {"text_not_call": [_text_not_call], "call_not_due": [_call_not_due]}


def oracle_candidates(example: dict, *, negatives_per_category: int = 2, seed: int = 0, fmt: str = "hermes") -> list[dict]:
    """The gold response (in output format ``fmt``) and up to ``negatives_per_category`` verified
    negatives per error family (negatives are written in the Hermes format only)."""
    from .data import target_text

    rng = random.Random(f"oracle:{seed}:{example['id']}")
    gold = target_text(example, fmt)
    out = [{"id": example["id"], "text": gold, "source": "oracle:gold",
            "verdict": verify(gold, example, format=fmt).as_dict()}]
    if fmt != NEGATIVES_FORMAT:
        return out
    for category, slips in (("format", FORMAT_SLIPS), ("decision", DECISION_SLIPS), ("semantic", SEMANTIC_SLIPS)):
        labels = list(slips)
        rng.shuffle(labels)
        got = 0
        for label in labels:
            if got >= negatives_per_category:
                break
            for make in rng.sample(slips[label], len(slips[label])):
                text = make(example, rng)
                if text is None or any(c["text"] == text for c in out):
                    continue
                v = verify(text, example, format=NEGATIVES_FORMAT)
                if v.label == label:
                    out.append({"id": example["id"], "text": text, "source": f"oracle:{make.__name__.lstrip('_')}",
                                "verdict": v.as_dict()})
                    got += 1
                    break
    return out


# --------------------------------------------------------------------------------------------
# Model teacher
# --------------------------------------------------------------------------------------------
def model_candidates(model: Any, tokenizer: Any, examples: list[dict], *, k: int, temperature: float, top_p: float = 1.0,
                     max_new_tokens: int = 96, batch_size: int = 32, seed: int = 0, progress: bool = True,
                     fmt: str = "hermes") -> list[dict]:
    """k sampled responses per example (free decoding, output format ``fmt``), each labelled by the verifier."""
    from structcall.decoding import generate_batch

    from .progress import batches

    requests = [{"messages": ex["messages"], "tools": ex["tools"]} for ex in examples for _ in range(k)]
    results = []
    for start, chunk in batches(requests, size=max(batch_size * 4, 1), desc="teacher samples", progress=progress):
        results += generate_batch(model, tokenizer, chunk, constrained=False, temperature=temperature, top_p=top_p,
                                  max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed * 1_000_003 + start,
                                  format=fmt, fast_forward=False)
    out = []
    for i, r in enumerate(results):
        ex = examples[i // k]
        v = verify(r.text, ex, truncated=r.finish_reason == "length", format=fmt)
        out.append({"id": ex["id"], "text": r.text, "source": "model", "verdict": v.as_dict()})
    return out
