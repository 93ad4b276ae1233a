"""The soak run's report arithmetic: nearest-rank percentiles, RSS growth and its slope after the
warm-up, and which samples the memory table shows. `python -m bench.soak` runs the soak itself."""

from __future__ import annotations

import random

from bench.soak import Sample, growth, percentile, table_samples

PROCESS = "backend A"


def sample(at: float, rss_mb: float, sales: int = 0) -> Sample:
    return Sample(at=at, sales=sales, rss_kb={PROCESS: int(rss_mb * 1024)}, cpu={})


def test_percentiles_are_nearest_rank_whatever_the_order() -> None:
    values = [float(n) for n in range(1, 101)]
    random.Random(3).shuffle(values)
    assert [percentile(values, q) for q in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([0.2, 0.1, 0.4, 0.3], 50) == 0.2  # rank ceil(2.0) = 2
    assert percentile([0.2, 0.1, 0.4, 0.3], 51) == 0.3  # rank ceil(2.04) = 3
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 95) == 0.0


def test_growth_counts_from_the_end_of_the_warm_up() -> None:
    # 100 MB idle, 120 MB once warm (30 s), then +1 MB a minute for 4 minutes.
    samples = [sample(0, 100), sample(10, 110)]
    samples += [sample(30 + 60 * m, 120 + m) for m in range(5)]
    grown = growth(samples, PROCESS, since=30)
    assert (grown.start_mb, grown.end_mb) == (120.0, 124.0)
    assert grown.mb == 4.0
    assert round(grown.percent, 2) == 3.33
    assert round(grown.slope_mb_per_min, 6) == 1.0
    assert grown.flat
    grown_more = growth([*samples, sample(330, 130)], PROCESS, since=30)
    assert round(grown_more.percent, 2) == 8.33
    assert not grown_more.flat


def test_growth_of_a_steady_process_is_flat_with_no_slope() -> None:
    samples = [sample(10 * n, 150) for n in range(20)]
    grown = growth(samples, PROCESS, since=30)
    assert (grown.mb, grown.slope_mb_per_min, grown.flat) == (0.0, 0.0, True)
    # A single sample after the warm-up: no slope to speak of, nothing divided by zero.
    alone = growth([sample(0, 100), sample(40, 101)], PROCESS, since=30)
    assert (alone.mb, alone.slope_mb_per_min) == (0.0, 0.0)


def test_memory_table_rows() -> None:
    samples = [sample(10 * n, 100) for n in range(0, 13)]  # 0 to 120 s
    shown = [s.at for s in table_samples(samples, step=30, since=30)]
    assert shown == [0, 30, 60, 90, 120]
    # A final sample 2 s after a periodic one takes its place; one 6 s after is added.
    assert [s.at for s in table_samples([*samples, sample(122, 100)], 30, 30)][-2:] == [90, 122]
    assert [s.at for s in table_samples([*samples, sample(126, 100)], 30, 30)][-2:] == [120, 126]
    assert table_samples([], 30, 30) == []
