"""Helpers to test grammars without a model (public: use them on your own tools).

* `check_table(grammar, cases)` - run ``(text, accepted)`` tables through every engine (lark's
  `ToolGrammar.accepts`, llguidance's and xgrammar's matchers) and report every mismatch, so
  the three dialects of one grammar cannot drift apart;
* `sample(grammar, rng)` - a random walk over the grammar IR: a string the grammar admits;
* `llguidance_accepts(grammar, text)` / `xgrammar_accepts(grammar, text)` - the same membership
  question asked of llguidance's and xgrammar's own matchers (byte-level vocabulary), over their
  dialects, to check that the dialects agree.
"""

from __future__ import annotations

import importlib.util
import random
from functools import lru_cache

from .grammar import Alt, Chars, FreeText, Grammar, Lit, Node, Ref, Rep, Seq

__all__ = ["ENGINES", "check_table", "engine_verdicts", "installed_engines", "sample", "llguidance_accepts", "xgrammar_accepts",
           "byte_tokenizer"]

#: the engines `check_table` can ask, each over its own dialect of the grammar
ENGINES = ("lark", "llguidance", "xgrammar")


def installed_engines() -> tuple[str, ...]:
    """The engines of `ENGINES` whose library is installed (lark always is)."""
    return tuple(e for e in ENGINES if e == "lark" or importlib.util.find_spec(e) is not None)


def engine_verdicts(grammar, text: str, engines=None) -> dict[str, bool]:
    """Whether each engine accepts `text` as a complete output of `grammar` (a `ToolGrammar`):
    ``lark`` is `ToolGrammar.accepts` (Earley over the Lark dialect), ``llguidance`` and
    ``xgrammar`` are `llguidance_accepts` and `xgrammar_accepts`."""
    ask = {"lark": grammar.accepts, "llguidance": lambda t: llguidance_accepts(grammar, t),
           "xgrammar": lambda t: xgrammar_accepts(grammar, t)}
    engines = installed_engines() if engines is None else tuple(engines)
    unknown = [e for e in engines if e not in ask]
    if unknown:
        raise ValueError(f"unknown engine(s) {unknown}; the engines are {list(ENGINES)}")
    return {e: ask[e](text) for e in engines}


def check_table(grammar, cases, *, engines=None) -> list[str]:
    """Run an ``(text, accepted)`` table through every engine; return one message per row where
    an engine's verdict differs from the expected one (an empty list: the engines all agree
    with the table).

    Args:
        grammar: a compiled `ToolGrammar`.
        cases: ``(text, accepted)`` pairs: `text` is a complete output, `accepted` whether the
            grammar must admit it.
        engines: names from `ENGINES` to ask; None (the default) asks every installed one, so
            a missing optional library (llguidance, xgrammar) narrows the check rather than
            failing it. Pass the names explicitly to require them.

    Use it as ``assert check_table(g, table) == []``: the message names the row, the expected
    verdict and every engine's answer.
    """
    bad = []
    for text, expected in cases:
        got = engine_verdicts(grammar, text, engines)
        wrong = sorted(e for e, v in got.items() if v != expected)
        if wrong:
            bad.append(f"expected accepts={expected}, but {', '.join(wrong)} disagree ({got}): {text!r}")
    return bad


# ------------------------------------------------------------------------------------- sampling
_PRINTABLE = [chr(c) for c in range(32, 127)] + list("éüñ中文🙂")


def _min_depth(g: Grammar):
    """Shortest derivation depth of each rule (to steer random walks to termination), and the
    function giving a node's depth from that table."""
    inf = 10**9
    depth = {n: inf for n in g.rules}

    def node_depth(n: Node) -> int:
        if isinstance(n, (Lit, Chars, FreeText)):
            return 0
        if isinstance(n, Ref):
            return depth[n.name] + 1
        if isinstance(n, Seq):
            return max((node_depth(i) for i in n.items), default=0)
        if isinstance(n, Alt):
            return min(node_depth(i) for i in n.items)
        if isinstance(n, Rep):
            return 0 if n.min == 0 else node_depth(n.item)
        return inf

    changed = True
    while changed:
        changed = False
        for name, node in g.rules.items():
            d = node_depth(node)
            if d < depth[name]:
                depth[name], changed = d, True
    return depth, node_depth


