"""The form decoder: both array spellings, nesting, blanks."""

from __future__ import annotations

from countertop.emulator.forms import decode


def test_flat_pairs_stay_strings() -> None:
    assert decode("amount=1000&currency=usd") == {"amount": "1000", "currency": "usd"}


def test_nested_hashes() -> None:
    assert decode("process_config[tipping][amount_eligible]=500&metadata[order]=42") == {
        "process_config": {"tipping": {"amount_eligible": "500"}},
        "metadata": {"order": "42"},
    }


def test_indexed_arrays_as_the_stripe_library_sends_them() -> None:
    body = (
        "expand[0]=latest_charge&expand[1]=payment_method"
        "&cart[line_items][0][amount]=500&cart[line_items][0][quantity]=1"
        "&cart[line_items][1][amount]=250&cart[line_items][1][quantity]=2"
    )
    assert decode(body) == {
        "expand": ["latest_charge", "payment_method"],
        "cart": {
            "line_items": [
                {"amount": "500", "quantity": "1"},
                {"amount": "250", "quantity": "2"},
            ]
        },
    }


def test_indices_are_ordered_numerically() -> None:
    pairs = "&".join(f"types[{i}]=t{i}" for i in (10, 2, 0, 1))
    assert decode(pairs)["types"] == ["t0", "t1", "t2", "t10"]


def test_empty_bracket_arrays_as_curl_users_write_them() -> None:
    assert decode("expand[]=a&expand[]=b") == {"expand": ["a", "b"]}


def test_empty_bracket_arrays_of_hashes_start_a_new_element_when_a_key_repeats() -> None:
    body = "items[][price]=1&items[][quantity]=2&items[][price]=3&items[][quantity]=4"
    assert decode(body) == {
        "items": [{"price": "1", "quantity": "2"}, {"price": "3", "quantity": "4"}]
    }


def test_percent_encoding_and_blank_values() -> None:
    assert decode(b"metadata[note]=a%20b%26c&metadata[gone]=&label=") == {
        "metadata": {"note": "a b&c", "gone": ""},
        "label": "",
    }


def test_numeric_metadata_keys_stay_a_hash() -> None:
    assert decode("metadata[0]=zero&metadata[1]=one") == {"metadata": {"0": "zero", "1": "one"}}


def test_empty_body() -> None:
    assert decode(b"") == {}


def test_numbered_names_at_the_top_stay_named_parameters() -> None:
    # Only nested numbered keys make a list; the top level is a set of named parameters, so an
    # endpoint can refuse an unknown "0" as Stripe does instead of failing on a list.
    assert decode("0[]=0") == {"0": ["0"]}
    assert decode("0[a]=1&1[a]=2") == {"0": {"a": "1"}, "1": {"a": "2"}}
