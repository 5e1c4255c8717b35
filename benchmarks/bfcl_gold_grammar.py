"""How many of BFCL's own gold answers the pythonic grammar accepts (real BFCL v4 data).

For each question of BFCL v4's simple_python, multiple, parallel and parallel_multiple sets
(from the PyPI package ``bfcl-eval``), the first allowed value of every argument of its
possible answer is written the way Python writes it (``repr``: ``unit='inches'``), the calls
as a Python list, and checked against ``compile_tools(question_functions, format="pythonic",
tool_choice="required").accepts``. Answers the validator itself rejects (BFCL's nested
option lists, an int for a declared string, ...) are counted apart from grammar-only
rejections.

    python -m benchmarks.bfcl_gold_grammar [--limit N]
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple")


def gold_text(ground_truth: list[dict]) -> str:
    calls = []
    for call in ground_truth:
        (name, params), = call.items()
        kw = [f"{k}={[o for o in opts if o != ''][0]!r}" for k, opts in params.items() if any(o != "" for o in opts)]
        calls.append(f"{name}({', '.join(kw)})")
    return "[" + ", ".join(calls) + "]"


def main() -> None:
    import bfcl_eval

    from structcall import ToolCallError, compile_tools, parse_calls

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="questions in all (default: every one)")
    a = ap.parse_args()
    data = Path(bfcl_eval.__file__).parent / "data"
    t0 = time.perf_counter()
    n = ok = 0
    why: collections.Counter = collections.Counter()
    for cat in CATEGORIES:
        answers = {x["id"]: x for x in map(json.loads, open(data / "possible_answer" / f"BFCL_v4_{cat}.json"))}
        for q in map(json.loads, open(data / f"BFCL_v4_{cat}.json")):
            if a.limit is not None and n >= a.limit:
                break
            n += 1
            text = gold_text(answers[q["id"]]["ground_truth"])
            g = compile_tools(q["function"], format="pythonic", tool_choice="required")
            if g.accepts(text):
                ok += 1
                continue
            try:
                parse_calls(text, g)
                why["grammar rejects a valid answer"] += 1
            except ToolCallError as e:
                why[f"the validator rejects it too ({e.kind})"] += 1
    print(f"{ok}/{n} BFCL v4 gold answers accepted by the pythonic grammar "
          f"({', '.join(CATEGORIES)}; {time.perf_counter() - t0:.0f} s)")
    for k, v in why.most_common():
        print(f"  {v:4d}  {k}")


if __name__ == "__main__":
    main()
