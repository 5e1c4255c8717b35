"""The README's runtime-core example runs as written (docs that match the code)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    body = text[start: end if end > 0 else len(text)]
    out, pos = [], 0
    while True:
        i = body.find("```python", pos)
        if i < 0:
            return out
        j = body.index("```", i + 9)
        out.append(body[i + 9: j])
        pos = j + 3


def test_runtime_core_example_runs():
    (code, *_) = _blocks("## Runtime core")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102 - our own README
    assert "get_weather {'city': 'Paris'} 18 degrees celsius in Paris" in buf.getvalue()


def test_readme_names_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text
    assert "make test" in (README.parent / ".ci" / "run").read_text()
