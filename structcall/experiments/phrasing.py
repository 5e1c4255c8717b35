"""Surface forms: request templates per tool, wrappers, and value phrases that need reasoning.

Every template list is split by position: index ``i % 3 == 2`` belongs to the eval split, the
others to every training split (train, teacher, pretrain). So no eval request shares a clause
template or a wrapper with any training request: the splits are disjoint in surface form.

Value phrases (``date_phrase``, ``quantity_phrase`` ...) return ``(text, value, steps)`` where
``steps`` is how many reasoning operations the reader needs (0 = the value is written out).
"""

from __future__ import annotations

import datetime as _dt
import random

from .toolbox import WEEKDAYS

__all__ = ["pick", "CLAUSES", "PV_CLAUSES", "WRAPPERS", "PARALLEL", "PLANS", "ANSWERS", "ANSWER_FACTS",
           "REFUSALS", "OUT_OF_SCOPE", "NESTED", "CHAINS",
           "date_phrase", "time_phrase", "quantity_phrase", "days_phrase", "minutes_phrase",
           "passengers_phrase", "wrap", "capitalize"]


def pick(rng: random.Random, templates: list[str], split: str, key: str) -> tuple[str, str]:
    """Choose a template of ``split``'s share; returns (template, template id)."""
    idx = [i for i in range(len(templates)) if (i % 3 == 2) == (split == "eval")]
    if not idx:
        raise ValueError(f"template list {key!r} has no template for split {split!r}")
    i = rng.choice(idx)
    return templates[i], f"{key}#{i}"


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


# Request wrappers around an imperative clause {c} ({C}: capitalised).
WRAPPERS = [
    "Please {c}.", "Can you {c}?", "Could you {c}, please?", "I need you to {c}.", "{C}.", "Hey, {c}.",
    "Would you {c}?", "Quick favor: {c}.", "I'd like you to {c}.", "{C}, thanks.", "Help me out and {c}.",
    "Go ahead and {c}.", "Kindly {c}.", "When you get a chance, {c}.", "Right now I need you to {c}.",
]


def wrap(rng: random.Random, clause: str, split: str) -> tuple[str, str]:
    t, tid = pick(rng, WRAPPERS, split, "wrap")
    return t.format(c=clause, C=capitalize(clause)), tid


PARALLEL = {
    2: ["Please {c1} and {c2}.", "{C1}, and also {c2}.", "Can you {c1}? Also {c2}.",
        "I need two things: {c1}, and {c2}.", "{C1}. At the same time, {c2}.",
        "Could you {c1} as well as {c2}?", "Do both of these: {c1}; {c2}.", "{C1} and {c2}, please.",
        "Two requests: {c1}, plus {c2}."],
    3: ["Please {c1}, {c2}, and {c3}.", "{C1}; {c2}; and {c3}.", "Can you {c1}, {c2} and also {c3}?",
        "Three things: {c1}, {c2}, and {c3}.", "I need you to {c1}, {c2}, plus {c3}.",
        "Could you {c1}, {c2} as well as {c3}?"],
}

PLANS = {
    2: ["First {c1}, then {c2}.", "{C1}. After that, {c2}.", "I want you to {c1} and then {c2}.",
        "Step one: {c1}. Step two: {c2}.", "Start by asking the tools to {c1}; once done, {c2}.",
        "Begin with this: {c1}. Next, {c2}."],
    3: ["First {c1}, then {c2}, and finally {c3}.", "{C1}. After that, {c2}. Last, {c3}.",
        "I want you to {c1}, then {c2}, then {c3}.", "Step one: {c1}. Step two: {c2}. Step three: {c3}.",
        "In this order: {c1}; {c2}; {c3}.", "Begin by asking the tools to {c1}, continue to {c2}, and end by asking them to {c3}."],
}

