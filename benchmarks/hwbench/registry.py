"""Every case, in table order, and selecting some of them by name (``--cases a,b``)."""

from __future__ import annotations

from collections.abc import Sequence

from hwbench.cases import (
    ArrayCase,
    CachedForeachCase,
    Case,
    FlowCase,
    ForeachCase,
    ImportCase,
    ListRunsCase,
    ResumeCase,
)
from hwbench.scaleout import DaskForeachCase, S3ArrayCase


def all_cases(quick: bool) -> list[Case]:
    """Every case in table order; ``quick`` shrinks the big ones."""
    if quick:
        foreach = [ForeachCase(10), ForeachCase(100)]
        array, listing = ArrayCase(64), ListRunsCase(10, 30)
        carry_mib = 64
        scale_out = [DaskForeachCase(100), S3ArrayCase(64)]
        cached = CachedForeachCase(100)
    else:
        foreach = [ForeachCase(10), ForeachCase(100), ForeachCase(1000, big=True),
                   ForeachCase(10_000, big=True)]
        array, listing = ArrayCase(1024), ListRunsCase(200, 1000)
        carry_mib = 1024
        scale_out = [DaskForeachCase(1000), S3ArrayCase(1024)]
        cached = CachedForeachCase(1000)
    carry = FlowCase(
        "carry", "carry",
        f"{carry_mib} MiB array made in start, carried untouched through 10 more steps",
        ["--mib", str(carry_mib)], big=True,
    )
    return [
        ImportCase(),
        FlowCase("linear", "linear", "linear, 3 steps"),
        FlowCase("branch", "branch", "static branch of 8 (11 tasks)"),
        *foreach,
        FlowCase("nested", "nested", "nested foreach 10 x 10 (123 tasks)"),
        FlowCase("artifacts", "artifacts", "1,000 small artifacts in one step"),
        array,
        carry,
        ResumeCase(),
        cached,
        listing,
        *scale_out,
    ]


def select(cases: list[Case], names: Sequence[str] | None) -> list[Case]:
    """The cases named (in table order); unknown names are an error that lists the known."""
    if not names:
        return cases
    known = {case.name: case for case in cases}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [case for case in cases if case.name in names]
