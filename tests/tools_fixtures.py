"""Tool definitions the tests share (OpenAI chat-completions shape), built in one place.

`function_tool` writes the dict; `weather_tool` writes the ``get_weather`` tool that most test
files call, in the variants they need (a description or none, a ``days`` argument, which
arguments are required). Each call returns a fresh dict, so a test may change its copy.
"""

from __future__ import annotations

import copy

__all__ = ["function_tool", "weather_tool", "CITY", "UNIT", "DAYS", "WEATHER", "ADD", "SEARCH"]

CITY = {"type": "string"}
UNIT = {"type": "string", "enum": ["celsius", "fahrenheit"]}
DAYS = {"type": "integer", "minimum": 1, "maximum": 14}


def function_tool(name: str, properties: dict, required=(), *, description: str | None = None, **extra) -> dict:
    """``{"type": "function", "function": {...}}`` for a tool whose arguments object has
    `properties` (in this order); `required=None` leaves the ``required`` key out; `extra`
    adds keywords to the arguments object (``additionalProperties=False``...)."""
    params: dict = {"type": "object", "properties": copy.deepcopy(properties)}
    if required is not None:
        params["required"] = list(required)
    params.update(copy.deepcopy(extra))
    fn: dict = {"name": name}
    if description is not None:
        fn["description"] = description
    fn["parameters"] = params
    return {"type": "function", "function": fn}


def weather_tool(description: str | None = None, *, required=("city",), days: bool = False, **extra) -> dict:
    """``get_weather(city, unit[, days])``: a city string, a celsius/fahrenheit enum and, with
    `days`, an integer from 1 to 14."""
    props = {"city": CITY, "unit": UNIT}
    if days:
        props["days"] = DAYS
    return function_tool("get_weather", props, required, description=description, **extra)


#: ``get_weather(city, unit)`` without a description
WEATHER = weather_tool()
#: ``add(a, b)``: two integers, ``a`` bounded to +-1000
ADD = function_tool("add", {"a": {"type": "integer", "minimum": -1000, "maximum": 1000}, "b": {"type": "integer"}},
                    ["a", "b"], description="Add two integers.")
#: ``search(q)``: one required string
SEARCH = function_tool("search", {"q": {"type": "string"}}, ["q"])


def expressible(tools, fmt: str) -> list:
    """The tools whose arguments `fmt` can write (FunctionGemma's grammar generates strings,
    numbers and booleans only, and rejects the others with a clear error, checked here)."""
    from structcall import compile_tools
    from structcall.errors import SchemaError

    out = []
    for t in tools:
        try:
            compile_tools([t], format=fmt)
        except SchemaError as e:
            assert fmt == "functiongemma" and all("notation of its own" in p.message or "names bare" in p.message
                                                  for p in e.problems), e
            continue
        out.append(t)
    return out