# Imperative clauses per tool; slots are filled by tasks.py.
CLAUSES: dict[str, list[str]] = {
    "get_weather": ["check the weather in {city}", "get the current weather for {city}",
                    "look up today's weather in {city}", "find out what the weather is like in {city}",
                    "tell me how the weather is in {city}", "fetch the weather report for {city}"],
    "get_weather+unit": ["check the weather in {city} in {unit}", "get the temperature in {city} in {unit}",
                         "report the weather for {city} using {unit}", "tell me the weather in {city}, in {unit}",
                         "look up the weather in {city} with the temperature in {unit}",
                         "give me the {city} weather in {unit}"],
    "get_forecast": ["get the {days}-day forecast for {city}", "show me the forecast for {city} for the next {days} days",
                     "fetch the daily highs in {city} for {days} days", "look up {days} days of forecast for {city}",
                     "pull the next {days} days of weather for {city}", "forecast the coming {days} days in {city}"],
    "get_air_quality": ["check the air quality in {city}", "get the air quality index for {city}",
                        "find out how clean the air is in {city}", "look up the pollution level in {city}",
                        "tell me the air quality of {city}", "measure the air quality index in {city}"],
    "convert_units": ["convert {value} {from_unit} to {to_unit}", "tell me how many {to_unit} are in {value} {from_unit}",
                      "express {value} {from_unit} in {to_unit}", "turn {value} {from_unit} into {to_unit}",
                      "change {value} {from_unit} into {to_unit}", "work out {value} {from_unit} in {to_unit}"],
    "convert_currency": ["convert {amount} {from_currency} to {to_currency}", "tell me what {amount} {from_currency} is in {to_currency}",
                         "exchange {amount} {from_currency} into {to_currency}", "change {amount} {from_currency} to {to_currency}",
                         "find the {to_currency} value of {amount} {from_currency}", "turn {amount} {from_currency} into {to_currency}"],
    "add_numbers": ["add up {numbers}", "sum {numbers}", "compute the total of {numbers}",
                    "find the sum of {numbers}", "total these numbers: {numbers}", "add together {numbers}"],
    "multiply": ["multiply {a} by {b}", "compute {a} times {b}", "find the product of {a} and {b}",
                 "work out {a} multiplied by {b}", "calculate {a} x {b}", "give me {a} times {b}"],
    "percent_of": ["compute {percent} percent of {value}", "find {percent}% of {value}", "take {percent} percent of {value}",
                   "calculate {percent}% of {value}", "work out what {percent} percent of {value} is", "get {percent}% of {value}"],
    "add_days": ["add {days} days to {date}", "find the date {days} days after {date}", "move {date} forward by {days} days",
                 "compute the date that is {days} days past {date}", "shift {date} by {days} days", "count {days} days on from {date}"],
    "day_of_week": ["tell me which weekday {date} is", "find the day of the week for {date}", "check what weekday {date} falls on",
                    "look up the weekday of {date}", "say which day of the week {date} is", "get the weekday for {date}"],
    "days_between": ["count the days between {start_date} and {end_date}", "find how many days lie between {start_date} and {end_date}",
                     "compute the number of days from {start_date} to {end_date}", "work out the days from {start_date} until {end_date}",
                     "tell me how many days separate {start_date} and {end_date}", "measure the gap in days between {start_date} and {end_date}"],
    "create_event": ["schedule '{title}' on {date}", "create a calendar event called '{title}' on {date}",
                     "put '{title}' in my calendar for {date}", "add an event named '{title}' on {date}",
                     "book '{title}' into my calendar on {date}", "make a calendar entry '{title}' for {date}"],
    "get_capital": ["find the capital of {country}", "tell me the capital city of {country}", "look up the capital of {country}",
                    "get the name of {country}'s capital", "say what the capital of {country} is", "check which city is the capital of {country}"],
    "get_distance": ["get the distance between {origin} and {destination}", "tell me how far {origin} is from {destination}",
                     "measure the distance from {origin} to {destination}", "find out how far it is from {origin} to {destination}",
                     "compute the distance between {origin} and {destination}", "check the distance from {origin} to {destination}"],
    "search_flights": ["find flights from {origin} to {destination} on {date}", "search for flights from {origin} to {destination} departing {date}",
                       "look for a flight from {origin} to {destination} on {date}", "check flights {origin} to {destination} for {date}",
                       "show me flights leaving {origin} for {destination} on {date}", "get me flight options from {origin} to {destination} on {date}"],
    "book_hotel": ["book a hotel in {city} from {check_in} for {nights} nights", "reserve a room in {city} checking in {check_in} for {nights} nights",
                   "get me a hotel in {city} for {nights} nights starting {check_in}", "book {nights} nights in a {city} hotel from {check_in}",
                   "find and book a hotel in {city}, check-in {check_in}, {nights} nights", "reserve a hotel room in {city} on {check_in} for {nights} nights"],
    "rent_car": ["rent a car in {city} on {pickup_date} for {days} days", "book a rental car in {city} from {pickup_date} for {days} days",
                 "get me a car in {city} starting {pickup_date} for {days} days", "reserve a car in {city} for {days} days from {pickup_date}",
                 "hire a car in {city} on {pickup_date} for {days} days", "arrange a car rental in {city}, {days} days from {pickup_date}"],
    "get_price": ["check the price of a {item}", "tell me how much a {item} costs", "look up the price for a {item}",
                  "find the cost of a {item}", "get the current price of a {item}", "say what a {item} sells for"],
    "add_to_cart": ["add {quantity} {item} to my cart", "put {quantity} {item} in the cart", "place {quantity} {item} in my basket",
                    "add {quantity} units of {item} to the cart", "put {quantity} of the {item} in my shopping cart", "load {quantity} {item} into my cart"],
    "apply_discount": ["apply a {percent}% discount to {price}", "take {percent} percent off {price}", "compute {price} after a {percent}% discount",
                       "reduce {price} by {percent} percent", "work out the price of {price} with {percent}% off", "discount {price} by {percent}%"],
    "check_stock": ["check if the {item} is in stock", "see whether the {item} is available", "look up the stock of {item}",
                    "find out if {item} is in stock", "tell me if you have the {item} in stock", "check availability of the {item}"],
    "list_files": ["list the files in {directory}", "show me what is in {directory}", "list everything in the {directory} folder",
                   "get the contents of the directory {directory}", "show the files under {directory}", "tell me which files are in {directory}"],
    "read_file": ["open {path}", "read the file {path}", "show me the contents of {path}",
                  "print the file {path}", "display what {path} says", "load and show {path}"],
    "count_words": ["count the words in {path}", "tell me how many words {path} has", "get the word count of {path}",
                    "find the number of words in {path}", "compute the word count for {path}", "check how long {path} is in words"],
    "search_files": ["search my files for '{query}'", "find files that mention '{query}'", "look for '{query}' in my files",
                     "find every file containing '{query}'", "search the documents for the text '{query}'", "locate files with '{query}' in them"],
    "get_contact": ["look up {name}'s email address", "find the contact details of {name}", "get {name}'s contact info",
                    "pull up the contact for {name}", "find {name} in my contacts", "show me how to reach {name}"],
    "send_email": ["send an email to {to} with the subject '{subject}'", "email {to} with subject '{subject}'",
                   "write an email to {to} titled '{subject}'", "send {to} a message with the subject '{subject}'",
                   "mail {to} using the subject line '{subject}'", "drop an email to {to} about '{subject}'"],
    "set_reminder": ["remind me to {text} on {date} at {time}", "set a reminder to {text} for {date} at {time}",
                     "create a reminder on {date} at {time} to {text}", "make a reminder for {date} at {time}: {text}",
                     "add a reminder to {text}, {date} at {time}", "set up a reminder at {time} on {date} to {text}"],
}

