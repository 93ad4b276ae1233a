"""The store answers pages by walking from the newest object or a cursor, never the whole store."""

from __future__ import annotations

from countertop.emulator.store import Collection, Obj


def _filled(count: int) -> Collection:
    collection = Collection("payment_intents")
    for number in range(count):
        collection.add({"id": f"pi_{number}", "number": number})
    return collection


class Counting:
    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, obj: Obj) -> bool:
        self.seen += 1
        return True


def test_a_page_looks_at_no_more_than_it_returns_plus_one() -> None:
    collection = _filled(50_000)
    counting = Counting()
    items, has_more = collection.page(10, keep=counting)
    assert [item["number"] for item in items] == list(range(49_999, 49_989, -1))
    assert has_more
    assert counting.seen == 11


def test_cursors_start_where_they_point() -> None:
    collection = _filled(50_000)
    counting = Counting()
    after, _ = collection.page(3, starting_after="pi_25000", keep=counting)
    assert [item["number"] for item in after] == [24_999, 24_998, 24_997]
    before, has_more = collection.page(3, ending_before="pi_25000", keep=counting)
    assert [item["number"] for item in before] == [25_003, 25_002, 25_001]
    assert has_more
    assert counting.seen == 8


def test_deleted_objects_are_skipped_and_their_ids_stay_usable_as_cursors() -> None:
    collection = _filled(5)
    collection.remove("pi_3")
    items, has_more = collection.page(10)
    assert [item["number"] for item in items] == [4, 2, 1, 0]
    assert not has_more
    older, _ = collection.page(10, starting_after="pi_3")
    assert [item["number"] for item in older] == [2, 1, 0]


def test_the_last_page_says_there_is_no_more() -> None:
    collection = _filled(4)
    items, has_more = collection.page(2, starting_after="pi_2")
    assert [item["number"] for item in items] == [1, 0]
    assert not has_more
