"""Tiered checkpoint retention (docs/design.md, Never lose progress).

How far back an iteration is counts the latest as 1 back, so ``age = latest - iteration`` and an
iteration is ``age + 1`` back. "Every k-th" means the iteration *number* is divisible by k; tying
the tiers to numbers rather than ages keeps the kept set stable as the run advances. The tiers:

* 1..10 back (age 0..9): every iteration;
* 11..30 back (age 10..29): every 2nd (even numbers);
* 31..50 back (age 30..49): every 5th (multiples of 5);
* beyond 50 back (age >= 50): every 10th (multiples of 10);
* the latest and the best iteration always.

Pruning runs after every save, so a checkpoint deleted now is gone when it ages into an older
tier. For the older tiers to hold what they promise, an iteration is also kept while it is in a
younger tier if an older tier will want it: in 11..30 back the multiples of 5 are kept as well as
the even numbers (a multiple of 10 is even, so the last tier needs nothing extra). Pruning once
over a full set and pruning after every iteration thus leave the same checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterable

# (first age of the tier, divisors an iteration number may have to be kept in it)
_TIERS: tuple[tuple[int, tuple[int, ...]], ...] = (
    (0, (1,)),
    (10, (2, 5)),  # 5: needed later by the next tier
    (30, (5,)),
    (50, (10,)),
)


def iterations_to_keep(
    all_iterations: Iterable[int], latest: int | None = None, best: int | None = None
) -> set[int]:
    """The iterations, among ``all_iterations``, whose checkpoints the tiers keep.

    ``latest`` defaults to the largest iteration; ``best`` (the promoted model's iteration) is
    always kept when present. Iterations newer than ``latest`` are kept too (never delete what
    the rule cannot place).
    """
    iterations = set(all_iterations)
    if not iterations:
        return set()
    if latest is None:
        latest = max(iterations)
    keep = {i for i in (latest, best) if i in iterations}
    for it in iterations:
        age = latest - it
        if age < 0:
            keep.add(it)
            continue
        divisors = next(d for start, d in reversed(_TIERS) if age >= start)
        if any(it % k == 0 for k in divisors):
            keep.add(it)
    return keep


def drop_reason(iteration: int, latest: int) -> str:
    """Why the tiers do not keep ``iteration`` when ``latest`` is the newest, in words (for the
    log line of a deletion): how far back it is and what its tier keeps."""
    age = latest - iteration
    index = max(i for i, (start, _) in enumerate(_TIERS) if age >= start)
    start, divisors = _TIERS[index]
    if index + 1 < len(_TIERS):
        span = f"{start + 1}..{_TIERS[index + 1][0]} back"
    else:
        span = f"beyond {start} back"
    kept = " or ".join(f"every {k}{_ordinal(k)}" for k in divisors)
    return f"{age + 1} back from iteration {latest}; {span} keeps {kept} iteration"


def _ordinal(k: int) -> str:
    return {1: "st", 2: "nd", 3: "rd"}.get(k if k < 20 else k % 10, "th")
