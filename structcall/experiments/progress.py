"""Progress bars for the long loops (generation batches); training shows TRL's own bars."""

from __future__ import annotations

from typing import Iterator

__all__ = ["batches"]


def batches(items: list, *, size: int, desc: str, progress: bool = True) -> Iterator[tuple[int, list]]:
    """``(start, chunk)`` over ``items`` with a tqdm progress bar (on stderr) when ``progress``."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(items), desc=desc, disable=not progress, leave=False, dynamic_ncols=True)
    try:
        for start in range(0, len(items), size):
            chunk = items[start:start + size]
            yield start, chunk
            bar.update(len(chunk))
    finally:
        bar.close()
