"""Score any model on BFCL-format data in the four regimes (each model x {free, constrained}).

Layout of a BFCL directory (the Berkeley Function Calling Leaderboard's own files):

    DIR/BFCL_v3_simple.json                  JSON lines: {"id", "question", "function"}
    DIR/possible_answer/BFCL_v3_simple.json  JSON lines: {"id", "ground_truth"}

``question`` is a list of turns, each a list of ``{role, content}`` messages (single-turn
categories use the first); ``function`` is a list of BFCL function docs (``"type": "dict"``,
``"float"``, dotted names like ``math.factorial``); ``ground_truth`` is
``[{"function.name": {"arg": [allowed values]}}]`` where ``""`` means the argument may be
omitted. Categories: simple, multiple, parallel, parallel_multiple, irrelevance (no answer
file: the right output is no call). Scoring is the BFCL AST check (no execution).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["CATEGORIES", "load_bfcl", "evaluate_bfcl"]

CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
_NAME = re.compile(r"^BFCL_v\d+_(?P<cat>[a-z_]+)\.json$")


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not a JSON line: {exc.msg}") from None
    return rows


def load_bfcl(directory: str | Path, *, categories: tuple[str, ...] = CATEGORIES) -> list[dict]:
    """Items in the verifier's shape (``messages``, ``tools``, ``expect``, ``ground_truth``, ``subtask`` = category)."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"BFCL directory not found: {root}")
    items: list[dict] = []
    files = sorted(p for p in root.iterdir() if _NAME.match(p.name))
    if not files:
        raise FileNotFoundError(f"no BFCL question files (BFCL_v3_<category>.json) in {root}")
    for path in files:
        cat = _NAME.match(path.name)["cat"]
        if cat not in categories:
            continue
        answers: dict[str, Any] = {}
        if cat != "irrelevance":
            ans_path = root / "possible_answer" / path.name
            if not ans_path.is_file():
                raise FileNotFoundError(f"{path}: its answers {ans_path} are missing")
            for n, a in enumerate(_read_jsonl(ans_path), 1):
                if "id" not in a or "ground_truth" not in a:
                    raise ValueError(f"{ans_path}:{n}: an answer needs 'id' and 'ground_truth'")
                answers[a["id"]] = a["ground_truth"]
        for n, q in enumerate(_read_jsonl(path), 1):
            for key in ("id", "question", "function"):
                if key not in q:
                    raise ValueError(f"{path}:{n}: a question needs {key!r}")
            turns = q["question"]
            if not turns or not isinstance(turns[0], list):
                raise ValueError(f"{path}:{n}: 'question' must be a list of turns (lists of messages)")
            if cat != "irrelevance" and q["id"] not in answers:
                raise ValueError(f"{path}:{n}: no answer for id {q['id']!r} in possible_answer/{path.name}")
            gt = answers.get(q["id"], [])
            items.append({"id": q["id"], "subtask": cat, "messages": turns[0], "tools": q["function"],
                          "expect": "no_call" if cat == "irrelevance" else "call", "ground_truth": gt,
                          "gold_calls": None, "facts": []})
    return items


def evaluate_bfcl(directory: str | Path, models: list[str], *, out: str | Path | None = None, backend: str = "llguidance",
                  max_new_tokens: int = 128, batch_size: int = 16, progress: bool = True) -> dict:
    """Every model x {free, constrained} on a BFCL directory; returns (and writes) metrics per category."""
    from .evaluation import evaluate_model, metrics
    from .models import device_name, load_causal_lm

    items = load_bfcl(directory)
    rows: list[dict] = []
    for m in models:
        model, tok = load_causal_lm(m, device=device_name())
        for regime in ("free", "constrained"):
            rows += evaluate_model(model, tok, items, regime=regime, backend=backend, max_new_tokens=max_new_tokens,
                                   batch_size=batch_size, execute=False, progress=progress,
                                   desc=f"bfcl {Path(m).name} {regime}", tags={"arm": m, "seed": 0, "model": m})
    summary = {m: {regime: metrics([r for r in rows if r["arm"] == m and r["regime"] == regime])
                   for regime in ("free", "constrained")} for m in models}
    result = {"directory": str(directory), "items": len(items), "models": models, "metrics": summary}
    if out is not None:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        (o / "bfcl_results.json").write_text(json.dumps(result, indent=1))
        with (o / "bfcl_items.jsonl").open("w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    return result


def bfcl_table(result: dict) -> str:
    lines = ["| model | regime | category | n | format-valid % | AST acc % |", "|---|---|---|---|---|---|"]
    for m, per in result["metrics"].items():
        for regime, met in per.items():
            for cat, s in [("overall", met["overall"]), *met["by_subtask"].items()]:
                lines.append(f"| {m} | {regime} | {cat} | {s['n']} | {100 * s['format_validity']:.1f} | "
                             f"{100 * s['ast_accuracy']:.1f} |")
    return "\n".join(lines)
