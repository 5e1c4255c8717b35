"""Real BFCL v4 function docs and questions, read from the ``bfcl-eval`` package's data files.

Nothing here is hand-made: the large-library benchmarks and the many-tools evaluation draw
their tools from the Berkeley Function Calling Leaderboard's own files (JSON lines).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = ["bfcl_data_dir", "bfcl_functions", "bfcl_library", "bfcl_multiple_items"]

#: categories whose function docs are Python-style (one function per question or a few)
PYTHON_CATEGORIES = ("multiple", "simple_python", "parallel", "parallel_multiple", "live_simple", "live_multiple")


def bfcl_data_dir() -> Path:
    """The ``data`` folder of the installed ``bfcl-eval`` package."""
    try:
        root = resources.files("bfcl_eval") / "data"
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "the BFCL v4 data comes from the bfcl-eval package: pip install --no-deps bfcl-eval "
            "(make setup installs it)"
        ) from None
    return Path(str(root))


def _rows(name: str) -> list[dict]:
    path = bfcl_data_dir() / name
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not a JSON line: {exc.msg}") from None
    return rows


@lru_cache(maxsize=8)
def _functions(categories: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for cat in categories:
        for row in _rows(f"BFCL_v4_{cat}.json"):
            for fn in row["function"]:
                seen.setdefault(fn["name"].replace(".", "_"), json.dumps(fn))  # as structcall names it
    return tuple(seen.values())


def bfcl_functions(categories: tuple[str, ...] = PYTHON_CATEGORIES) -> list[dict]:
    """Distinct BFCL function docs (first occurrence of each name, ``a.b`` and ``a_b`` being one
    name as in structcall), in file order."""
    return [json.loads(s) for s in _functions(tuple(categories))]


@lru_cache(maxsize=4)
def _compilable(categories: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from structcall import SchemaError, compile_tools

    kept, dropped = [], []
    for fn in bfcl_functions(categories):
        try:
            compile_tools([fn])
        except SchemaError as exc:
            dropped.append(f"{fn['name']}: {exc.problems[0].message}")
            continue
        kept.append(json.dumps(fn))
    return tuple(kept), tuple(dropped)


def bfcl_library(n: int | None = None, categories: tuple[str, ...] = PYTHON_CATEGORIES) -> tuple[list[dict], list[str]]:
    """The first ``n`` (default all) distinct BFCL functions that structcall compiles, and a line
    for each one it rejects (a few BFCL docs are unsatisfiable: an enum no value of which has
    the declared type)."""
    kept, dropped = _compilable(tuple(categories))
    if n is not None and n > len(kept):
        raise ValueError(f"only {len(kept)} compilable BFCL functions in {categories}, asked for {n}")
    return [json.loads(s) for s in kept[:n]], list(dropped)


def bfcl_multiple_items() -> list[dict]:
    """BFCL v4 'multiple' questions: ``id``, ``messages``, ``tools`` (its 2-4 functions),
    ``ground_truth`` (``[{"name": {"arg": [allowed values]}}]``)."""
    answers = {a["id"]: a["ground_truth"] for a in _rows("possible_answer/BFCL_v4_multiple.json")}
    return [{"id": q["id"], "messages": q["question"][0], "tools": q["function"], "ground_truth": answers[q["id"]]}
            for q in _rows("BFCL_v4_multiple.json")]
