"""Real, executable, deterministic tools in eight domains, with their OpenAI tool schemas.

Every tool is a plain, typed Python function over fixed tables (cities, prices, files, contacts) or
exact arithmetic; "weather" is a deterministic function of the city name. Nothing reads the
clock, the network or a random generator, so executing a call always gives the same result,
which is what the verifier's execution comparison relies on. Its docstring describes it and its
arguments, its annotations give types and bounds: structcall derives the tool schema from the
function (``structcall.tools.normalize_tools``), so the schema cannot drift from the code.

``TOOLS`` maps a tool name to a :class:`Tool`; ``Tool.schema()`` is the OpenAI
``{"type": "function", "function": {...}}`` dict and ``Tool.run(arguments)`` executes a call,
returning the result or ``{"error": ...}`` for arguments the function rejects.
"""

from __future__ import annotations

import datetime as _dt
import math
import zlib
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal

from pydantic import Field

from structcall.tools import normalize_tools

__all__ = ["Tool", "TOOLS", "DOMAINS", "CITIES", "CAPITALS", "CATALOGUE", "FILES", "CONTACTS",
           "UNITS", "CURRENCIES", "execute_call"]


def _h(*parts: str) -> int:
    """Stable hash (crc32) of normalised strings; Python's hash() is salted per process."""
    return zlib.crc32("\x1f".join(p.strip().lower() for p in parts).encode())


# --------------------------------------------------------------------------------------------
# Fixed tables
# --------------------------------------------------------------------------------------------
# city -> (country, latitude, longitude, is_capital)
CITIES: dict[str, tuple[str, float, float, bool]] = {
    "Paris": ("France", 48.86, 2.35, True), "Berlin": ("Germany", 52.52, 13.40, True),
    "Rome": ("Italy", 41.90, 12.50, True), "Madrid": ("Spain", 40.42, -3.70, True),
    "Lisbon": ("Portugal", 38.72, -9.14, True), "Vienna": ("Austria", 48.21, 16.37, True),
    "Oslo": ("Norway", 59.91, 10.75, True), "Stockholm": ("Sweden", 59.33, 18.07, True),
    "Helsinki": ("Finland", 60.17, 24.94, True), "Dublin": ("Ireland", 53.35, -6.26, True),
    "Athens": ("Greece", 37.98, 23.73, True), "Warsaw": ("Poland", 52.23, 21.01, True),
    "Prague": ("Czechia", 50.08, 14.44, True), "Budapest": ("Hungary", 47.50, 19.04, True),
    "Tokyo": ("Japan", 35.68, 139.69, True), "Seoul": ("South Korea", 37.57, 126.98, True),
    "Ottawa": ("Canada", 45.42, -75.70, True), "Canberra": ("Australia", -35.28, 149.13, True),
    "Cairo": ("Egypt", 30.04, 31.24, True), "Lima": ("Peru", -12.05, -77.04, True),
    "Nairobi": ("Kenya", -1.29, 36.82, True), "Hanoi": ("Vietnam", 21.03, 105.85, True),
    "Copenhagen": ("Denmark", 55.68, 12.57, True), "Brussels": ("Belgium", 50.85, 4.35, True),
    "Amsterdam": ("Netherlands", 52.37, 4.90, True), "Bern": ("Switzerland", 46.95, 7.45, True),
    "Barcelona": ("Spain", 41.39, 2.17, False), "Munich": ("Germany", 48.14, 11.58, False),
    "Milan": ("Italy", 45.46, 9.19, False), "Osaka": ("Japan", 34.69, 135.50, False),
    "Toronto": ("Canada", 43.65, -79.38, False), "Sydney": ("Australia", -33.87, 151.21, False),
    "Chicago": ("United States", 41.88, -87.63, False), "Boston": ("United States", 42.36, -71.06, False),
    "Lyon": ("France", 45.76, 4.84, False), "Porto": ("Portugal", 41.15, -8.61, False),
}
CAPITALS: dict[str, str] = {country: city for city, (country, _, _, cap) in CITIES.items() if cap}

