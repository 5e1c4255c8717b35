"""Real BFCL data (the Berkeley Function Calling Leaderboard), scored in every regime.

The data ships in the PyPI package ``bfcl-eval`` (``bfcl_eval/data``: v4 file names); any
directory in BFCL's own layout works too (v3 or v4 names):

    DIR/BFCL_v4_simple_python.json                  JSON lines: {"id", "question", "function"}
    DIR/possible_answer/BFCL_v4_simple_python.json  JSON lines: {"id", "ground_truth"}

``question`` is a list of turns, each a list of ``{role, content}`` messages (single-turn
categories use the first); ``function`` is a list of BFCL function docs (``"type": "dict"``,
``"float"``, dotted names like ``math.factorial``), given to the model whole, parameter
descriptions included; ``ground_truth`` is ``[{"function.name": {"arg": [allowed values]}}]``
where ``""`` means the argument may be omitted. Categories (v4 names; v3's ``simple`` is v4's
``simple_python``): simple_python, multiple, parallel, parallel_multiple, irrelevance,
live_simple, live_multiple, live_irrelevance (the irrelevance ones have no answer file: the
right output is no call). An unknown category, or a requested one with no file, is an error;
nothing is skipped. Scoring is the BFCL AST check (no execution).
"""

from __future__ import annotations

import difflib
import json
import random
import re
from pathlib import Path
from typing import Any

__all__ = ["CATEGORIES", "ALIASES", "check_categories", "package_data_dir", "load_bfcl", "evaluate_bfcl", "bfcl_table"]

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance", "live_simple",
              "live_multiple", "live_irrelevance")
ALIASES = {"simple": "simple_python"}  # BFCL v3 name -> v4 name
NO_CALL = ("irrelevance", "live_irrelevance")
_NAME = re.compile(r"^BFCL_v(?P<version>\d+)_(?P<cat>[a-z_]+)\.json$")


def _canonical(cat: str) -> str:
    return ALIASES.get(cat, cat)


