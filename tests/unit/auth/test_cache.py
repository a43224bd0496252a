"""The review cache: entries expire by the injected clock, and the oldest go when full."""

from __future__ import annotations

from assay.server.auth.cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache: TtlCache[str, int | None] = TtlCache(ttl_s=10, clock=clock)
    cache.put("a", None)  # a "no" is cached as well
    assert cache.get("a") == (True, None)
    clock.now += 9.99
    assert cache.get("a") == (True, None)
    clock.now += 0.01
    assert cache.get("a") == (False, None)
    assert len(cache) == 0


def test_the_oldest_entries_go_first_when_full() -> None:
    cache: TtlCache[int, int] = TtlCache(ttl_s=10, max_entries=3, clock=Clock())
    for key in range(5):
        cache.put(key, key)
    assert [cache.get(k)[0] for k in range(5)] == [False, False, True, True, True]


def test_a_zero_ttl_caches_nothing() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl_s=0, clock=Clock())
    cache.put("a", 1)
    assert cache.get("a") == (False, None)
