"""``ramparts.toolkit.RateLimit``: a token bucket, driven by a clock the test moves."""

from __future__ import annotations

import threading

import pytest

from ramparts.toolkit import RateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate() -> None:
    clock = Clock()
    limit = RateLimit(2, 3, clock=clock)
    assert [limit.take() for _ in range(5)] == [True, True, True, False, False]
    clock.now += 0.5  # one token back at 2 a second
    assert [limit.take(), limit.take()] == [True, False]
    clock.now += 60  # never more than the burst
    assert sum(limit.take() for _ in range(10)) == 3


def test_refused_takes_cost_nothing() -> None:
    clock = Clock()
    limit = RateLimit(1, 1, clock=clock)
    assert limit.take()
    for _ in range(1000):
        clock.now += 0.0009  # asking all the time, 0.9 s in all
        assert not limit.take()
    clock.now += 0.1
    assert limit.take()


def test_a_clock_that_goes_back_gives_nothing() -> None:
    clock = Clock()
    limit = RateLimit(1, 1, clock=clock)
    assert limit.take()
    clock.now -= 50
    assert not limit.take()


def test_threads_share_it_exactly() -> None:
    limit = RateLimit(1e-9, 500)  # no refill worth a token while the test runs
    taken: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        got = [limit.take() for _ in range(100)]
        with lock:
            taken.extend(got)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(taken) == 500


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0), (float("nan"), 1)])
def test_a_limit_that_allows_nothing_is_an_error(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="per_second > 0 and burst >= 1"):
        RateLimit(rate, burst)