def _pick_char(ch: Chars, rng: random.Random) -> str:
    for _ in range(20):
        c = rng.choice(_PRINTABLE)
        if ch.contains(c):
            return c
    ranges = ch.positive()
    a, b = rng.choice(ranges)
    b = min(b, a + 200)
    c = chr(rng.randint(a, b))
    if 0xD800 <= ord(c) <= 0xDFFF:
        c = "a" if ch.contains("a") else chr(a)
    return c


def sample(grammar, rng: random.Random | None = None, *, max_depth: int = 12, rep_bias: float = 0.3) -> str:
    """A random string of the grammar (a `ToolGrammar` or a `Grammar`)."""
    g: Grammar = grammar.ir if hasattr(grammar, "ir") else grammar
    rng = rng or random.Random()
    _, nd = _min_depth(g)
    out: list[str] = []

    def walk(n: Node, depth: int):
        if isinstance(n, Lit):
            out.append(n.text)
        elif isinstance(n, Chars):
            out.append(_pick_char(n, rng))
        elif isinstance(n, Seq):
            for i in n.items:
                walk(i, depth)
        elif isinstance(n, Alt):
            items = list(n.items)
            if depth >= max_depth:
                best = min(nd(i) for i in items)
                items = [i for i in items if nd(i) == best]
            walk(rng.choice(items), depth)
        elif isinstance(n, Rep):
            hi = n.min if depth >= max_depth else min(n.max if n.max is not None else n.min + 4, n.min + 20)
            if rng.random() < rep_bias:
                k = rng.randint(n.min, hi)
            else:
                k = rng.randint(n.min, min(hi, n.min + 3))
            for _ in range(k):
                walk(n.item, depth)
        elif isinstance(n, Ref):
            walk(g.rules[n.name], depth + 1)
        elif isinstance(n, FreeText):
            for _ in range(50):
                k = rng.randint(0, 12)
                s = "".join(rng.choice(_PRINTABLE) for _ in range(k))
                if not n.avoid or n.avoid not in s:
                    out.append(s)
                    return
        else:
            raise TypeError(n)

    walk(Ref(g.start), 0)
    return "".join(out)


# ------------------------------------------------------------------------------------ llguidance
class _ByteTok:
    """A byte-level vocabulary: token i < 256 is byte i; token 256 is EOS."""

    eos_token_id = 256
    bos_token_id = None
    tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]
    special_token_ids = [256]

    def __call__(self, s):
        return list(s if isinstance(s, bytes) else s.encode("utf-8"))


@lru_cache(maxsize=1)
def byte_tokenizer():
    """An llguidance tokenizer over single bytes (plus EOS = 256)."""
    import llguidance

    return llguidance.LLTokenizer(llguidance.TokenizerWrapper(_ByteTok()), slices=[])


def llguidance_accepts(grammar, text: str) -> bool:
    """Whether llguidance's matcher, fed `text` byte by byte, accepts it as a complete output
    (EOS allowed at the end). `grammar` is a `ToolGrammar` or an llguidance grammar string."""
    import llguidance

    src = grammar.llguidance() if hasattr(grammar, "llguidance") else grammar
    m = llguidance.LLMatcher(byte_tokenizer(), src, log_level=0)
    if m.is_error():
        raise ValueError(f"llguidance rejected the grammar: {m.get_error()}")
    for b in text.encode("utf-8"):
        if not m.consume_token(b):
            return False
    if m.is_error():
        return False
    return m.is_accepting() or m.consume_token(256)


# -------------------------------------------------------------------------------------- xgrammar
@lru_cache(maxsize=1)
def _xgr_byte_compiler():
    import xgrammar as xgr

    vocab = [bytes([i]) for i in range(256)] + [b"<eos>"]
    info = xgr.TokenizerInfo(vocab, vocab_type=xgr.VocabType.RAW, stop_token_ids=[256])
    return xgr.GrammarCompiler(info)


def xgrammar_accepts(grammar, text: str) -> bool:
    """Whether xgrammar's matcher over the EBNF dialect (`ToolGrammar.gbnf()`) accepts `text`
    as a complete output. Needs the optional `xgrammar` package."""
    import xgrammar as xgr

    src = grammar.gbnf() if hasattr(grammar, "gbnf") else grammar
    m = xgr.GrammarMatcher(_xgr_byte_compiler().compile_grammar(src))
    return bool(m.accept_string(text)) and bool(m.accept_token(256))
