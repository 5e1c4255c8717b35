"""Docstrings in the three styles ``structcall.tools.parse_docstring`` reads (Google, NumPy, Sphinx),
with the description and per-parameter descriptions each must give. Also the table the parser
was measured on against the ``docstring_parser`` library (see docs/design.md)."""

from __future__ import annotations

#: (id, docstring, description, {parameter: description})
CASES: list[tuple[str, str, str, dict[str, str]]] = []


def case(name: str, doc: str, desc: str, params: dict[str, str]) -> None:
    CASES.append((name, doc, desc, params))


case("google_basic", """Get the current weather.

    Args:
        city: The city, e.g. Paris.
        unit: Temperature unit.
        days (int): Forecast days, if any.
    """, "Get the current weather.", {"city": "The city, e.g. Paris.", "unit": "Temperature unit.", "days": "Forecast days, if any."})
case("google_multiline", """Send an email.

    Args:
        to: Recipient address,
            one only.
        body (str, optional): The text. Defaults to "".

    Returns:
        The message id.
    """, "Send an email.", {"to": "Recipient address, one only.", "body": 'The text. Defaults to "".'})
case("google_nested_type", """Merge two maps.

    Args:
        a (dict[str, list[int]]): First map.
        b (Mapping[str, int] | None): Second map.
    """, "Merge two maps.", {"a": "First map.", "b": "Second map."})
case("google_raises_first", """Divide.

    Raises:
        ZeroDivisionError: when b is 0.

    Args:
        a: Numerator.
        b: Denominator.
    """, "Divide.", {"a": "Numerator.", "b": "Denominator."})
case("google_long_desc", """Book a flight.

    Finds the cheapest fare and books it. Use ISO dates.

    Args:
        origin: IATA code: e.g. OSL.
        date: Departure date (YYYY-MM-DD).
    """, "Book a flight.\n\nFinds the cheapest fare and books it. Use ISO dates.", {"origin": "IATA code: e.g. OSL.", "date": "Departure date (YYYY-MM-DD)."})
case("google_example_section", """Add numbers.

    Args:
        a: first.
        b: second.

    Example:
        >>> add(a=1, b=2)
        3
    """, "Add numbers.", {"a": "first.", "b": "second."})
case("google_keyword_args", """Search.

    Args:
        query: What to look for.

    Keyword Args:
        limit: Most results.
    """, "Search.", {"query": "What to look for.", "limit": "Most results."})
case("google_parameters_header", """Resize an image.

    Parameters:
        width: New width in pixels.
        height: New height in pixels.
    """, "Resize an image.", {"width": "New width in pixels.", "height": "New height in pixels."})
case("numpy_basic", """Average a series.

    Parameters
    ----------
    values : list of float
        The samples.
    weights : list of float
        One weight per sample.

    Returns
    -------
    float
    """, "Average a series.", {"values": "The samples.", "weights": "One weight per sample."})
case("numpy_multiline_and_optional", """Fit a line.

    Parameters
    ----------
    xs : list of float
        Sample points,
        sorted.
    degree : int, optional
        Polynomial degree (default 1).
    """, "Fit a line.", {"xs": "Sample points, sorted.", "degree": "Polynomial degree (default 1)."})
case("numpy_no_type", """Greet.

    Parameters
    ----------
    name
        Who to greet.
    """, "Greet.", {"name": "Who to greet."})
case("numpy_long_desc_notes", """Convert units.

    Works for length and mass.

    Parameters
    ----------
    value : float
        Amount.
    unit : {'m', 'kg'}
        Source unit.

    Notes
    -----
    Uses SI factors.
    """, "Convert units.\n\nWorks for length and mass.", {"value": "Amount.", "unit": "Source unit."})
case("numpy_other_parameters", """Plot.

    Parameters
    ----------
    data : array
        Values.

    Other Parameters
    ----------------
    color : str
        Line colour.
    """, "Plot.", {"data": "Values.", "color": "Line colour."})
case("sphinx_basic", """Copy a folder.

    :param source: Folder to copy.
    :param bool overwrite: Replace what is there.
    :returns: the new path
    """, "Copy a folder.", {"source": "Folder to copy.", "overwrite": "Replace what is there."})
case("sphinx_types_separate", """Rename a file.

    :param src: Old path.
    :type src: str
    :param dst: New path,
        must not exist.
    :type dst: str
    :raises FileExistsError: if dst exists.
    """, "Rename a file.", {"src": "Old path.", "dst": "New path, must not exist."})
case("sphinx_long_desc", """Fetch a URL.

    Follows redirects.

    :param url: The address.
    :param timeout: Seconds to wait.
    :rtype: bytes
    """, "Fetch a URL.\n\nFollows redirects.", {"url": "The address.", "timeout": "Seconds to wait."})
case("sphinx_arg_keyword", """Open.

    :arg path: File path.
    :keyword mode: Open mode.
    """, "Open.", {"path": "File path.", "mode": "Open mode."})
case("plain_one_line", "Just text.", "Just text.", {})
case("plain_paragraphs", "Just text.\n\nMore.", "Just text.\n\nMore.", {})
case("empty", "", "", {})
case("google_args_colon_in_desc", """Set an alarm.

    Args:
        time: When, as HH:MM.
        label: Shown text; may contain: colons.
    """, "Set an alarm.", {"time": "When, as HH:MM.", "label": "Shown text; may contain: colons."})
case("google_no_summary_blank", """Args:
        x: The x.
    """, "", {"x": "The x."})
case("google_star_args_documented", """Log.

    Args:
        msg: Message.
        **extra: Extra fields.
    """, "Log.", {"msg": "Message.", "extra": "Extra fields."})
case("google_returns_with_colon", """Look up a user.

    Args:
        uid: The id.

    Returns:
        dict: name and email.
    """, "Look up a user.", {"uid": "The id."})
