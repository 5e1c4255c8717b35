"""Tool retrieval: pick the few tools of a large library that a request is likely to need.

`ToolLibrary` normalises a library once and indexes one short document per tool (its name
split into words, its description, its argument names and their descriptions). ``search``
ranks the library for a query and returns the top ``k`` `ToolSpec`s, whose full schemas the
grammar then holds. Retrievers are pluggable (`Retriever`: ``fit`` on the documents, then
``scores`` for a query):

* `BM25Retriever` (default): Okapi BM25 (k1=1.5, b=0.75, idf ``ln(1 + (N - n + 0.5) / (n + 0.5))``,
  which is never negative), written out here in a few lines, so retrieval needs no extra package;
* `RankBM25Retriever`: the same ranking through the ``rank-bm25`` package (``BM25Okapi``),
  for comparison;
* `EmbeddingRetriever`: cosine similarity of vectors from any ``embed(texts) -> vectors``
  function (a sentence-transformers model's ``encode``, an embeddings API, ...).

``generate(..., top_k=k)`` uses a library this way: the prompt shows the ``k`` candidates,
and the grammar admits either only them (``restrict_to_candidates=True``, the default) or the
whole library.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from .tools import ToolSpec, closest, normalize_tools

__all__ = ["BM25Retriever", "EmbeddingRetriever", "RankBM25Retriever", "Retriever", "ToolLibrary",
           "query_text", "tool_document", "tokenize"]

_STOP = frozenset(
    "a an and are as at be by can do does for from get give how i in into is it its me my of on or "
    "please should that the their this to use using want was what when which will with would you your".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens: ``snake_case``, ``camelCase``, dotted and hyphenated names are split
    into words; a few English stop words are dropped."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text or "")
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP]


def tool_document(spec: ToolSpec) -> str:
    """The text a retriever indexes for one tool: name (twice, as words), description, and each
    argument's name and description."""
    parts = [spec.original_name or spec.name, spec.name, spec.description]
    params = spec.parameters if isinstance(spec.parameters, dict) else {}
    props = params.get("properties") if isinstance(params.get("properties"), dict) else {}
    for name, sub in props.items():
        parts.append(name)
        if isinstance(sub, dict) and isinstance(sub.get("description"), str):
            parts.append(sub["description"])
    return " ".join(p for p in parts if p)


def query_text(messages: Any) -> str:
    """What to retrieve for: the last user message of an OpenAI-style conversation (a string
    is taken as it is)."""
    if isinstance(messages, str):
        return messages
    for m in reversed(list(messages or [])):
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str):
            return m["content"]
    return ""


@runtime_checkable
class Retriever(Protocol):
    """Ranks documents for a query. ``fit`` is called once with every tool's document; ``scores``
    returns one score per document (higher is better)."""

    def fit(self, documents: Sequence[str]) -> None: ...

    def scores(self, query: str) -> Sequence[float]: ...


