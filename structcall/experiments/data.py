"""Datasets, saved with their provenance: SFT rows, on-policy DPO pairs, minimal-pair ablations.

* ``sft``: one verified-correct teacher response per training prompt (``messages`` ending in
  the assistant turn, plus ``tools`` as a JSON string).
* ``dpo`` (the primary arm, built per seed by :func:`onpolicy_pairs`): pairs from the SFT
  student's own samples, verified: the chosen side is one of its correct samples (or, where it
  has none, the gold answer), the rejected side one of its real mistakes, with every error label.
* ``dpo_format`` / ``dpo_semantic`` (ablations, :func:`minimal_pairs`): call items only, the gold
  answer against the gold answer with one format edit (a misspelled tool, a renamed argument,
  a number as a string, a dropped required argument, a cut envelope) or one semantic edit
  (another in-context tool, another value). Both arms use the same prompts and the same chosen
  side, and have the same count; each rejected side carries errors of its family only.
* ``sft_control``: the chosen sides of ``dpo`` as SFT rows (the same extra steps on the same
  prompts, without the negatives).

Everything is written in the students' output format. Rejected responses are never SFT
targets: a rejected response is one the verifier failed, an SFT target one it passed, and
:func:`check_no_rejected_targets` checks that the two share no (prompt, text) pair.
"""

from __future__ import annotations

import collections
import copy
import json
import random
from pathlib import Path
from typing import Any, Callable

from .teacher import is_correct
from .verifier import verify

__all__ = ["build_datasets", "minimal_pairs", "onpolicy_pairs", "pair_audit", "target_text", "save_datasets",
           "load_dataset_dir", "check_no_rejected_targets", "FORMAT_EDITS", "SEMANTIC_EDITS"]


def target_text(ex: dict, fmt: str) -> str:
    """The gold answer of ``ex`` written in output format ``fmt``.

    A no-call item's gold is the format's own way to say "no call" where it has one (SmolLM2:
    ``<tool_call>[]</tool_call>``, what its tool prompt asks for), else the task's text refusal.
    The pilot's SFT student, trained on text refusals in SmolLM2's format, answered every no-call
    item with a call (32 of 32)."""
    from structcall.formats import load_format
    from structcall.render import render_calls

    if ex["expect"] == "call":
        return render_calls(ex["gold_calls"], format=fmt, tools=ex["tools"])
    no_call = load_format(fmt).no_call if ex["expect"] == "no_call" else None
    return no_call or ex["target"]


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


# --------------------------------------------------------------------------------------------
# Minimal edits of the gold calls (structured, then rendered in the format)
# --------------------------------------------------------------------------------------------
def _render(calls: list[dict], ex: dict, fmt: str) -> str:
    from structcall.render import render_calls

    return render_calls(calls, format=fmt, tools=ex["tools"])


def _misspell(calls, ex, rng):
    c = rng.choice(calls)
    parts = c["name"].split("_")
    c["name"] = rng.choice(["".join(p.capitalize() if i else p for i, p in enumerate(parts)), c["name"][:-1],
                            c["name"].replace("_", ""), c["name"] + "s"])
    return calls


def _rename_argument(calls, ex, rng):
    c = rng.choice(calls)
    if not c["arguments"]:
        return None
    k = rng.choice(list(c["arguments"]))
    new = {"city": "location", "date": "day"}.get(k, k + "_value")
    c["arguments"] = {(new if key == k else key): v for key, v in c["arguments"].items()}
    return calls


def _stringify_number(calls, ex, rng):
    options = [(c, k) for c in calls for k, v in c["arguments"].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not options:
        return None
    c, k = rng.choice(options)
    c["arguments"][k] = str(c["arguments"][k])
    return calls


def _drop_required(calls, ex, rng):
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in ex["tools"]}
    options = [(c, k) for c in calls for k in schemas.get(c["name"], {}).get("required", []) if k in c["arguments"]]
    if not options:
        return None
    c, k = rng.choice(options)
    c["arguments"] = {a: v for a, v in c["arguments"].items() if a != k}
    return calls


FORMAT_EDITS: list[Callable] = [_misspell, _rename_argument, _stringify_number, _drop_required]


def _other_value(calls, ex, rng):
    from .teacher import _other_value as other

    c = rng.choice(calls)
    keys = list(c["arguments"])
    rng.shuffle(keys)
    for k in keys:
        try:
            v = other(c["name"], k, c["arguments"][k], rng)
        except KeyError:
            v = None
        if v is not None and v != c["arguments"][k]:
            c["arguments"][k] = v
            return calls
    return None