def check_categories(categories: Any) -> tuple[str, ...]:
    """The categories under their v4 names; an unknown one raises ValueError naming the closest."""
    out = []
    for c in categories:
        name = _canonical(str(c))
        if name not in CATEGORIES:
            near = difflib.get_close_matches(str(c), list(CATEGORIES) + list(ALIASES), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ValueError(f"unknown BFCL category {c!r}{hint} (known: {', '.join(CATEGORIES)}; v3 alias: simple)")
        out.append(name)
    return tuple(out)


def package_data_dir() -> Path:
    """``bfcl_eval/data`` of the installed ``bfcl-eval`` package (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the PyPI package bfcl-eval is not installed: "
                                "pip install -c constraints.txt --no-deps bfcl-eval (only its data files are used)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


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


def _files(root: Path) -> dict[str, Path]:
    """category (v4 name) -> question file; the newest version wins when a directory holds both."""
    found: dict[str, tuple[int, Path]] = {}
    for p in sorted(root.iterdir()):
        m = _NAME.match(p.name)
        if m:
            cat, version = _canonical(m["cat"]), int(m["version"])
            if cat not in found or version > found[cat][0]:
                found[cat] = (version, p)
    return {c: p for c, (_, p) in found.items()}


def tools_problem(functions: list[dict]) -> str | None:
    """Why structcall cannot compile these BFCL function docs (None when it can).

    A few BFCL v4 docs contradict themselves, for example ``"type": "integer"`` with
    ``"enum": ["1", "2", "dontcare"]``: no value satisfies that schema, so no call to it is valid
    and structcall refuses to compile it rather than silently dropping one of the two keywords.
    """
    from structcall import compile_tools

    if not functions:
        return "no function docs"
    try:
        compile_tools(functions, tool_choice="auto")
    except ValueError as exc:  # SchemaError / UnsupportedSchemaError: what is wrong, and where
        return " ".join(str(exc).split())
    return None


def load_bfcl(directory: str | Path | None = None, *, categories: Any = None, per_category: int = 0,
              seed: int = 0, excluded: list[dict] | None = None) -> list[dict]:
    """Items in the verifier's shape (``messages``, ``tools``, ``expect``, ``ground_truth``, ``subtask`` = category).

    directory: a BFCL data directory (default: the installed bfcl-eval package's).
    categories: v3 or v4 names (default: every category this loader knows that the directory
        holds; other files in the directory, such as multi-turn ones, are then named in the error
        only if a requested category is missing).
    per_category: a seeded random sample of this many items per category (0 = all), in file order.
    excluded: items whose function docs structcall cannot compile (see ``tools_problem``) are left
        out; a sampled one is replaced by the next item of a seeded order of the rest. Each is
        appended here as ``{"id", "subtask", "reason"}`` when a list is given.
    """
    root = Path(directory) if directory is not None else package_data_dir()
    if not root.is_dir():
        raise FileNotFoundError(f"BFCL directory not found: {root}")
    files = _files(root)
    if not files:
        raise FileNotFoundError(f"no BFCL question files (BFCL_v4_<category>.json or BFCL_v3_<category>.json) in {root}")
    if categories is None:
        wanted = tuple(c for c in CATEGORIES if c in files)
        if not wanted:
            raise ValueError(f"{root}: none of the BFCL categories this loader reads ({', '.join(CATEGORIES)}); "
                             f"found {', '.join(sorted(files))}")
    else:
        wanted = check_categories(categories)
    missing = [c for c in wanted if c not in files]
    if missing:
        raise FileNotFoundError(f"{root}: no question file for BFCL categor{'y' if len(missing) == 1 else 'ies'} "
                                f"{', '.join(missing)} (found: {', '.join(sorted(files)) or 'none'})")
    items: list[dict] = []
    for cat in wanted:
        path = files[cat]
        answers: dict[str, Any] = {}
        if cat not in NO_CALL:
            ans_path = root / "possible_answer" / path.name
            if not ans_path.is_file():
                raise FileNotFoundError(f"{path}: its answers {ans_path} are missing")
            for n, a in enumerate(_read_jsonl(ans_path), 1):
                if "id" not in a or "ground_truth" not in a:
                    raise ValueError(f"{ans_path}:{n}: an answer needs 'id' and 'ground_truth'")
                answers[a["id"]] = a["ground_truth"]
        rows = _read_jsonl(path)
        queue = list(range(len(rows)))
        spare: list[int] = []
        if per_category and per_category < len(rows):
            rng = random.Random(f"bfcl:{seed}:{cat}")
            queue = rng.sample(queue, per_category)
            picked = set(queue)
            spare = [i for i in range(len(rows)) if i not in picked]
            rng.shuffle(spare)
        kept: list[tuple[int, dict]] = []
        while queue:
            i = queue.pop(0)
            q, n = rows[i], i + 1
            for key in ("id", "question", "function"):
                if key not in q:
                    raise ValueError(f"{path}:{n}: a question needs {key!r}")
            turns = q["question"]
            if not turns or not isinstance(turns[0], list):
                raise ValueError(f"{path}:{n}: 'question' must be a list of turns (lists of messages)")
            if cat not in NO_CALL and q["id"] not in answers:
                raise ValueError(f"{path}:{n}: no answer for id {q['id']!r} in possible_answer/{path.name}")
            problem = tools_problem(q["function"])
            if problem is not None:
                if excluded is not None:
                    excluded.append({"id": q["id"], "subtask": cat, "reason": problem})
                if spare:
                    queue.append(spare.pop(0))
                continue
            kept.append((i, {"id": q["id"], "subtask": cat, "messages": turns[0], "tools": q["function"],
                             "expect": "no_call" if cat in NO_CALL else "call",
                             "ground_truth": answers.get(q["id"], []), "gold_calls": None, "facts": [],
                             "suite": "bfcl"}))
        items += [it for _, it in sorted(kept, key=lambda k: k[0])]  # file order
    return items


def evaluate_bfcl(directory: str | Path | None, models: list[str], *, out: str | Path | None = None,
                  backend: str = "llguidance", max_new_tokens: int = 128, batch_size: int = 16, progress: bool = True,
                  categories: Any = None, per_category: int = 0, format: str = "hermes") -> dict:
    """Every model x {free, constrained} on a BFCL directory; returns (and writes) metrics per category."""
    from .evaluation import evaluate_model, metrics
    from .models import device_name, load_causal_lm

    excluded: list[dict] = []
    items = load_bfcl(directory, categories=categories, per_category=per_category, excluded=excluded)
    rows: list[dict] = []
    for m in models:
        model, tok = load_causal_lm(m, device=device_name())
        for regime in ("free", "constrained"):
            rows += evaluate_model(model, tok, items, regime=regime, backend=backend, max_new_tokens=max_new_tokens,
                                   batch_size=batch_size, execute=False, progress=progress, format=format,
                                   desc=f"bfcl {Path(m).name} {regime}", tags={"arm": m, "seed": 0, "model": m})
    from .evaluation import rescore

    rows = rescore(rows, items, format)
    summary = {m: {regime: metrics([r for r in rows if r["arm"] == m and r["regime"] == regime])
                   for regime in ("free", "repaired", "constrained")} for m in models}
    result = {"directory": str(directory or package_data_dir()), "items": len(items), "excluded": excluded,
              "models": models, "metrics": summary}
    if out is not None:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        (o / "bfcl_results.json").write_text(json.dumps(result, indent=1))
        with (o / "bfcl_items.jsonl").open("w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    return result


def bfcl_table(result: dict) -> str:
    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f}"

    lines = ["| model | regime | category | n | valid calls % | acc when valid % | AST acc % |", "|---|---|---|---|---|---|---|"]
    for m, per in result["metrics"].items():
        for regime, met in per.items():
            for cat, s in [("overall", met["overall"]), *met["by_subtask"].items()]:
                lines.append(f"| {m} | {regime} | {cat} | {s['n']} | {pct(s['validity'])} | {pct(s['accuracy_when_valid'])} | "
                             f"{pct(s['accuracy'])} |")
    return "\n".join(lines)