# Final answers from tool results; {fields} come from the result dict (facts listed by tasks.py).
ANSWERS: dict[str, list[str]] = {
    "get_weather": ["It is {temperature} degrees {unit} and {condition} in {city}.",
                    "The weather in {city} is {condition} with {temperature} degrees {unit}.",
                    "{city}: {condition}, {temperature} degrees {unit}."],
    "get_forecast": ["The warmest of the next days in {city} is day {warmest_day}.",
                     "In {city}, day {warmest_day} will be the warmest."],
    "get_air_quality": ["The air quality index in {city} is {aqi}, which is {level}.",
                        "{city} has an air quality index of {aqi} ({level})."],
    "convert_units": ["That is {value} {unit}.", "The result is {value} {unit}."],
    "convert_currency": ["That comes to {amount} {currency}.", "It is {amount} {currency}."],
    "add_numbers": ["The total is {result}.", "They add up to {result}."],
    "multiply": ["The product is {result}.", "The answer is {result}."],
    "percent_of": ["That is {result}.", "The result is {result}."],
    "add_days": ["The date is {date}.", "That is {date}."],
    "day_of_week": ["{date} is a {weekday}.", "It falls on a {weekday}."],
    "days_between": ["There are {days} days between them.", "The gap is {days} days."],
    "get_capital": ["The capital of {country} is {capital}.", "{capital} is the capital of {country}."],
    "get_distance": ["The distance is {distance} {unit}.", "They are {distance} {unit} apart."],
    "get_price": ["A {item} costs {price} {currency}.", "The {item} is priced at {price} {currency}."],
    "add_to_cart": ["Added {quantity} {item} to your cart; the subtotal is {subtotal}.",
                    "Your cart now has {quantity} {item}, subtotal {subtotal}."],
    "check_stock": ["The {store} store has {units} units of {item}.", "There are {units} {item} in stock at {store}."],
    "count_words": ["{path} has {words} words.", "The file contains {words} words."],
    "get_contact": ["{name}'s email is {email}.", "You can reach {name} at {email}."],
    "book_hotel": ["Your hotel in {city} is booked, confirmation {confirmation}.",
                   "Booked: confirmation {confirmation}, total {total_price}."],
    "apply_discount": ["The discounted price is {final_price}.", "After the discount it costs {final_price}."],
}
# result fields an answer must mention to count as correct
ANSWER_FACTS: dict[str, list[str]] = {
    "get_weather": ["temperature", "condition"], "get_forecast": ["warmest_day"], "get_air_quality": ["aqi"],
    "convert_units": ["value"], "convert_currency": ["amount"], "add_numbers": ["result"], "multiply": ["result"],
    "percent_of": ["result"], "add_days": ["date"], "day_of_week": ["weekday"], "days_between": ["days"],
    "get_capital": ["capital"], "get_distance": ["distance"], "get_price": ["price"], "add_to_cart": ["subtotal"],
    "check_stock": ["units"], "count_words": ["words"], "get_contact": ["email"], "book_hotel": ["confirmation"],
    "apply_discount": ["final_price"],
}