CATALOGUE: dict[str, float] = {
    "notebook": 3.5, "coffee mug": 8.0, "desk lamp": 24.99, "usb cable": 6.5,
    "water bottle": 12.0, "backpack": 45.0, "headphones": 59.9, "keyboard": 34.5,
    "umbrella": 15.0, "tea kettle": 29.0, "phone charger": 19.99, "yoga mat": 22.0,
}
STORES = ["downtown", "airport", "mall"]

FILES: dict[str, str] = {
    "/home/docs/report.txt": "Quarterly report: sales grew in every region except the north.",
    "/home/docs/notes.md": "Meeting notes. Ship the beta on Friday and review the budget.",
    "/home/docs/budget.csv": "item,amount\nrent,1200\nfood,400\ntravel,250",
    "/home/projects/plan.md": "Plan: collect data, train the model, write the report.",
    "/home/projects/todo.txt": "buy milk\ncall the bank\nfix the bike",
    "/home/projects/readme.md": "This project measures how small models call tools.",
    "/home/photos/beach.jpg": "<binary image data>",
    "/home/photos/city.png": "<binary image data>",
    "/home/music/playlist.txt": "jazz standards\nmorning piano\nroad trip",
}
DIRECTORIES = sorted({p.rsplit("/", 1)[0] for p in FILES})

CONTACTS: dict[str, tuple[str, str]] = {
    "Alice Martin": ("alice.martin@example.com", "+1-555-0101"),
    "Bob Chen": ("bob.chen@example.com", "+1-555-0102"),
    "Carla Diaz": ("carla.diaz@example.com", "+1-555-0103"),
    "David Okoro": ("david.okoro@example.com", "+1-555-0104"),
    "Emma Novak": ("emma.novak@example.com", "+1-555-0105"),
    "Farid Haddad": ("farid.haddad@example.com", "+1-555-0106"),
    "Grace Kim": ("grace.kim@example.com", "+1-555-0107"),
    "Hugo Lambert": ("hugo.lambert@example.com", "+1-555-0108"),
    "Ines Costa": ("ines.costa@example.com", "+1-555-0109"),
    "Jonas Berg": ("jonas.berg@example.com", "+1-555-0110"),
}

# unit -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    "kilometers": ("length", 1000.0), "meters": ("length", 1.0), "centimeters": ("length", 0.01),
    "miles": ("length", 1609.344), "feet": ("length", 0.3048), "inches": ("length", 0.0254),
    "kilograms": ("mass", 1000.0), "grams": ("mass", 1.0), "pounds": ("mass", 453.59237),
    "ounces": ("mass", 28.349523125),
    "liters": ("volume", 1.0), "milliliters": ("volume", 0.001), "gallons": ("volume", 3.785411784),
}
# currency -> value of one unit in USD (fixed rates, so results are reproducible)
CURRENCIES: dict[str, float] = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "CHF": 1.12, "CAD": 0.74}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
CONDITIONS = ["sunny", "cloudy", "rainy", "windy", "snowy", "foggy"]

# Argument types: what a schema says beyond the Python type (the docstrings give the descriptions)
Date = Annotated[str, Field(json_schema_extra={"format": "date"})]
Time = Annotated[str, Field(pattern="^[0-2][0-9]:[0-5][0-9]$")]
Email = Annotated[str, Field(json_schema_extra={"format": "email"})]
Positive = Annotated[int, Field(ge=1)]
UnitName = Literal[tuple(UNITS)]  # type: ignore[valid-type]
CurrencyCode = Literal[tuple(CURRENCIES)]  # type: ignore[valid-type]
StoreName = Literal[tuple(STORES)]  # type: ignore[valid-type]


class ToolInputError(ValueError):
    """A tool rejected its arguments (the call executes, and its result is this error)."""


