"""The fast-forward check command's parts that need no model: real BFCL v4 items, the paired
interval. (The check itself runs as ``python -m benchmarks.fastforward_check``.)"""

from __future__ import annotations

import importlib.util

import pytest

from benchmarks.fastforward_check import BFCL_CATEGORIES, bfcl_items, paired_interval


@pytest.mark.skipif(importlib.util.find_spec("bfcl_eval") is None,
                    reason="bfcl-eval not installed (make setup installs it with --no-deps)")
def test_bfcl_items_take_the_categories_in_turn():
    items = bfcl_items(10)
    assert len(items) == 10
    assert [it["subtask"] for it in items[:4]] == list(BFCL_CATEGORIES)
    for it in items:
        assert it["messages"] and it["messages"][0]["role"] == "user"
        assert it["tools"] and it["ground_truth"] and it["expect"] == "call"
    assert len({it["id"] for it in items}) == 10


def test_paired_interval():
    assert paired_interval([0.0] * 50) == (0.0, 0.0, 0.0)
    mean, lo, hi = paired_interval([1.0] * 10 + [0.0] * 90)
    assert mean == pytest.approx(0.1) and 0.0 <= lo < 0.1 < hi <= 0.25
    mean, lo, hi = paired_interval([-1.0, 1.0] * 50)
    assert mean == 0.0 and lo < 0.0 < hi