REFUSALS = [
    "Sorry, none of the available tools can help with that.", "I can't do that with the tools I have.",
    "None of my tools can handle this request.", "I'm unable to help with that: no available tool fits.",
    "That request is outside what my tools can do.", "I don't have a tool for that, sorry.",
]

OUT_OF_SCOPE = [
    "tell me a joke about penguins", "translate 'good night' into Italian", "write a short poem about the sea",
    "play some relaxing jazz", "order a large pepperoni pizza", "turn off the lights in the kitchen",
    "tell me the stock price of Acme Corp", "recommend a good science fiction novel", "set the thermostat to 21 degrees",
    "call a taxi to the station", "summarize today's news", "tell me who painted the Mona Lisa",
    "explain the meaning of life", "book a table for two at an Italian restaurant", "play the latest episode of my podcast",
    "explain how to bake sourdough bread", "suggest a name for my new puppy", "explain how photosynthesis works",
    "water the plants in the garden", "find me a plumber nearby", "tell me last night's football score",
    "draw a picture of a cat", "lock the front door", "sing me a lullaby",
]


# --------------------------------------------------------------------------------------------
# Value phrases with reasoning steps
# --------------------------------------------------------------------------------------------
_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "eleven", "twelve"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]


def _long_date(d: _dt.date) -> str:
    return f"{_MONTHS[d.month - 1]} {d.day}, {d.year}"


