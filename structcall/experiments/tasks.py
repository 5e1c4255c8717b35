"""The programmatic task suite: seven granular function-calling subtasks plus irrelevance.

Each example is one assistant turn to produce, given a conversation and the tools in context:

==================== ===========================================================================
subtask              what the right response is
==================== ===========================================================================
nested               the inner call first (step 0), or the outer call with the inner output as
                     an argument (step 1, the inner call and its result are in the history)
chaining             a follow-up turn's call whose arguments come from an earlier tool result
parallel             two or three independent calls in one response (order-free)
function_name        the one right tool among confusable distractors (plain argument values)
parameter_value      slot filling where values need conversion or arithmetic ("a fortnight",
                     "next Monday", "two dozen"): the ``reasoning_steps`` knob bounds it
next_best            the next call of an ordered plan, given the calls already made
response_generation  a text answer that states the facts in the tool results (no call)
irrelevance          an explicit no-call reply: no tool in context fits the request
==================== ===========================================================================

The interface follows nanochat's ``tasks/common.py``: ``num_examples()``,
``get_example(i)`` and ``evaluate(example, response)``. Generation is deterministic in
``(seed, split, index)``; the ``eval`` split uses only eval templates (see ``phrasing.pick``).
"""

from __future__ import annotations

import datetime as _dt
import inspect
import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from structcall.render import render_calls

from . import phrasing as P
from .toolbox import (CAPITALS, CATALOGUE, CITIES, CONTACTS, CURRENCIES, DIRECTORIES, FILES, TOOLS,
                      UNITS, WEEKDAYS, execute_call)

__all__ = ["SUBTASKS", "SPLITS", "TARGET_FORMAT", "TaskConfig", "ToolTasks", "REQUEST_ARGS", "ground_truth_for",
           "assistant_call_message", "tool_message"]

SUBTASKS = ("nested", "chaining", "parallel", "function_name", "parameter_value", "next_best",
            "response_generation", "irrelevance")
SPLITS = ("train", "teacher", "pretrain", "eval")
TARGET_FORMAT = "hermes"
"""The format of an example's ``target`` text (a run re-renders ``gold_calls`` in its own format:
``experiments.data.target_text``)."""


@dataclass(frozen=True)
class TaskConfig:
    """Knobs of the task suite (all splits share them).

    tools_in_context: tools shown in every prompt (needed tools + distractors); at least 2.
    distractors: "similar" fills with same-domain tools first (harder name detection), "random" at random.
    reasoning_steps: the most reasoning operations one parameter_value slot may need (0-2).
    subtasks: which subtasks to generate, cycled in this order over the indices.
    """

    seed: int = 0
    tools_in_context: int = 4
    distractors: str = "similar"
    reasoning_steps: int = 2
    subtasks: tuple[str, ...] = SUBTASKS

    def __post_init__(self) -> None:
        if self.tools_in_context < 2:
            raise ValueError(f"tasks.tools_in_context must be >= 2, got {self.tools_in_context}")
        if self.distractors not in ("similar", "random"):
            raise ValueError(f"tasks.distractors must be 'similar' or 'random', got {self.distractors!r}")
        if not 0 <= self.reasoning_steps <= 2:
            raise ValueError(f"tasks.reasoning_steps must be 0, 1 or 2, got {self.reasoning_steps}")
        unknown = [s for s in self.subtasks if s not in SUBTASKS]
        if unknown or not self.subtasks:
            raise ValueError(f"tasks.subtasks: unknown {unknown}; choose from {list(SUBTASKS)}")
        object.__setattr__(self, "subtasks", tuple(self.subtasks))


# --------------------------------------------------------------------------------------------
# Call helpers (shared with the oracle teacher)
# --------------------------------------------------------------------------------------------
def _ordered(name: str, args: dict) -> dict:
    """Arguments in the tool schema's property order (the order a grammar renders them in)."""
    props = TOOLS[name].properties
    return {k: args[k] for k in props if k in args}


