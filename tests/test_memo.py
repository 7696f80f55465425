"""LastCall: the previous call's results are reused, and only those are kept."""

from __future__ import annotations

import doctest

from mscqa import memo
from mscqa.memo import LastCall


def test_reuses_the_previous_call_and_forgets_older_ones() -> None:
    calls: list[str] = []

    def compute(key: str) -> str:
        calls.append(key)
        return key.upper()

    last: LastCall[str, str] = LastCall()
    assert last.results(["a", "b", "a"], compute) == ["A", "B", "A"]
    assert calls == ["a", "b"]  # a repeated key is computed once
    assert last.results(["b", "c"], compute) == ["B", "C"]
    assert calls == ["a", "b", "c"]  # b reused
    assert set(last.kept) == {"b", "c"}  # a forgotten: bounded by the latest call
    assert last.results(["a"], compute) == ["A"] and calls[-1] == "a"
    last.clear()
    assert last.kept == {}


def test_module_examples() -> None:
    assert doctest.testmod(memo).failed == 0
