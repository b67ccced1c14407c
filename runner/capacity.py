"""The capacity search of capacity profiles (``kind: capacity`` in smp/data/profiles.yaml).

For one phase (the baseline, then the mesh) the runner looks for the highest
request rate whose trial meets the profile's objective. A *trial* is one
measured run at a fixed requested rate, ``duration_s`` long after ``warmup_s``
(the profile's trial length, the same open-loop, coordinated-omission corrected
measurement as every run); it *passes* when

* its p99 is at most ``objective_p99_ms``,
* its error rate is within the profile's ``error_budget``,
* it delivered at least HELD_SHARE of the requested rate and left no request
  unsent (a rate the generator or the target could not hold is not sustained).

The search, per phase (docs/meshmark.md, "Capacity, churn and real-world mode"):

1. **bracketing**: from ``start_rps``, double the rate while trials pass, up to
   ``max_rps`` (a pass there ends the search: the capacity is only a lower
   bound, not converged); if the first trial fails, halve instead until one
   passes (down to MIN_RPS);
2. **bisection**: between the highest passing rate ``lo`` and the lowest failing
   rate ``hi``, try their midpoint, until ``hi <= lo * (1 + tolerance)``:
   converged, the capacity is ``lo``;
3. at most ``max_trials`` trials per phase; a search that stops there is not
   converged.

Every trial is kept (requested and delivered rate, p99, error rate, length,
verdict) in the run's ``capacity`` block; the run itself is the trial at the
capacity found, with its latencies and resources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from smp.model import CapacitySearch, CapacityTrial, PerformanceTestResult
from smp.profiles import Profile

HELD_SHARE = 0.95
MIN_RPS = 1.0


@dataclass(frozen=True)
class SearchSettings:
    objective_p99_ms: float
    error_budget: float
    start_rps: float
    max_rps: float
    tolerance: float
    max_trials: int

    @classmethod
    def of(cls, profile: Profile) -> SearchSettings:
        search = profile.search or {}
        assert profile.objective_p99_ms is not None, f"{profile.id} is not a capacity profile"
        return cls(
            objective_p99_ms=float(profile.objective_p99_ms),
            error_budget=profile.error_budget,
            start_rps=float(search["start_rps"]),
            max_rps=float(search["max_rps"]),
            tolerance=float(search["tolerance"]),
            max_trials=int(search["max_trials"]),
        )


def verdict(
    run: PerformanceTestResult, settings: SearchSettings, requested: float | None = None
) -> CapacityTrial:
    """One trial's figures and whether it passed; ``requested`` is the rate the trial
    asked for (the run's own ``requested_qps`` when None)."""
    requested = float(requested if requested is not None else run.requested_qps or 0.0)
    actual = float(run.actual_qps or 0.0)
    p99 = run.latencies_ms.p99
    errors = run.error_rate if run.error_rate is not None else 1.0
    unsent = int(run.labels.get("loadgen.not_sent", "0") or 0)
    passed = (
        p99 is not None
        and p99 <= settings.objective_p99_ms
        and errors <= settings.error_budget
        and actual >= HELD_SHARE * requested
        and unsent == 0
    )
    return CapacityTrial(
        requested_qps=round(requested, 3),
        actual_qps=round(actual, 3),
        p99_ms=p99,
        error_rate=round(errors, 6),
        passed=passed,
        duration_s=run.duration_s,
    )


def search_phase(
    phase: str,
    measure: Callable[[float], PerformanceTestResult],
    settings: SearchSettings,
    step: Callable[[str], None],
    detail: str = "",
) -> PerformanceTestResult:
    """A capacity profile's phase as both modes run it: the search announced (``detail``
    says what the mode adds), each trial's line under the phase's name, the capacity found."""
    step(f"{phase}: capacity search under a {settings.objective_p99_ms:g} ms p99{detail}")
    run = search(measure, settings, lambda line: step(f"{phase}: {line}"))
    assert run.capacity is not None
    step(f"{phase}: capacity {run.capacity.rps:g} rps")
    return run


def search(
    measure: Callable[[float], PerformanceTestResult],
    settings: SearchSettings,
    report: Callable[[str], None] = lambda line: None,
) -> PerformanceTestResult:
    """Run the search with ``measure(rate)`` making one trial; the trial at the capacity
    found (or, when none passed, the last one), with the search in ``capacity``."""
    trials: list[CapacityTrial] = []
    best: PerformanceTestResult | None = None
    last: PerformanceTestResult | None = None
    lo: float | None = None
    hi: float | None = None
    rate = settings.start_rps
    converged = False
    while len(trials) < settings.max_trials:
        last = measure(rate)
        trial = verdict(last, settings, requested=rate)
        trials.append(trial)
        p99 = "no p99" if trial.p99_ms is None else f"p99 {trial.p99_ms:g} ms"
        report(
            f"trial {len(trials)}: {rate:g} rps requested, {trial.actual_qps:g} delivered, "
            f"{p99}, errors {trial.error_rate:.2%}: {'pass' if trial.passed else 'fail'}"
        )
        if trial.passed:
            lo, best = rate, last
        else:
            hi = rate if hi is None else min(hi, rate)
        if lo is not None and hi is not None:
            if hi <= lo * (1 + settings.tolerance):
                converged = True
                break
            rate = round((lo + hi) / 2, 1)
        elif hi is None:  # every trial passed so far: double, up to the ceiling
            if rate >= settings.max_rps:
                break
            rate = min(rate * 2, settings.max_rps)
        else:  # every trial failed so far: halve
            if rate / 2 < MIN_RPS:
                break
            rate = round(rate / 2, 1)
    chosen = best if best is not None else last
    assert chosen is not None
    chosen.capacity = CapacitySearch(
        objective_p99_ms=settings.objective_p99_ms,
        rps=lo or 0.0,
        trials=trials,
        converged=converged,
        tolerance=settings.tolerance,
    )
    return chosen