def _other_tool(calls, ex, rng):
    import datetime as _dt

    from .tasks import plain_request

    names = [t["function"]["name"] for t in ex["tools"] if t["function"]["name"] not in {c["name"] for c in calls}]
    if not names:
        return None
    today = _dt.date.fromisoformat(ex["messages"][0]["content"].split()[2])
    _, other, _ = plain_request(rng, rng.choice(names), "train", today)
    calls[rng.randrange(len(calls))] = other
    return calls


SEMANTIC_EDITS: list[Callable] = [_other_value, _other_tool]


def _cut(text: str, rng: random.Random) -> str:
    return text[: len(text) - rng.randint(2, min(12, max(2, len(text) // 3)))]


def _one_edit(ex: dict, fmt: str, family: str, rng: random.Random) -> tuple[str, list[str]] | None:
    """Gold with one edit of ``family`` whose verdict has errors of that family only."""
    edits = list(FORMAT_EDITS if family == "format" else SEMANTIC_EDITS)
    rng.shuffle(edits)
    if family == "format":
        edits.append(None)  # the last resort: a cut envelope
    gold = target_text(ex, fmt)
    for edit in edits:
        if edit is None:
            text = _cut(gold, rng)
        else:
            calls = edit(copy.deepcopy(ex["gold_calls"]), ex, rng)
            text = None if calls is None else _render(calls, ex, fmt)
        if text is None or text == gold:
            continue
        v = verify(text, ex, format=fmt)
        if v.errors and {e["family"] for e in v.errors} == {family}:
            return text, [e["label"] for e in v.errors]
    return None


def minimal_pairs(examples: list[dict], fmt: str, *, max_pairs: int = 0, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """The format-only and semantic-only arms: same call prompts, same chosen side, same count."""
    rng = random.Random(f"minimal:{seed}")
    fmt_rows, sem_rows = [], []
    for ex in examples:
        if ex["expect"] != "call":
            continue
        f, s = _one_edit(ex, fmt, "format", rng), _one_edit(ex, fmt, "semantic", rng)
        if f is None or s is None:
            continue
        base = {"prompt": ex["messages"], "chosen": _assistant(target_text(ex, fmt)), "tools": json.dumps(ex["tools"]),
                "id": ex["id"], "subtask": ex["subtask"], "expect": ex["expect"], "chosen_source": "gold"}
        fmt_rows.append({**base, "rejected": _assistant(f[0]), "labels": f[1], "families": ["format"]})
        sem_rows.append({**base, "rejected": _assistant(s[0]), "labels": s[1], "families": ["semantic"]})
    if max_pairs and len(fmt_rows) > max_pairs:
        keep = sorted(rng.sample(range(len(fmt_rows)), max_pairs))
        fmt_rows, sem_rows = [fmt_rows[i] for i in keep], [sem_rows[i] for i in keep]
    return fmt_rows, sem_rows


def onpolicy_pairs(examples: list[dict], samples: list[dict], fmt: str, *, pairs_per_prompt: int = 2,
                   max_pairs: int = 0, seed: int = 0) -> list[dict]:
    """Pairs from the SFT student's own verified samples (``{"id", "text", "verdict"}``)."""
    by_id, grouped = _group_by_example(examples, samples, "sample")
    rng = random.Random(f"onpolicy:{seed}")
    rows = []
    for ex_id in sorted(grouped):
        ex, ss = by_id[ex_id], grouped[ex_id]
        good = [s["text"] for s in ss if is_correct(s["verdict"])]
        wrong: dict[str, dict] = {}
        for s in ss:
            if s["verdict"]["errors"] and s["text"] not in wrong:
                wrong[s["text"]] = s["verdict"]
        chosen, source = (good[0], "student") if good else (target_text(ex, fmt), "gold")
        for text, v in list(wrong.items())[:pairs_per_prompt]:
            rows.append({"prompt": ex["messages"], "chosen": _assistant(chosen), "rejected": _assistant(text),
                         "tools": json.dumps(ex["tools"]), "id": ex_id, "subtask": ex["subtask"], "expect": ex["expect"],
                         "chosen_source": source, "labels": [e["label"] for e in v["errors"]],
                         "families": sorted({e["family"] for e in v["errors"]})})
    if max_pairs and len(rows) > max_pairs:
        rows = [rows[i] for i in sorted(rng.sample(range(len(rows)), max_pairs))]
    return rows


def control_rows(pairs: list[dict]) -> list[dict]:
    """The SFT-control: the chosen sides of the primary arm's pairs as SFT rows."""
    return [{"messages": r["prompt"] + r["chosen"], "tools": r["tools"], "id": r["id"], "subtask": r["subtask"],
             "source": r["chosen_source"]} for r in pairs]


def pair_audit(pairs: list[dict]) -> dict:
    """Label and family mix of the rejected sides, call vs no-call prompts, chosen sources."""
    return {"pairs": len(pairs),
            "prompts": len({r["id"] for r in pairs}),
            "call_prompts": sum(1 for r in pairs if r["expect"] == "call"),
            "no_call_prompts": sum(1 for r in pairs if r["expect"] != "call"),
            "families": dict(collections.Counter(f for r in pairs for f in r["families"])),
            "labels": dict(collections.Counter(lab for r in pairs for lab in r["labels"])),
            "chosen_sources": dict(collections.Counter(r["chosen_source"] for r in pairs))}


def build_datasets(examples: list[dict], candidates: list[dict], *, fmt: str = "hermes", max_pairs: int = 0,
                   seed: int = 0) -> tuple[dict[str, list[dict]], dict]:
    """The seed-independent sets (``sft``, ``dpo_format``, ``dpo_semantic``) and their statistics."""
    by_id, grouped = _group_by_example(examples, candidates, "candidate")
    sft, labels = [], collections.Counter()
    for ex_id in sorted(grouped):
        ex, cands = by_id[ex_id], grouped[ex_id]
        good = [c for c in cands if is_correct(c["verdict"])]
        for c in cands:
            labels[c["verdict"]["label"] or ("correct" if is_correct(c["verdict"]) else "ast_ok_exec_wrong")] += 1
        if good:
            sft.append({"messages": ex["messages"] + _assistant(good[0]["text"]), "tools": json.dumps(ex["tools"]),
                        "source": good[0].get("source", "?"), "id": ex_id, "subtask": ex["subtask"]})
    fmt_rows, sem_rows = minimal_pairs(examples, fmt, max_pairs=max_pairs, seed=seed)
    sets = {"sft": sft, "dpo_format": fmt_rows, "dpo_semantic": sem_rows}
    check_no_rejected_targets(sets)
    stats = {
        "prompts": len(examples), "prompts_with_candidates": len(grouped), "candidates": len(candidates),
        "candidate_labels": dict(labels), "prompts_with_a_correct_response": len(sft),
        "rows": {k: len(v) for k, v in sets.items()},
        "sft_subtasks": dict(collections.Counter(r["subtask"] for r in sft)),
        "sft_sources": dict(collections.Counter(r["source"] for r in sft)),
        "audit": {k: pair_audit(sets[k]) for k in ("dpo_format", "dpo_semantic")},
    }
    return sets, stats


def check_no_rejected_targets(sets: dict[str, list[dict]]) -> None:
    targets = {(r["id"], r["messages"][-1]["content"]) for k in ("sft", "sft_control") for r in sets.get(k, [])}
    rejected = {(r["id"], r["rejected"][0]["content"]) for k, rows in sets.items() if k.startswith("dpo") for r in rows}
    both = targets & rejected
    if both:
        raise AssertionError(f"{len(both)} rejected responses are also SFT targets, e.g. {next(iter(both))}")


def save_datasets(sets: dict[str, list[dict]], out: str | Path, provenance: dict) -> Path:
    """Each dataset with ``Dataset.save_to_disk`` under ``out/<name>``, plus ``out/provenance.json``."""
    from datasets import Dataset

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in sets.items():
        if rows:
            Dataset.from_list(rows).save_to_disk(str(out / name))
        else:
            (out / f"{name}.EMPTY").write_text("no rows\n")
    (out / "provenance.json").write_text(json.dumps(provenance, indent=1, default=str))
    return out


def load_dataset_dir(out: str | Path, name: str) -> Any:
    from datasets import load_from_disk

    path = Path(out) / name
    if not path.exists():
        raise FileNotFoundError(f"dataset {name!r} has no rows (see {Path(out) / 'provenance.json'})")
    return load_from_disk(str(path))


def _group_by_example(examples: list[dict], rows: list[dict], what: str) -> tuple[dict, dict[str, list[dict]]]:
    """Examples by id, and `rows` grouped by the example they belong to (an unknown id is an error)."""
    by_id = {ex["id"]: ex for ex in examples}
    grouped: dict[str, list[dict]] = collections.defaultdict(list)
    for row in rows:
        if row["id"] not in by_id:
            raise ValueError(f"{what} for unknown example {row['id']!r}")
        grouped[row["id"]].append(row)
    return by_id, grouped