def assistant_call_message(calls: list[dict], start_id: int) -> dict:
    """An OpenAI assistant message with ``tool_calls`` (arguments as a JSON string)."""
    return {"role": "assistant", "content": None,
            "tool_calls": [{"id": f"call_{start_id + i}", "type": "function",
                            "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                           for i, c in enumerate(calls)]}


def tool_message(call: dict, result: Any, call_id: int) -> dict:
    return {"role": "tool", "tool_call_id": f"call_{call_id}", "name": call["name"], "content": json.dumps(result)}


def _defaults(name: str) -> dict[str, Any]:
    sig = inspect.signature(TOOLS[name].fn)
    return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def ground_truth_for(calls: list[dict]) -> list[dict]:
    """BFCL-style ground truth: ``[{name: {arg: [allowed values]}}]``; ``""`` = may be omitted.

    An optional argument the request does not mention may be omitted or given its default.
    """
    out = []
    for c in calls:
        allowed = {k: [v] for k, v in c["arguments"].items()}
        for k, d in _defaults(c["name"]).items():
            if k not in allowed:
                allowed[k] = ["", d]
        out.append({c["name"]: allowed})
    return out


def _call(name: str, /, **args: Any) -> dict:
    return {"name": name, "arguments": _ordered(name, args)}


# --------------------------------------------------------------------------------------------
# Plain requests: one tool, values written out
# --------------------------------------------------------------------------------------------
TITLES = ["team sync", "dentist appointment", "project review", "yoga class", "lunch with Sam", "budget meeting"]
SUBJECTS = ["Quarterly numbers", "Lunch on Friday", "Project update", "Travel plans", "Meeting notes", "Invoice"]
REMINDERS = ["water the plants", "call the bank", "pay the rent", "pick up the keys", "renew my passport"]
QUERIES = ["report", "budget", "model", "bank", "jazz", "beta"]
TEXT_FILES = [p for p in FILES if not p.endswith((".jpg", ".png"))]


def _two(rng: random.Random, pool: list) -> tuple:
    a, b = rng.sample(pool, 2)
    return a, b


def _num_list(xs: list) -> str:
    s = [str(x) for x in xs]
    return ", ".join(s[:-1]) + " and " + s[-1]


def _date_within(rng: random.Random, today: _dt.date, days: int = 90) -> str:
    return (today + _dt.timedelta(days=rng.randint(1, days))).isoformat()


def _weather_args(rng: random.Random, today: _dt.date) -> dict:
    city = rng.choice(CITY_NAMES)
    if rng.random() < 0.3:
        return {"city": city, "unit": rng.choice(["celsius", "fahrenheit"])}
    return {"city": city}


def _units_args(rng: random.Random, today: _dt.date) -> dict:
    dim = rng.choice(["length", "mass", "volume"])
    u1, u2 = _two(rng, [u for u, (d, _) in UNITS.items() if d == dim])
    return {"value": rng.choice([2, 3.5, 5, 10, 12, 42, 100, 0.5, 7.25]), "from_unit": u1, "to_unit": u2}


def _currency_args(rng: random.Random, today: _dt.date) -> dict:
    c1, c2 = _two(rng, list(CURRENCIES))
    return {"amount": rng.choice([20, 50, 75, 100, 250, 1200, 19.5]), "from_currency": c1, "to_currency": c2}


def _days_between_args(rng: random.Random, today: _dt.date) -> dict:
    d1, d2 = sorted([_date_within(rng, today), _date_within(rng, today)])
    return {"start_date": d1, "end_date": d2}


def _route_args(rng: random.Random, today: _dt.date, *, dated: bool = False) -> dict:
    a, b = _two(rng, CITY_NAMES)
    return {"origin": a, "destination": b, "date": _date_within(rng, today)} if dated else {"origin": a, "destination": b}


def _reminder_args(rng: random.Random, today: _dt.date) -> dict:
    return {"text": rng.choice(REMINDERS), "date": _date_within(rng, today),
            "time": f"{rng.randint(7, 20):02d}:{rng.choice([0, 15, 30, 45]):02d}"}


CITY_NAMES = list(CITIES)
#: tool name -> the arguments of a plain request for it, drawn from ``(rng, today)`` (call order:
#: the tool's parameter order). Every toolbox tool has one.
REQUEST_ARGS: dict[str, Callable[[random.Random, _dt.date], dict]] = {
    "get_weather": _weather_args,
    "get_forecast": lambda rng, today: {"city": rng.choice(CITY_NAMES), "days": rng.randint(2, 7)},
    "get_air_quality": lambda rng, today: {"city": rng.choice(CITY_NAMES)},
    "convert_units": _units_args,
    "convert_currency": _currency_args,
    "add_numbers": lambda rng, today: {"numbers": [rng.randint(1, 99) for _ in range(rng.randint(2, 4))]},
    "multiply": lambda rng, today: {"a": rng.randint(2, 99), "b": rng.choice([rng.randint(2, 30), 1.5, 2.5, 0.25])},
    "percent_of": lambda rng, today: {"percent": rng.choice([5, 10, 15, 20, 25, 40]), "value": rng.randint(10, 500)},
    "add_days": lambda rng, today: {"date": _date_within(rng, today), "days": rng.randint(1, 30)},
    "day_of_week": lambda rng, today: {"date": _date_within(rng, today)},
    "days_between": _days_between_args,
    "create_event": lambda rng, today: {"title": rng.choice(TITLES), "date": _date_within(rng, today)},
    "get_capital": lambda rng, today: {"country": rng.choice(list(CAPITALS))},
    "get_distance": _route_args,
    "search_flights": lambda rng, today: _route_args(rng, today, dated=True),
    "book_hotel": lambda rng, today: {"city": rng.choice(CITY_NAMES), "check_in": _date_within(rng, today),
                                      "nights": rng.randint(1, 6)},
    "rent_car": lambda rng, today: {"city": rng.choice(CITY_NAMES), "pickup_date": _date_within(rng, today),
                                    "days": rng.randint(2, 9)},
    "get_price": lambda rng, today: {"item": rng.choice(list(CATALOGUE))},
    "add_to_cart": lambda rng, today: {"item": rng.choice(list(CATALOGUE)), "quantity": rng.randint(1, 9)},
    "apply_discount": lambda rng, today: {"price": rng.choice([19.99, 45, 120, 80, 9.5]),
                                          "percent": rng.choice([10, 15, 20, 25, 30])},
    "check_stock": lambda rng, today: {"item": rng.choice(list(CATALOGUE))},
    "list_files": lambda rng, today: {"directory": rng.choice(DIRECTORIES)},
    "read_file": lambda rng, today: {"path": rng.choice(TEXT_FILES)},
    "count_words": lambda rng, today: {"path": rng.choice(TEXT_FILES)},
    "search_files": lambda rng, today: {"query": rng.choice(QUERIES)},
    "get_contact": lambda rng, today: {"name": rng.choice(list(CONTACTS))},
    "send_email": lambda rng, today: {"to": CONTACTS[rng.choice(list(CONTACTS))][0], "subject": rng.choice(SUBJECTS)},
    "set_reminder": _reminder_args,
}


def plain_request(rng: random.Random, name: str, split: str, today: _dt.date) -> tuple[str, dict, str]:
    """(clause, call, template id) for ``name`` with written-out values.

    The clause templates are ``phrasing.CLAUSES[key]``, ``key`` = the tool name plus ``+arg`` for
    each optional argument the request gives (its templates mention it); lists read "1, 2 and 3".
    """
    args = REQUEST_ARGS[name](rng, today)
    key = "+".join([name, *(k for k in args if k not in TOOLS[name].required)])
    slots = {k: _num_list(v) if isinstance(v, list) else v for k, v in args.items()}
    tmpl, tid = P.pick(rng, P.CLAUSES[key], split, key)
    return tmpl.format(**slots), _call(name, **args), tid


# --------------------------------------------------------------------------------------------
# The suite
# --------------------------------------------------------------------------------------------
@dataclass
class _Draft:
    subtask: str
    history: list[dict]                 # messages after the system message
    needed: list[str]                   # tool names the answer uses or the history used
    expect: str                         # "call" | "no_call" | "answer"
    calls: list[dict] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    target_text: str = ""
    templates: list[str] = field(default_factory=list)
    steps: int = 0
    similar: bool = False
    exclude_domains: tuple[str, ...] = ()


class ToolTasks:
    """A deterministic, indexable split of the task suite (nanochat-style task interface)."""

    def __init__(self, split: str, n: int, config: TaskConfig | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose from {list(SPLITS)}")
        if n < 0:
            raise ValueError(f"number of examples must be >= 0, got {n}")
        self.split, self.n, self.config = split, n, config or TaskConfig()

    def num_examples(self) -> int:
        return self.n

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return (self.get_example(i) for i in range(self.n))

    def evaluate(self, example: dict, response: str, format: str = TARGET_FORMAT) -> dict:
        """Score one response text (in output ``format``) against ``example`` (see
        :func:`structcall.experiments.verifier.verify`)."""
        from .verifier import verify
        return verify(response, example, format=format).as_dict()

    def get_example(self, index: int) -> dict:
        if not 0 <= index < self.n:
            raise IndexError(f"example {index} out of range for split {self.split!r} of {self.n}")
        cfg = self.config
        subtask = cfg.subtasks[index % len(cfg.subtasks)]
        rng = random.Random(f"structcall:{cfg.seed}:{self.split}:{index}")
        today = _dt.date(2025, 1, 1) + _dt.timedelta(days=rng.randint(0, 700))
        draft = getattr(self, f"_{subtask}")(rng, today)
        tools = self._context(rng, draft)
        system = {"role": "system", "content": f"Today is {today.isoformat()} ({WEEKDAYS[today.weekday()]})."}
        target = render_calls(draft.calls, format=TARGET_FORMAT) if draft.expect == "call" else draft.target_text
        return {
            "id": f"{self.split}-{subtask}-{index:05d}",
            "split": self.split,
            "subtask": subtask,
            "messages": [system, *draft.history],
            "tools": [TOOLS[t].schema() for t in tools],
            "expect": draft.expect,
            "gold_calls": draft.calls,
            "ground_truth": ground_truth_for(draft.calls),
            "facts": draft.facts,
            "target": target,
            "templates": draft.templates,
            "knobs": {"tools_in_context": len(tools), "distractors": len(tools) - len(set(draft.needed)),
                      "reasoning_steps": draft.steps},
        }

    # ---- context ------------------------------------------------------------------------------
    def _context(self, rng: random.Random, d: _Draft) -> list[str]:
        needed = list(dict.fromkeys(d.needed))
        k = max(self.config.tools_in_context, len(needed))
        pool = [t for t in TOOLS if t not in needed and TOOLS[t].domain not in d.exclude_domains]
        rng.shuffle(pool)
        if d.similar and self.config.distractors == "similar":
            domains = {TOOLS[t].domain for t in needed}
            pool.sort(key=lambda t: TOOLS[t].domain not in domains)  # stable: same domain first
        tools = needed + pool[: k - len(needed)]
        rng.shuffle(tools)
        return tools

    # ---- subtasks -----------------------------------------------------------------------------
    def _user(self, rng: random.Random, clause: str) -> tuple[dict, str]:
        text, wid = P.wrap(rng, clause, self.split)
        return {"role": "user", "content": text}, wid

    def _function_name(self, rng: random.Random, today: _dt.date) -> _Draft:
        name = rng.choice(list(TOOLS))
        clause, call, tid = plain_request(rng, name, self.split, today)
        user, wid = self._user(rng, clause)
        return _Draft("function_name", [user], [name], "call", [call], templates=[tid, wid], similar=True)

    def _parallel(self, rng: random.Random, today: _dt.date) -> _Draft:
        k = rng.choice([2, 2, 3])
        if rng.random() < 0.5:  # same tool, different arguments
            names = [rng.choice(list(TOOLS))] * k
        else:
            names = rng.sample(list(TOOLS), k)
        clauses, calls, tids = [], [], []
        for n in names:
            for _ in range(20):  # distinct calls only
                c, call, tid = plain_request(rng, n, self.split, today)
                if call not in calls:
                    break
            clauses.append(c), calls.append(call), tids.append(tid)
        tmpl, jid = P.pick(rng, P.PARALLEL[k], self.split, f"parallel{k}")
        slots = {f"c{i + 1}": c for i, c in enumerate(clauses)} | {f"C{i + 1}": P.capitalize(c) for i, c in enumerate(clauses)}
        user = {"role": "user", "content": tmpl.format(**slots)}
        return _Draft("parallel", [user], names, "call", calls, templates=[*tids, jid])

    def _next_best(self, rng: random.Random, today: _dt.date) -> _Draft:
        k = rng.choice([2, 3])
        names = rng.sample(list(TOOLS), k)
        clauses, calls, tids = [], [], []
        for n in names:
            c, call, tid = plain_request(rng, n, self.split, today)
            clauses.append(c), calls.append(call), tids.append(tid)
        tmpl, jid = P.pick(rng, P.PLANS[k], self.split, f"plan{k}")
        slots = {f"c{i + 1}": c for i, c in enumerate(clauses)} | {f"C{i + 1}": P.capitalize(c) for i, c in enumerate(clauses)}
        history: list[dict] = [{"role": "user", "content": tmpl.format(**slots)}]
        done = rng.randint(1, k - 1)
        for i in range(done):
            history += [assistant_call_message([calls[i]], i + 1), tool_message(calls[i], execute_call(**calls[i]), i + 1)]
        return _Draft("next_best", history, names, "call", [calls[done]], templates=[*tids, jid])

    def _response_generation(self, rng: random.Random, today: _dt.date) -> _Draft:
        name = rng.choice(sorted(P.ANSWERS))
        for _ in range(50):  # a call whose result is not an error
            clause, call, tid = plain_request(rng, name, self.split, today)
            result = execute_call(**call)
            if "error" not in result:
                break
        user, wid = self._user(rng, clause)
        answer_t = rng.choice(P.ANSWERS[name])
        history = [user, assistant_call_message([call], 1), tool_message(call, result, 1)]
        facts = [str(result[f]) for f in P.ANSWER_FACTS[name]]
        return _Draft("response_generation", history, [name], "answer", facts=facts,
                      target_text=answer_t.format(**result), templates=[tid, wid])

    def _irrelevance(self, rng: random.Random, today: _dt.date) -> _Draft:
        refusal = rng.choice(P.REFUSALS)
        if rng.random() < 0.5:  # nothing in the toolbox can do it
            tmpl, tid = P.pick(rng, P.OUT_OF_SCOPE, self.split, "out_of_scope")
            user, wid = self._user(rng, tmpl)
            return _Draft("irrelevance", [user], [], "no_call", target_text=refusal, templates=[tid, wid])
        name = rng.choice(list(TOOLS))  # a toolbox tool, but its whole domain is left out of context
        clause, _, tid = plain_request(rng, name, self.split, today)
        user, wid = self._user(rng, clause)
        return _Draft("irrelevance", [user], [], "no_call", target_text=refusal, templates=[tid, wid],
                      exclude_domains=(TOOLS[name].domain,))

    def _parameter_value(self, rng: random.Random, today: _dt.date) -> _Draft:
        ms = self.config.reasoning_steps
        name = rng.choice(sorted(P.PV_CLAUSES))
        city = rng.choice(list(CITIES))
        steps = 0
        if name == "book_hotel":
            (ci, civ, s1), (ni, niv, s2) = P.date_phrase(rng, today, ms), P.days_phrase(rng, ms, noun="nights")
            slots, call, steps = {"city": city, "check_in": ci, "nights": ni}, _call(name, city=city, check_in=civ, nights=niv), s1 + s2
        elif name == "create_event":
            t = rng.choice(TITLES)
            (d, dv, s1), (tm, tmv, s2), (du, duv, s3) = P.date_phrase(rng, today, ms), P.time_phrase(rng, ms), P.minutes_phrase(rng, ms)
            slots = {"title": t, "date": d, "time": tm, "duration": du}
            call, steps = _call(name, title=t, date=dv, time=tmv, duration_minutes=duv), s1 + s2 + s3
        elif name == "search_flights":
            b = rng.choice([c for c in CITIES if c != city])
            (d, dv, s1), (pa, pav, s2) = P.date_phrase(rng, today, ms), P.passengers_phrase(rng, ms)
            slots = {"origin": city, "destination": b, "date": d, "passengers": pa}
            call, steps = _call(name, origin=city, destination=b, date=dv, passengers=pav), s1 + s2
        elif name == "rent_car":
            (d, dv, s1), (du, duv, s2) = P.date_phrase(rng, today, ms), P.days_phrase(rng, ms)
            slots, call, steps = {"city": city, "pickup_date": d, "days": du}, _call(name, city=city, pickup_date=dv, days=duv), s1 + s2
        elif name == "set_reminder":
            t = rng.choice(REMINDERS)
            (d, dv, s1), (tm, tmv, s2) = P.date_phrase(rng, today, ms), P.time_phrase(rng, ms)
            slots, call, steps = {"text": t, "date": d, "time": tm}, _call(name, text=t, date=dv, time=tmv), s1 + s2
        elif name == "add_to_cart":
            it = rng.choice(list(CATALOGUE))
            q, qv, steps = P.quantity_phrase(rng, ms)
            slots, call = {"item": it, "quantity": q}, _call(name, item=it, quantity=qv)
        elif name == "add_days":
            d = (today + _dt.timedelta(days=rng.randint(1, 90))).isoformat()
            du, duv, steps = P.days_phrase(rng, ms)
            slots, call = {"date": d, "days": du}, _call(name, date=d, days=duv)
        else:  # convert_currency with currency names
            names = {"USD": "US dollars", "EUR": "euros", "GBP": "British pounds", "JPY": "Japanese yen",
                     "CHF": "Swiss francs", "CAD": "Canadian dollars"}
            c1, c2 = _two(rng, list(CURRENCIES))
            a = rng.choice([20, 50, 75, 100, 250, 1200])
            named = ms >= 1
            slots = {"amount": a, "from_currency": names[c1] if named else c1, "to_currency": names[c2] if named else c2}
            call, steps = _call(name, amount=a, from_currency=c1, to_currency=c2), 2 if named else 0
        tmpl, tid = P.pick(rng, P.PV_CLAUSES[name], self.split, f"pv:{name}")
        user, wid = self._user(rng, tmpl.format(**slots))
        return _Draft("parameter_value", [user], [name], "call", [call], templates=[tid, wid], steps=steps)

    def _nested(self, rng: random.Random, today: _dt.date) -> _Draft:
        kind = rng.choice(sorted(P.NESTED))
        if kind == "weather_in_capital":
            country = rng.choice(list(CAPITALS))
            inner, slots = [_call("get_capital", country=country)], {"country": country}
            outer = lambda r: _call("get_weather", city=r[0]["capital"])  # noqa: E731
        elif kind == "email_contact":
            name, subject = rng.choice(list(CONTACTS)), rng.choice(SUBJECTS)
            inner, slots = [_call("get_contact", name=name)], {"name": name, "subject": subject}
            outer = lambda r: _call("send_email", to=r[0]["email"], subject=subject)  # noqa: E731
        elif kind == "price_in_currency":
            item, cur = rng.choice(list(CATALOGUE)), rng.choice(["EUR", "GBP", "JPY", "CHF", "CAD"])
            inner, slots = [_call("get_price", item=item)], {"item": item, "currency": cur}
            outer = lambda r: _call("convert_currency", amount=r[0]["price"], from_currency="USD", to_currency=cur)  # noqa: E731
        elif kind == "weekday_after":
            d, n = (today + _dt.timedelta(days=rng.randint(1, 90))).isoformat(), rng.randint(2, 40)
            inner, slots = [_call("add_days", date=d, days=n)], {"date": d, "days": n}
            outer = lambda r: _call("day_of_week", date=r[0]["date"])  # noqa: E731
        elif kind == "capital_distance":
            a, b = _two(rng, list(CAPITALS))
            inner, slots = [_call("get_capital", country=a), _call("get_capital", country=b)], {"a": a, "b": b}
            outer = lambda r: _call("get_distance", origin=r[0]["capital"], destination=r[1]["capital"])  # noqa: E731
        else:  # discounted_price
            item, pc = rng.choice(list(CATALOGUE)), rng.choice([10, 15, 20, 25, 30])
            inner, slots = [_call("get_price", item=item)], {"item": item, "percent": pc}
            outer = lambda r: _call("apply_discount", price=r[0]["price"], percent=pc)  # noqa: E731
        tmpl, tid = P.pick(rng, P.NESTED[kind], self.split, f"nested:{kind}")
        user, wid = self._user(rng, tmpl.format(**slots))
        results = [execute_call(**c) for c in inner]
        out = outer(results)
        needed = [c["name"] for c in inner] + [out["name"]]
        if rng.random() < 0.5:  # step 0: the inner call(s) come first
            return _Draft("nested", [user], needed, "call", inner, templates=[tid, wid])
        history = [user, assistant_call_message(inner, 1)]
        history += [tool_message(c, r, i + 1) for i, (c, r) in enumerate(zip(inner, results))]
        return _Draft("nested", history, needed, "call", [out], templates=[tid, wid])

    def _chaining(self, rng: random.Random, today: _dt.date) -> _Draft:
        kind = rng.choice(sorted(P.CHAINS))
        first_tool = {"flight_then_hotel": "search_flights", "price_then_convert": "get_price",
                      "contact_then_email": "get_contact", "date_then_weekday": "add_days",
                      "capital_then_weather": "get_capital", "list_then_count": "list_files",
                      "distance_then_miles": "get_distance", "days_then_add": "days_between"}[kind]
        clause, first, tid1 = plain_request(rng, first_tool, self.split, today)
        if kind == "list_then_count":  # a directory whose first file has text
            d = rng.choice(["/home/docs", "/home/projects", "/home/music"])
            first = _call("list_files", directory=d)
            clause = P.CLAUSES["list_files"][int(tid1.split("#")[1])].format(directory=d)
        r = execute_call(**first)
        slots: dict[str, Any] = {}
        if kind == "flight_then_hotel":
            slots["nights"] = rng.randint(2, 6)
            nxt = _call("book_hotel", city=r["destination"], check_in=r["flights"][0]["arrival_date"], nights=slots["nights"])
        elif kind == "price_then_convert":
            slots["currency"] = rng.choice(["EUR", "GBP", "JPY", "CHF", "CAD"])
            nxt = _call("convert_currency", amount=r["price"], from_currency="USD", to_currency=slots["currency"])
        elif kind == "contact_then_email":
            slots["subject"] = rng.choice(SUBJECTS)
            nxt = _call("send_email", to=r["email"], subject=slots["subject"])
        elif kind == "date_then_weekday":
            nxt = _call("day_of_week", date=r["date"])
        elif kind == "capital_then_weather":
            nxt = _call("get_weather", city=r["capital"])
        elif kind == "list_then_count":
            nxt = _call("count_words", path=f"{r['directory']}/{r['files'][0]}")
        elif kind == "distance_then_miles":
            nxt = _call("convert_units", value=r["distance"], from_unit="kilometers", to_unit="miles")
        else:  # days_then_add
            slots["date"] = (today + _dt.timedelta(days=rng.randint(1, 60))).isoformat()
            nxt = _call("add_days", date=slots["date"], days=r["days"])
        user1, wid = self._user(rng, clause)
        answer_name = first["name"]
        answer = rng.choice(P.ANSWERS[answer_name]).format(**r) if answer_name in P.ANSWERS else \
            "Here is what I found: " + json.dumps(r) + "."
        tmpl, tid2 = P.pick(rng, P.CHAINS[kind], self.split, f"chain:{kind}")
        history = [user1, assistant_call_message([first], 1), tool_message(first, r, 1),
                   {"role": "assistant", "content": answer}, {"role": "user", "content": tmpl.format(**slots)}]
        return _Draft("chaining", history, [first["name"], nxt["name"]], "call", [nxt], templates=[tid1, wid, tid2])


def example_json(example: dict) -> str:
    """One line of JSON for an example (stable key order)."""
    return json.dumps(example, sort_keys=True)


def config_dict(config: TaskConfig) -> dict:
    return {**asdict(config), "subtasks": list(config.subtasks)}
