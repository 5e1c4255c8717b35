"""JSON pointers: escaping round-trips for any key, resolution, and errors that name the pointer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from structcall.pointer import PointerError, escape, join, resolve, resolve_ref, split, unescape

# keys rich in the two characters the escaping is about
KEYS = st.text(alphabet=st.sampled_from("~/01a ~1~0/é\"\\"), max_size=12) | st.text(max_size=12)


@given(KEYS)
@settings(max_examples=300, deadline=None)
def test_escape_round_trips(key):
    token = escape(key)
    assert "/" not in token
    assert unescape(token) == key


@given(st.lists(KEYS, max_size=5))
@settings(max_examples=300, deadline=None)
def test_join_split_and_resolve_round_trip(keys):
    pointer = join("", *keys)
    assert split(pointer) == keys
    doc = leaf = {"leaf": True}
    for k in reversed(keys):
        doc = {k: doc}
    assert resolve(doc, pointer) is leaf
    assert resolve_ref(doc, "#" + pointer) is leaf


def test_known_escapes():
    assert escape("a/b~c") == "a~1b~0c"
    assert unescape("~01") == "~1"  # ~0 is read after ~1: "~01" is "~" then "1"
    assert join("/properties", "a/b", 0) == "/properties/a~1b/0"
    assert split("") == []
    assert split("/") == [""]


def test_resolve_arrays_and_rfc_examples():
    doc = {"foo": ["bar", "baz"], "": 0, "a/b": 1, "m~n": 8, " ": 7}
    assert resolve(doc, "") is doc
    assert resolve(doc, "/foo/1") == "baz"
    assert resolve(doc, "/") == 0
    assert resolve(doc, "/a~1b") == 1
    assert resolve(doc, "/m~0n") == 8
    assert resolve(doc, "/ ") == 7


@pytest.mark.parametrize(("pointer", "reason"), [
    ("/foo/2", "no '2' in the array at /foo"),
    ("/foo/-1", "no '-1' in the array at /foo"),
    ("/foo/١", "no '١' in the array at /foo"),  # a non-ASCII digit is not an index
    ("/nope", "no 'nope' in the object at the document root"),
    ("/foo/0/x", "no 'x' in the str at /foo/0"),
    ("/a~1b/c", "no 'c' in the int at /a~1b"),
    ("foo", "starts with '/'"),
])
def test_resolve_errors_name_the_pointer_and_the_missing_key(pointer, reason):
    doc = {"foo": ["bar", "baz"], "a/b": 1}
    with pytest.raises(PointerError, match="JSON pointer") as e:
        resolve(doc, pointer)
    assert e.value.pointer == pointer
    assert reason in str(e.value)
    assert repr(pointer) in str(e.value)


def test_resolve_ref_only_local():
    with pytest.raises(PointerError, match="only local references") as e:
        resolve_ref({}, "https://example.com/s.json#/a")
    assert e.value.pointer == "https://example.com/s.json#/a"
    with pytest.raises(PointerError, match=r"'#/\$defs/x'.*no 'x' in the object at /\$defs"):
        resolve_ref({"$defs": {}}, "#/$defs/x")