class BM25Retriever:
    """Okapi BM25 over `tokenize`d documents (exact, no dependency)."""

    def __init__(self, *, k1: float = 1.5, b: float = 0.75):
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b = k1, b
        self._tf: list[Counter] = []
        self._len: list[int] = []
        self._idf: dict[str, float] = {}
        self._avg = 0.0

    def fit(self, documents: Sequence[str]) -> None:
        self._tf = [Counter(tokenize(d)) for d in documents]
        self._len = [sum(tf.values()) for tf in self._tf]
        n = len(self._tf)
        self._avg = sum(self._len) / n if n else 0.0
        df: Counter = Counter()
        for tf in self._tf:
            df.update(tf.keys())
        self._idf = {w: math.log(1.0 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}

    def scores(self, query: str) -> list[float]:
        terms = [w for w in tokenize(query) if w in self._idf]
        out = []
        for tf, length in zip(self._tf, self._len):
            norm = self.k1 * (1 - self.b + self.b * length / self._avg) if self._avg else self.k1
            s = 0.0
            for w in terms:
                f = tf.get(w)
                if f:
                    s += self._idf[w] * f * (self.k1 + 1) / (f + norm)
            out.append(s)
        return out


class RankBM25Retriever:
    """BM25 through the ``rank-bm25`` package's ``BM25Okapi`` (same tokenisation as
    `BM25Retriever`; its idf floors frequent terms at ``epsilon`` times the mean idf)."""

    def __init__(self, **options: Any):
        self.options = options
        self._bm25: Any = None

    def fit(self, documents: Sequence[str]) -> None:
        try:
            from rank_bm25 import BM25Okapi
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("RankBM25Retriever needs the rank-bm25 package: pip install rank-bm25") from exc
        self._bm25 = BM25Okapi([tokenize(d) or [""] for d in documents], **self.options)

    def scores(self, query: str) -> list[float]:
        return [float(s) for s in self._bm25.get_scores(tokenize(query))]


class EmbeddingRetriever:
    """Cosine similarity of embeddings; ``embed`` maps a list of texts to a list of vectors."""

    def __init__(self, embed: Callable[[list[str]], Any]):
        if not callable(embed):
            raise TypeError(f"embed must be a function texts -> vectors, got {type(embed).__name__}")
        self.embed = embed
        self._docs: list[list[float]] = []

    @staticmethod
    def _unit(v: Any) -> list[float]:
        v = [float(x) for x in v]
        n = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / n for x in v]

    def fit(self, documents: Sequence[str]) -> None:
        vectors = list(self.embed(list(documents)))
        if len(vectors) != len(documents):
            raise ValueError(f"embed returned {len(vectors)} vectors for {len(documents)} documents")
        self._docs = [self._unit(v) for v in vectors]

    def scores(self, query: str) -> list[float]:
        q = self._unit(list(self.embed([query]))[0])
        return [sum(a * b for a, b in zip(q, d)) for d in self._docs]


class ToolLibrary:
    """A large set of tools, normalised and indexed once.

    Args:
        tools: anything `structcall.tools.normalize_tools` takes.
        retriever: a `Retriever` (default `BM25Retriever()`); it is fitted here.
    """

    def __init__(self, tools: Any, *, retriever: Retriever | None = None):
        self.specs: list[ToolSpec] = normalize_tools(tools)
        if not self.specs:
            raise ValueError("a ToolLibrary needs at least one tool")
        self.retriever = retriever if retriever is not None else BM25Retriever()
        if not isinstance(self.retriever, Retriever):
            raise TypeError(f"retriever must have fit(documents) and scores(query), got {type(self.retriever).__name__}")
        self.retriever.fit([tool_document(s) for s in self.specs])
        self._by_name = {s.name: s for s in self.specs}

    def __len__(self) -> int:
        return len(self.specs)

    def __iter__(self):
        return iter(self.specs)

    def ranked(self, query: str) -> list[tuple[ToolSpec, float]]:
        """Every tool with its score, best first (ties keep library order)."""
        scores = list(self.retriever.scores(query))
        if len(scores) != len(self.specs):
            raise ValueError(f"the retriever gave {len(scores)} scores for {len(self.specs)} tools")
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [(self.specs[i], scores[i]) for i in order]

    def search(self, query: str, k: int, *, include: Sequence[str] = ()) -> list[ToolSpec]:
        """The ``k`` best tools for ``query``, plus the tools named in ``include`` (e.g. a
        named ``tool_choice``) if they were not among them; best first."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"top_k must be a positive integer, got {k!r}")
        picked = [s for s, _ in self.ranked(query)[:k]]
        for name in include:
            if name not in self._by_name:
                raise ValueError(f"{name!r} is not a tool of the library.{closest(name, self._by_name)}")
            if all(s.name != name for s in picked):
                picked.append(self._by_name[name])
        return picked