def date_phrase(rng: random.Random, today: _dt.date, max_steps: int) -> tuple[str, str, int]:
    """A date relative to ``today`` or written out; value is ISO ``YYYY-MM-DD``."""
    opts: list[tuple[str, _dt.date, int]] = []
    d = today + _dt.timedelta(days=rng.randint(1, 60))
    opts.append((d.isoformat(), d, 0))
    if max_steps >= 1:
        n = rng.randint(2, 9)
        opts += [("tomorrow", today + _dt.timedelta(days=1), 1), (_long_date(d), d, 1),
                 (f"{_NUMBER_WORDS[n]} days from today", today + _dt.timedelta(days=n), 1),
                 ("the day after tomorrow", today + _dt.timedelta(days=2), 1)]
    if max_steps >= 2:
        wd = rng.randrange(7)
        ahead = (wd - today.weekday() - 1) % 7 + 1
        opts += [("a week from tomorrow", today + _dt.timedelta(days=8), 2),
                 ("in two weeks", today + _dt.timedelta(days=14), 2),
                 (f"next {WEEKDAYS[wd]}", today + _dt.timedelta(days=ahead), 2)]
    text, value, steps = rng.choice(opts)
    return text, value.isoformat(), steps


def time_phrase(rng: random.Random, max_steps: int) -> tuple[str, str, int]:
    h, m = rng.randint(8, 19), rng.choice([0, 15, 30, 45])
    hh = f"{h:02d}:{m:02d}"
    opts = [(hh, hh, 0)]
    h12 = h - 12 if h > 12 else h
    ampm = "pm" if h >= 12 else "am"
    if max_steps >= 1:
        opts.append((f"{h12}:{m:02d} {ampm}" if m else f"{h12} {ampm}", hh, 1))
        opts.append(("noon", "12:00", 1))
    if max_steps >= 2 and m in (15, 30):
        part = "in the morning" if h < 12 else "in the afternoon" if h < 18 else "in the evening"
        opts.append((f"{'quarter' if m == 15 else 'half'} past {_NUMBER_WORDS[h12] if h12 <= 12 else h12} {part}", hh, 2))
    return rng.choice(opts)


def quantity_phrase(rng: random.Random, max_steps: int) -> tuple[str, int, int]:
    n = rng.randint(2, 9)
    opts: list[tuple[str, int, int]] = [(str(n), n, 0)]
    if max_steps >= 1:
        opts += [("a dozen", 12, 1), ("half a dozen", 6, 1), ("a pair of", 2, 1), (_NUMBER_WORDS[n], n, 1)]
    if max_steps >= 2:
        k = rng.randint(2, 4)
        opts += [(f"{_NUMBER_WORDS[k]} dozen", 12 * k, 2), ("a dozen and a half", 18, 2),
                 (f"{k} packs of {n}", k * n, 2)]
    return rng.choice(opts)


def days_phrase(rng: random.Random, max_steps: int, *, noun: str = "days") -> tuple[str, int, int]:
    n = rng.randint(2, 6)
    opts: list[tuple[str, int, int]] = [(f"{n} {noun}", n, 0)]
    if max_steps >= 1:
        opts += [("a week", 7, 1), ("a fortnight", 14, 1), (f"{_NUMBER_WORDS[n]} {noun}", n, 1)]
    if max_steps >= 2:
        k = rng.randint(1, 3)
        opts += [(f"a week and {_NUMBER_WORDS[k]} {noun}", 7 + k, 2), ("two weeks", 14, 2)]
    return rng.choice(opts)


def minutes_phrase(rng: random.Random, max_steps: int) -> tuple[str, int, int]:
    n = rng.choice([20, 30, 45, 50, 75, 90])
    opts: list[tuple[str, int, int]] = [(f"{n} minutes", n, 0)]
    if max_steps >= 1:
        opts += [("an hour", 60, 1), ("half an hour", 30, 1), ("two hours", 120, 1)]
    if max_steps >= 2:
        opts += [("an hour and a half", 90, 2), ("two and a half hours", 150, 2), ("a quarter of an hour", 15, 2)]
    return rng.choice(opts)