def _num(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ToolInputError(f"{name} must be a number, got {value!r}")
    return float(value)


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolInputError(f"{name} must be an integer, got {value!r}")
    return value


def _date(value: Any, name: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError:
        raise ToolInputError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from None


def _city(value: Any) -> str:
    text = str(value).strip()
    for city in CITIES:
        if city.lower() == text.lower():
            return city
    return text.title()


def _round(x: float, nd: int = 2) -> float | int:
    r = round(x, nd)
    return int(r) if float(r).is_integer() else r


# --------------------------------------------------------------------------------------------
# The tools
# --------------------------------------------------------------------------------------------
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
    """Get the current weather in a city.

    Args:
        city: City name, e.g. Paris.
        unit: Temperature unit.
    """
    c = _city(city)
    temp = _h("temp", c) % 30 - 2
    if unit == "fahrenheit":
        temp = round(temp * 9 / 5 + 32)
    elif unit != "celsius":
        raise ToolInputError(f"unknown unit {unit!r}")
    return {"city": c, "temperature": temp, "unit": unit, "condition": CONDITIONS[_h("sky", c) % len(CONDITIONS)]}


def get_forecast(city: str, days: Annotated[int, Field(ge=1, le=7)]) -> dict:
    """Get the daily high temperatures for the next days in a city.

    Args:
        city: City name.
        days: Number of days, 1 to 7.
    """
    c, n = _city(city), _int(days, "days")
    if not 1 <= n <= 7:
        raise ToolInputError("days must be between 1 and 7")
    highs = [_h("high", c, str(i)) % 25 + 2 for i in range(n)]
    return {"city": c, "highs": highs, "warmest_day": highs.index(max(highs)) + 1}


def get_air_quality(city: str) -> dict:
    """Get the air quality index of a city.

    Args:
        city: City name.
    """
    c = _city(city)
    aqi = _h("aqi", c) % 170 + 10
    level = "good" if aqi <= 50 else "moderate" if aqi <= 100 else "unhealthy"
    return {"city": c, "aqi": aqi, "level": level}


def convert_units(value: float, from_unit: UnitName, to_unit: UnitName) -> dict:
    """Convert a length, mass or volume between units.

    Args:
        value: The quantity to convert.
        from_unit: Unit of the value.
        to_unit: Target unit.
    """
    v = _num(value, "value")
    if from_unit not in UNITS or to_unit not in UNITS:
        raise ToolInputError(f"unknown unit in {from_unit!r} -> {to_unit!r}")
    (d1, f1), (d2, f2) = UNITS[from_unit], UNITS[to_unit]
    if d1 != d2:
        raise ToolInputError(f"cannot convert {d1} to {d2}")
    return {"value": _round(v * f1 / f2, 3), "unit": to_unit}


def convert_currency(amount: float, from_currency: CurrencyCode, to_currency: CurrencyCode) -> dict:
    """Convert an amount of money between currencies.

    Args:
        amount: Amount of money.
        from_currency: Currency code of the amount.
        to_currency: Target currency code.
    """
    a = _num(amount, "amount")
    if from_currency not in CURRENCIES or to_currency not in CURRENCIES:
        raise ToolInputError(f"unknown currency in {from_currency!r} -> {to_currency!r}")
    return {"amount": _round(a * CURRENCIES[from_currency] / CURRENCIES[to_currency]), "currency": to_currency}


def add_numbers(numbers: Annotated[list[float], Field(min_length=2)]) -> dict:
    """Add a list of numbers.

    Args:
        numbers: Numbers to add.
    """
    if not isinstance(numbers, list) or not numbers:
        raise ToolInputError("numbers must be a non-empty list")
    return {"result": _round(sum(_num(x, "numbers[]") for x in numbers), 4)}


def multiply(a: float, b: float) -> dict:
    """Multiply two numbers.

    Args:
        a: First factor.
        b: Second factor.
    """
    return {"result": _round(_num(a, "a") * _num(b, "b"), 4)}


def percent_of(percent: float, value: float) -> dict:
    """Compute a percentage of a value.

    Args:
        percent: The percentage, e.g. 15 for 15%.
        value: The base value.
    """
    return {"result": _round(_num(percent, "percent") * _num(value, "value") / 100, 4)}


def add_days(date: Date, days: int) -> dict:
    """Add a number of days to a date.

    Args:
        date: Date as YYYY-MM-DD.
        days: Days to add (may be negative).
    """
    d = _date(date, "date") + _dt.timedelta(days=_int(days, "days"))
    return {"date": d.isoformat()}


def day_of_week(date: Date) -> dict:
    """Get the weekday of a date.

    Args:
        date: Date as YYYY-MM-DD.
    """
    d = _date(date, "date")
    return {"date": d.isoformat(), "weekday": WEEKDAYS[d.weekday()]}


def days_between(start_date: Date, end_date: Date) -> dict:
    """Count the days between two dates.

    Args:
        start_date: Date as YYYY-MM-DD.
        end_date: Date as YYYY-MM-DD.
    """
    return {"days": (_date(end_date, "end_date") - _date(start_date, "start_date")).days}


def create_event(title: str, date: Date, time: Time = "09:00", duration_minutes: Positive = 60) -> dict:
    """Create a calendar event.

    Args:
        title: Event title.
        date: Date as YYYY-MM-DD.
        time: Time as HH:MM (24-hour clock).
        duration_minutes: Length in minutes.
    """
    d, n = _date(date, "date"), _int(duration_minutes, "duration_minutes")
    if not (len(time) == 5 and time[2] == ":" and time[:2].isdigit() and time[3:].isdigit()):
        raise ToolInputError(f"time must be HH:MM, got {time!r}")
    eid = f"evt-{_h('event', title, d.isoformat(), time) % 100000:05d}"
    return {"event_id": eid, "title": title, "date": d.isoformat(), "time": time, "duration_minutes": n}


def get_capital(country: str) -> dict:
    """Get the capital city of a country.

    Args:
        country: Country name.
    """
    for name, city in CAPITALS.items():
        if name.lower() == str(country).strip().lower():
            return {"country": name, "capital": city}
    raise ToolInputError(f"unknown country {country!r}")


def get_distance(origin: str, destination: str, unit: Literal["km", "miles"] = "km") -> dict:
    """Get the straight-line distance between two cities.

    Args:
        origin: Start city.
        destination: End city.
        unit: Distance unit.
    """
    a, b = _city(origin), _city(destination)
    if a not in CITIES or b not in CITIES:
        raise ToolInputError(f"unknown city in {origin!r} -> {destination!r}")
    (_, la1, lo1, _), (_, la2, lo2, _) = CITIES[a], CITIES[b]
    p1, p2, dl = math.radians(la1), math.radians(la2), math.radians(lo2 - lo1)
    km = 6371.0 * math.acos(min(1.0, math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)))
    if unit not in ("km", "miles"):
        raise ToolInputError(f"unknown unit {unit!r}")
    return {"distance": round(km if unit == "km" else km / 1.609344), "unit": unit}


def search_flights(origin: str, destination: str, date: Date, passengers: Positive = 1) -> dict:
    """Search flights between two cities on a date.

    Args:
        origin: Departure city.
        destination: Arrival city.
        date: Date as YYYY-MM-DD.
        passengers: Number of passengers.
    """
    a, b, d, n = _city(origin), _city(destination), _date(date, "date"), _int(passengers, "passengers")
    if n < 1:
        raise ToolInputError("passengers must be at least 1")
    flights = []
    for i in range(2):
        code = f"SC{_h('flight', a, b, str(i)) % 900 + 100}"
        price = (_h("price", a, b, d.isoformat(), str(i)) % 400 + 80) * n
        arrival = d + _dt.timedelta(days=(_h("overnight", a, b, str(i)) % 3 == 0))
        flights.append({"flight": code, "arrival_date": arrival.isoformat(), "price": price})
    flights.sort(key=lambda f: f["price"])
    return {"origin": a, "destination": b, "flights": flights}


def book_hotel(city: str, check_in: Date, nights: Positive, guests: Positive = 1) -> dict:
    """Book a hotel room.

    Args:
        city: City of the hotel.
        check_in: Date as YYYY-MM-DD.
        nights: Number of nights.
        guests: Number of guests.
    """
    c, d, n, g = _city(city), _date(check_in, "check_in"), _int(nights, "nights"), _int(guests, "guests")
    if n < 1 or g < 1:
        raise ToolInputError("nights and guests must be at least 1")
    rate = _h("hotel", c) % 150 + 60
    return {"confirmation": f"H-{_h('booking', c, d.isoformat(), str(n), str(g)) % 100000:05d}", "city": c,
            "check_out": (d + _dt.timedelta(days=n)).isoformat(), "total_price": rate * n * g}


def rent_car(city: str, pickup_date: Date, days: Positive,
             car_class: Literal["economy", "compact", "suv"] = "economy") -> dict:
    """Rent a car.

    Args:
        city: Pick-up city.
        pickup_date: Date as YYYY-MM-DD.
        days: Rental days.
        car_class: Car class.
    """
    c, d, n = _city(city), _date(pickup_date, "pickup_date"), _int(days, "days")
    rates = {"economy": 35, "compact": 45, "suv": 70}
    if car_class not in rates or n < 1:
        raise ToolInputError(f"bad car_class {car_class!r} or days {n}")
    return {"confirmation": f"C-{_h('car', c, d.isoformat(), str(n), car_class) % 100000:05d}",
            "return_date": (d + _dt.timedelta(days=n)).isoformat(), "total_price": rates[car_class] * n}


def _item(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in CATALOGUE:
        raise ToolInputError(f"unknown item {value!r}")
    return text


def get_price(item: str) -> dict:
    """Get the price of a product in USD.

    Args:
        item: Product name.
    """
    it = _item(item)
    return {"item": it, "price": CATALOGUE[it], "currency": "USD"}


def add_to_cart(item: str, quantity: Positive) -> dict:
    """Add a product to the shopping cart.

    Args:
        item: Product name.
        quantity: How many.
    """
    it, q = _item(item), _int(quantity, "quantity")
    if q < 1:
        raise ToolInputError("quantity must be at least 1")
    return {"item": it, "quantity": q, "subtotal": _round(CATALOGUE[it] * q)}


def apply_discount(price: float, percent: float) -> dict:
    """Apply a percentage discount to a price.

    Args:
        price: Original price.
        percent: Discount in percent.
    """
    p, pc = _num(price, "price"), _num(percent, "percent")
    return {"final_price": _round(p * (100 - pc) / 100)}


def check_stock(item: str, store: StoreName = "downtown") -> dict:
    """Check whether a store has a product in stock.

    Args:
        item: Product name.
        store: Store.
    """
    it = _item(item)
    if store not in STORES:
        raise ToolInputError(f"unknown store {store!r}")
    units = _h("stock", it, store) % 12
    return {"item": it, "store": store, "in_stock": units > 0, "units": units}


def _dir(value: Any) -> str:
    return "/" + str(value).strip().strip("/")


def list_files(directory: str) -> dict:
    """List the files in a directory.

    Args:
        directory: Directory path, e.g. /home/docs.
    """
    d = _dir(directory)
    files = sorted(p.rsplit("/", 1)[1] for p in FILES if p.rsplit("/", 1)[0] == d)
    if not files:
        raise ToolInputError(f"no such directory {directory!r}")
    return {"directory": d, "files": files}


def read_file(path: str) -> dict:
    """Read a text file.

    Args:
        path: File path.
    """
    p = _dir(path)
    if p not in FILES:
        raise ToolInputError(f"no such file {path!r}")
    return {"path": p, "content": FILES[p]}


def count_words(path: str) -> dict:
    """Count the words in a file.

    Args:
        path: File path.
    """
    p = _dir(path)
    if p not in FILES:
        raise ToolInputError(f"no such file {path!r}")
    return {"path": p, "words": len(FILES[p].split())}


def search_files(query: str, directory: str = "/home") -> dict:
    """Find files whose text contains a query.

    Args:
        query: Text to look for.
        directory: Directory to search.
    """
    d, q = _dir(directory), str(query).strip().lower()
    hits = sorted(p for p, text in FILES.items() if p.startswith(d + "/") and q in text.lower())
    return {"query": q, "matches": hits}


def get_contact(name: str) -> dict:
    """Look up a contact's email and phone.

    Args:
        name: Full name.
    """
    for person, (email, phone) in CONTACTS.items():
        if person.lower() == str(name).strip().lower():
            return {"name": person, "email": email, "phone": phone}
    raise ToolInputError(f"no contact named {name!r}")


def send_email(to: Email, subject: str, body: str = "") -> dict:
    """Send an email.

    Args:
        to: Recipient email address.
        subject: Subject line.
        body: Message text.
    """
    if "@" not in str(to):
        raise ToolInputError(f"not an email address: {to!r}")
    return {"status": "sent", "message_id": f"msg-{_h('mail', str(to), str(subject)) % 100000:05d}"}


def set_reminder(text: str, date: Date, time: Time) -> dict:
    """Set a reminder.

    Args:
        text: What to remember.
        date: Date as YYYY-MM-DD.
        time: Time as HH:MM (24-hour clock).
    """
    d = _date(date, "date")
    if not (len(time) == 5 and time[2] == ":"):
        raise ToolInputError(f"time must be HH:MM, got {time!r}")
    return {"reminder_id": f"rem-{_h('rem', str(text), d.isoformat(), time) % 100000:05d}", "date": d.isoformat(), "time": time}


# --------------------------------------------------------------------------------------------
# Tools and their schemas
# --------------------------------------------------------------------------------------------
# The key order the task prompts have always shown a schema in; other keys follow in their order.
_KEY_ORDER = ("type", "items", "properties", "required", "description", "enum", "minimum", "maximum", "minItems",
              "format", "pattern")


def _as_shown(schema: Any) -> Any:
    """structcall's schema of a signature as the task prompts show it: without ``default`` (a
    prompt does not show defaults; the ground truth reads them off the signature), keys in
    ``_KEY_ORDER``."""
    if isinstance(schema, list):
        return [_as_shown(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    keys = sorted((k for k in schema if k != "default"),
                  key=lambda k: _KEY_ORDER.index(k) if k in _KEY_ORDER else len(_KEY_ORDER))
    return {k: {name: _as_shown(sub) for name, sub in schema[k].items()} if k == "properties" else _as_shown(schema[k])
            for k in keys}


@dataclass(frozen=True)
class Tool:
    name: str
    domain: str
    description: str
    properties: dict
    required: tuple[str, ...]
    fn: Callable[..., Any]

    @classmethod
    def from_function(cls, fn: Callable[..., Any], domain: str) -> "Tool":
        """The tool of a typed, documented function: structcall derives its schema (name,
        description and parameter descriptions from the docstring, types and bounds from the
        annotations, required = the parameters without a default)."""
        spec = normalize_tools([fn])[0]
        params = _as_shown(spec.parameters)
        return cls(spec.name, domain, spec.description, params["properties"], tuple(params.get("required", ())), fn)

    @property
    def parameters(self) -> dict:
        return {"type": "object", "properties": self.properties, "required": list(self.required)}

    def schema(self) -> dict:
        """The OpenAI Chat Completions tool dict."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}

    def run(self, arguments: dict) -> Any:
        """Execute with keyword arguments; a rejected input becomes ``{"error": message}``."""
        unknown = set(arguments) - set(self.properties)
        if unknown:
            return {"error": f"unknown argument(s) {sorted(unknown)}"}
        missing = [r for r in self.required if r not in arguments]
        if missing:
            return {"error": f"missing argument(s) {missing}"}
        try:
            return self.fn(**arguments)
        except (ToolInputError, TypeError, ValueError, OverflowError) as exc:
            return {"error": str(exc)}


_BY_DOMAIN: dict[str, list[Callable[..., Any]]] = {
    "weather": [get_weather, get_forecast, get_air_quality],
    "units": [convert_units, convert_currency],
    "math": [add_numbers, multiply, percent_of],
    "calendar": [add_days, day_of_week, days_between, create_event],
    "travel": [get_capital, get_distance, search_flights, book_hotel, rent_car],
    "shopping": [get_price, add_to_cart, apply_discount, check_stock],
    "files": [list_files, read_file, count_words, search_files],
    "contacts": [get_contact, send_email, set_reminder],
}
_T = [Tool.from_function(fn, domain) for domain, fns in _BY_DOMAIN.items() for fn in fns]
TOOLS: dict[str, Tool] = {t.name: t for t in _T}
DOMAINS: dict[str, list[str]] = {}
for _t in _T:
    DOMAINS.setdefault(_t.domain, []).append(_t.name)


def execute_call(name: str, arguments: dict) -> Any:
    """Execute one call by tool name; an unknown tool gives ``{"error": ...}``."""
    tool = TOOLS.get(name)
    if tool is None:
        return {"error": f"unknown tool {name!r}"}
    if not isinstance(arguments, dict):
        return {"error": "arguments must be an object"}
    return tool.run(arguments)
