"""benchmarks.manytools_eval end to end on the tiny model: rows kept as they finish, and a
resumed run (``--resume``, larger ``--limit``) runs only the missing (cell, question) pairs."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, tiny_model, tiny_tokenizer):
    path = tmp_path_factory.mktemp("manytools") / "tiny"
    tiny_model.save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path


def _rows(out):
    return [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines() if line.strip()]


def test_resume_keeps_earlier_rows_and_adds_only_the_missing_questions(tiny_dir, tmp_path, one_torch_thread):
    from benchmarks.manytools_eval import main

    out = tmp_path / "run"
    base = ["--model", str(tiny_dir), "--sizes", "3", "--views", "full", "compact", "--regimes", "constrained",
            "--max-new-tokens", "6", "--out", str(out)]
    first = main(base + ["--limit", "1"])
    assert [(s["view"], s["n"]) for s in first["summary"]] == [("full", 1), ("compact", 1)]
    before = _rows(out)
    assert len(before) == 2 and len({r["item"] for r in before}) == 1

    second = main(base + ["--limit", "2", "--resume", "--order", "question"])
    after = _rows(out)
    assert after[:2] == before  # kept as written, not decoded again
    assert len(after) == 4 and {r["item"] for r in after} == set(second["items"])
    assert second["items"][0] == first["items"][0]  # the smaller sample is a prefix of the larger one
    assert [(s["view"], s["n"]) for s in second["summary"]] == [("full", 2), ("compact", 2)]
    assert "2 BFCL v4 `multiple` questions per cell" in (out / "results.md").read_text()

    # nothing missing: a third resume decodes nothing and keeps the file as it is
    third = main(base + ["--limit", "2", "--resume"])
    assert _rows(out) == after and len(third["rows"]) == 4

    with pytest.raises(SystemExit, match="--resume: .*--max-new-tokens 6.*this run has 7"):
        main(base[:-4] + ["--max-new-tokens", "7", "--out", str(out), "--limit", "2", "--resume"])