def passengers_phrase(rng: random.Random, max_steps: int) -> tuple[str, int, int]:
    n = rng.randint(2, 5)
    opts: list[tuple[str, int, int]] = [(f"{n} passengers", n, 0)]
    if max_steps >= 1:
        opts += [("a couple", 2, 1), (f"{_NUMBER_WORDS[n]} adults", n, 1)]
    if max_steps >= 2:
        k = rng.randint(2, 3)
        opts += [(f"me and my {_NUMBER_WORDS[k]} kids", k + 1, 2), (f"a family of {_NUMBER_WORDS[k + 2]}", k + 2, 2)]
    return rng.choice(opts)


# Slot-filling clauses whose slots take whole value phrases ("for a week", "next Monday").
PV_CLAUSES: dict[str, list[str]] = {
    "book_hotel": ["book a hotel in {city} from {check_in} for {nights}",
                   "reserve a room in {city} checking in {check_in}, staying {nights}",
                   "get me a hotel in {city} for {nights} starting {check_in}",
                   "book a {city} hotel for {nights} from {check_in}",
                   "find me a room in {city} for {nights}, arriving {check_in}",
                   "reserve a hotel in {city}: check-in {check_in}, {nights}"],
    "create_event": ["schedule '{title}' on {date} at {time} for {duration}",
                     "create an event '{title}' for {date} at {time} lasting {duration}",
                     "put '{title}' in my calendar for {date} at {time}, {duration} long",
                     "add '{title}' on {date} at {time} for {duration}",
                     "block {duration} for '{title}' on {date} at {time}",
                     "make a calendar entry '{title}' for {date} at {time}, duration {duration}"],
    "search_flights": ["find flights from {origin} to {destination} for {date} for {passengers}",
                       "search for a flight from {origin} to {destination} on {date} for {passengers}",
                       "look for seats from {origin} to {destination}, date {date}, for {passengers}",
                       "check flights {origin} to {destination} for {date}, {passengers}",
                       "get me flight options from {origin} to {destination} for {passengers} on {date}",
                       "search flights for {passengers} from {origin} to {destination}, leaving {date}"],
    "rent_car": ["rent a car in {city} from {pickup_date} for {days}", "book a rental car in {city} for {days} from {pickup_date}",
                 "get me a car in {city} starting {pickup_date}, keeping it {days}",
                 "reserve a car in {city} for {days}, pick-up {pickup_date}",
                 "hire a car in {city} on {pickup_date} for {days}", "arrange a car rental in {city} for {days}, from {pickup_date}"],
    "set_reminder": ["remind me to {text} on {date} at {time}", "set a reminder to {text} for {date} at {time}",
                     "create a reminder for {date} at {time} to {text}", "make a reminder, {date} at {time}: {text}",
                     "add a reminder to {text}, {date}, {time}", "set up a reminder at {time} on {date} to {text}"],
    "add_to_cart": ["add {quantity} {item} to my cart", "put {quantity} {item} in the cart", "place {quantity} {item} in my basket",
                    "order {quantity} {item} into my cart", "put {quantity} of the {item} in my shopping cart",
                    "load {quantity} {item} into my cart"],
    "add_days": ["find the date {days} after {date}", "add {days} to {date}", "move {date} forward by {days}",
                 "compute the date {days} past {date}", "shift {date} by {days}", "count {days} on from {date}"],
    "convert_currency": ["convert {amount} {from_currency} to {to_currency}", "tell me what {amount} {from_currency} is in {to_currency}",
                         "exchange {amount} {from_currency} into {to_currency}", "change {amount} {from_currency} to {to_currency}",
                         "find the {to_currency} value of {amount} {from_currency}", "turn {amount} {from_currency} into {to_currency}"],
}

