"""The emulator's form decoder under arbitrary input: it answers nested dicts and lists of
strings, or refuses the body as Stripe does (a 400 ``invalid_request_error``); it never crashes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from countertop.emulator.errors import StripeError
from countertop.emulator.forms import decode

SEGMENT = st.one_of(
    st.just(""),
    st.from_regex(r"[0-9]{1,3}", fullmatch=True),
    st.text(min_size=1, max_size=8),
)
KEY = st.builds(
    lambda head, segments: head + "".join(f"[{s}]" for s in segments),
    st.text(min_size=0, max_size=10),
    st.lists(SEGMENT, max_size=6),
)
VALUE = st.one_of(st.text(max_size=20), st.integers().map(str), st.just(""))


def only_strings(node: Any) -> bool:
    if isinstance(node, dict):
        return all(isinstance(k, str) and only_strings(v) for k, v in node.items())
    if isinstance(node, list):
        return all(only_strings(item) for item in node)
    return isinstance(node, str)


def decode_or_refuse(raw: str | bytes) -> dict[str, Any] | None:
    try:
        return decode(raw)
    except StripeError as error:
        assert error.status == 400 and error.error_type == "invalid_request_error"
        return None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(KEY, VALUE), max_size=12))
def test_bracketed_pairs_decode_to_strings_in_dicts_and_lists(pairs: list[tuple[str, str]]) -> None:
    decoded = decode_or_refuse(urlencode(pairs))
    assert decoded is None or only_strings(decoded)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_arbitrary_bytes_and_text_never_crash_the_decoder(raw: bytes | str) -> None:
    decoded = decode_or_refuse(raw)
    assert decoded is None or only_strings(decoded)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=20_000))
def test_any_nesting_depth_is_decoded_or_refused(depth: int) -> None:
    decoded = decode_or_refuse("a" + "[b]" * depth + "=1")
    if decoded is not None:
        node: Any = decoded["a"]
        for _ in range(depth):
            node = node["b"]
        assert node == "1"


def test_a_thousand_levels_of_brackets_are_refused_not_crashed() -> None:
    assert decode_or_refuse("a" + "[b]" * 1000 + "=1") is None


def test_ordinary_nesting_still_decodes() -> None:
    assert decode("process_config[tipping][amount_eligible]=500") == {
        "process_config": {"tipping": {"amount_eligible": "500"}}
    }
