"""A short tour of the runtime core, no model needed: compile -> accepts -> parse -> validate.

Run: ``python -m structcall.demo``
"""

from __future__ import annotations

from typing import Literal

from . import ToolCallError, compile_tools, parse_calls


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the current weather in a city.

    Args:
        city: The city name, e.g. Paris.
        unit: Temperature unit.
    """
    return f"18 degrees {unit} in {city}"


BOOK = {
    "type": "function",
    "function": {
        "name": "book_flight",
        "description": "Book a flight.",
        "parameters": {
            "type": "object",
            "properties": {
                "origin": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "destination": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "date": {"type": "string", "format": "date"},
                "passengers": {"type": "integer", "minimum": 1, "maximum": 9},
            },
            "required": ["origin", "destination", "date"],
        },
    },
}


def main() -> None:
    tools = [get_weather, BOOK]
    for fmt in ("hermes", "json", "pythonic"):
        g = compile_tools(tools, format=fmt, tool_choice="auto")
        print(f"== format {fmt}: {len(g.ir.rules)} grammar rules, llguidance grammar {len(g.llguidance())} chars")
        good = {
            "hermes": 'Let me look.<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
            "json": '{"name": "book_flight", "arguments": {"origin": "CDG", "destination": "JFK", "date": "2026-12-24", "passengers": 2}}',
            "pythonic": '[get_weather(city="Oslo", unit="fahrenheit")]',
        }[fmt]
        bad = good.replace('"Paris"', "7").replace('"CDG"', '"cdg"').replace("fahrenheit", "kelvin")
        for text in (good, bad):
            verdict = "in grammar" if g.accepts(text) else "NOT in grammar"
            try:
                calls = parse_calls(text, g)
                shown = ", ".join(f"{c.name}({c.arguments})" for c in calls)
                print(f"  {verdict:15s} parsed: {shown}")
                for c in calls:
                    if c.spec is not None and c.spec.function is not None:
                        print(f"  {'':15s} executed: {c.execute()}")
            except ToolCallError as e:
                print(f"  {verdict:15s} rejected: {e.kind} at {e.pointer}: {e.message}")
        for note in g.capped[:2]:
            print(f"  cap: {note}")
    print("== feedback for a model that got it wrong:")
    try:
        parse_calls('{"name": "book_flight", "arguments": {"origin": "Paris", "passengers": 12}}', tools, format="json")
    except ToolCallError as e:
        print(e.feedback)


if __name__ == "__main__":
    main()