# Nested calls: one request, the inner call's output is an argument of the outer call.
NESTED: dict[str, list[str]] = {
    "weather_in_capital": ["check the weather in the capital of {country}", "tell me the weather in {country}'s capital",
                           "get the current weather for the capital city of {country}",
                           "find out how the weather is in the capital of {country}",
                           "look up the weather in whatever city is the capital of {country}",
                           "report the weather in the capital of {country}"],
    "email_contact": ["email {name} with the subject '{subject}'", "send {name} an email titled '{subject}'",
                      "write to {name} with the subject line '{subject}'", "drop {name} an email about '{subject}'",
                      "mail {name}, subject '{subject}'", "send an email to {name} about '{subject}'"],
    "price_in_currency": ["tell me what a {item} costs in {currency}", "find the price of a {item} in {currency}",
                          "get the cost of a {item} converted to {currency}", "work out a {item}'s price in {currency}",
                          "look up how much a {item} is in {currency}", "give me the {currency} price of a {item}"],
    "weekday_after": ["tell me the weekday {days} days after {date}", "find which day of the week it is {days} days after {date}",
                      "work out the weekday that falls {days} days past {date}", "check what weekday comes {days} days after {date}",
                      "say which weekday is {days} days on from {date}", "get the day of the week {days} days after {date}"],
    "capital_distance": ["tell me how far apart the capitals of {a} and {b} are", "get the distance between the capitals of {a} and {b}",
                         "measure the distance from the capital of {a} to the capital of {b}",
                         "find out how far the capital of {a} is from the capital of {b}",
                         "compute the distance between {a}'s capital and {b}'s capital",
                         "check the distance from {a}'s capital city to {b}'s"],
    "discounted_price": ["tell me what a {item} costs with {percent}% off", "find the price of a {item} after a {percent}% discount",
                         "work out a {item}'s price minus {percent} percent", "get the {percent}%-off price of a {item}",
                         "compute the discounted price of a {item} at {percent}% off", "apply {percent}% off to the price of a {item}"],
}

# Chaining: a follow-up turn that needs a value from an earlier tool result.
CHAINS: dict[str, list[str]] = {
    "flight_then_hotel": ["Great. Book me a hotel there for {nights} nights, checking in the day the cheapest flight lands.",
                          "Now reserve a hotel at the destination from the arrival date of the cheapest flight, {nights} nights.",
                          "Thanks. Get a hotel in that city for {nights} nights starting when the cheapest flight arrives.",
                          "OK, book {nights} nights at a hotel there, check-in on the cheapest flight's arrival date.",
                          "Then I need a hotel there for {nights} nights from the day the cheapest option lands.",
                          "Perfect, a hotel at the destination please, {nights} nights, from the cheapest flight's arrival day."],
    "price_then_convert": ["Convert that price to {currency}.", "What is that in {currency}?", "Now change that amount into {currency}.",
                           "How much would that be in {currency}?", "Please express that price in {currency}.", "And in {currency}?"],
    "contact_then_email": ["Send them an email with the subject '{subject}'.", "Email that address with subject '{subject}'.",
                           "Now write to them, subject '{subject}'.", "Great, mail them about '{subject}'.",
                           "Use that address to send an email titled '{subject}'.", "Please email them: subject '{subject}'."],
    "date_then_weekday": ["Which weekday is that?", "What day of the week does that fall on?", "And what weekday is that date?",
                          "Tell me the weekday of that date.", "Which day of the week would that be?", "Is that a weekday? Which one?"],
    "capital_then_weather": ["How's the weather there?", "What is the weather like in that city?", "Check the weather there, please.",
                             "And the current weather in that city?", "Now get me the weather there.", "How is it outside there right now?"],
    "list_then_count": ["How many words are in the first file?", "Count the words in the first file of that list.",
                        "Get the word count of the first one.", "How long is the first file, in words?",
                        "Tell me the word count of the first listed file.", "Count words in the first of those files."],
    "distance_then_miles": ["Convert that to miles.", "What is that distance in miles?", "Now express it in miles, please.",
                            "How many miles is that?", "Give me that in miles.", "And in miles?"],
    "days_then_add": ["Add that many days to {date}.", "Now move {date} forward by that many days.",
                      "What date is that many days after {date}?", "Shift {date} by that number of days.",
                      "Count that many days on from {date}.", "Apply the same number of days to {date}."],
}
