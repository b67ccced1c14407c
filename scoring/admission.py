"""Admission: which mesh runs a leaderboard may rank (docs/meshmark.md, "Admission").

A run is always stored, scored and shown; it is *ranked* only when it passes
every rule below. :func:`admit` returns every reason a mesh run is not ranked
(a :class:`~smp.errors.Problem`: field path, rule, message) and, apart, the
checks that could not be made because the run does not state the figure
(``unchecked``: reported, never blocking). Pure: plain SMP objects in, problems out.

Rules, each with its tolerance (constants below):

* profile conformance, for the baseline and the mesh run: protocol,
  connections, requested rate (within RATE_TOLERANCE; a closed-loop run has
  none and cannot stand for a fixed-rate profile), measured duration (at
  least DURATION_SHARE of the profile's), payload and warm-up when stated, and
  no ``--rate``/``--duration`` override (``profile_overrides`` label: a custom run);
* the baseline is a valid reference: it held its requested rate (within
  HELD_RATE_TOLERANCE) and stayed within the profile's error budget;
* a pair is a pair: same endpoint path, payload, connections, requested rate,
  load generator and version, started within PAIR_WINDOW_S of each other (one
  bundle has one environment, so the environment is the same by construction);
* error budget: the mesh run adds at most the profile's ``error_budget``
  (share of requests) to the baseline's error rate;
* the kind of test: a churn profile's runs say they did not keep connections
  alive (``loadgen.keepalive``), a real-world profile's runs carry their seed
  (``realworld.seed``) and a fixed profile's runs carry none; a capacity
  profile's runs carry their search (``capacity``) under the profile's objective,
  converged within its tolerance, with the baseline's capacity below the search's
  ceiling (else it is a lower bound, and so would be the capacity kept).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from smp.errors import Problem
from smp.model import Bundle, PerformanceTestResult

RATE_TOLERANCE = 0.02
"""A requested rate within 2% of the profile's (and of the other run's) is the same rate."""
HELD_RATE_TOLERANCE = 0.05
"""A baseline achieving less than 95% of its requested rate did not hold the profile's load."""
DURATION_SHARE = 0.9
"""The measured part of a run lasts at least 90% of the profile's duration."""
PAIR_WINDOW_S = 3600.0
"""The baseline and the mesh run start within an hour of each other (one invocation)."""
OVERRIDES_LABEL = "profile_overrides"
"""Set by smp-runner on runs made with --rate or --duration: a custom run."""
KEEPALIVE_LABEL = "loadgen.keepalive"
"""``false`` on runs whose every request used a new connection (smp-runner, churn profiles)."""
SEED_LABEL = "realworld.seed"
"""The seed a real-world run drew its workload with (runner.realworld)."""


class ProfileSpec(Protocol):
    """What admission reads of a profile (``smp.profiles.Profile`` or the index's row)."""

    @property
    def id(self) -> str: ...
    @property
    def protocol(self) -> str: ...
    @property
    def rps(self) -> int | None: ...
    @property
    def connections(self) -> int: ...
    @property
    def payload_bytes(self) -> int: ...
    @property
    def duration_s(self) -> int: ...
    @property
    def warmup_s(self) -> int: ...
    @property
    def error_budget(self) -> float: ...
    @property
    def kind(self) -> str: ...
    @property
    def keepalive(self) -> bool: ...
    @property
    def real_world_of(self) -> str | None: ...
    @property
    def objective_p99_ms(self) -> float | None: ...
    @property
    def search(self) -> dict[str, float] | None: ...


@dataclass
class Admission:
    """Per mesh run (by index in ``bundle.runs``): why it is not ranked (empty: ranked)."""

    reasons: dict[int, list[Problem]] = field(default_factory=dict)
    unchecked: list[Problem] = field(default_factory=list)

    def ranked(self, index: int) -> bool:
        return not self.reasons.get(index)

    def all_reasons(self) -> list[Problem]:
        """Every reason, once each (baseline reasons apply to every mesh run)."""
        seen: dict[tuple[str, str], Problem] = {}
        for problems in self.reasons.values():
            for problem in problems:
                seen.setdefault((problem.path, problem.rule), problem)
        return list(seen.values())


def admit(bundle: Bundle, profile: ProfileSpec) -> Admission:
    """Every reason each mesh run of ``bundle`` is not ranked on ``profile``'s board.

    Each mesh run is judged with the baseline it is compared with
    (:meth:`smp.model.Bundle.baseline_index_of`: the bundle's one baseline, or the one
    just before it when pairs are interleaved)."""
    admission = Admission()
    base_reasons: dict[int, list[Problem]] = {}
    for index, run in enumerate(bundle.runs):
        if run.role == "baseline":
            continue
        at = f"runs[{index}]"
        base_index = bundle.baseline_index_of(index)
        if base_index is None:
            reasons = [
                Problem(
                    "runs",
                    "baseline-present",
                    "no baseline run in the same submission: MeshMark compares a mesh run with "
                    "a baseline made by the same invocation on the same environment",
                )
            ]
        else:
            baseline, base_at = bundle.runs[base_index], f"runs[{base_index}]"
            if base_index not in base_reasons:
                base_reasons[base_index] = [
                    *_conformance(baseline, profile, base_at, admission.unchecked),
                    *_reference(baseline, profile, base_at),
                    *_kind(baseline, profile, base_at),
                ]
            reasons = list(base_reasons[base_index])
            reasons += _pair(
                baseline,
                run,
                base_at,
                at,
                admission.unchecked,
                same_rate=profile.kind != "capacity",
            )
            reasons += _budget(baseline, run, profile, at)
        reasons += _conformance(run, profile, at, admission.unchecked)
        reasons += _kind(run, profile, at)
        admission.reasons[index] = reasons
    return admission


def _kind(run: PerformanceTestResult, profile: ProfileSpec, at: str) -> Iterator[Problem]:
    """Is this run the kind of test the profile is: churn, real-world, capacity?"""
    keepalive = run.labels.get(KEEPALIVE_LABEL)
    if not profile.keepalive and keepalive != "false":
        yield Problem(
            f"{at}.labels.{KEEPALIVE_LABEL}",
            "profile-keepalive",
            f"{profile.id} opens a new connection for every request; the run does not say it "
            f"did ({KEEPALIVE_LABEL}: {keepalive or 'absent'})",
        )
    elif profile.keepalive and keepalive == "false":
        yield Problem(
            f"{at}.labels.{KEEPALIVE_LABEL}",
            "profile-keepalive",
            f"the run opened a new connection for every request; {profile.id} keeps them alive",
        )
    seed = run.labels.get(SEED_LABEL)
    if profile.real_world_of and not seed:
        yield Problem(
            f"{at}.labels.{SEED_LABEL}",
            "real-world-seed",
            f"{profile.id} draws its workload at random: the run must carry the seed it drew "
            "with, so that it can be replayed",
        )
    elif not profile.real_world_of and seed:
        yield Problem(
            f"{at}.labels.{SEED_LABEL}",
            "real-world-seed",
            f"a real-world run (seed {seed}) is ranked on its real-world board, not on "
            f"{profile.id}'s fixed one",
        )
    if profile.kind == "capacity":
        yield from _capacity(run, profile, at)


def _capacity(run: PerformanceTestResult, profile: ProfileSpec, at: str) -> Iterator[Problem]:
    search = run.capacity
    if search is None:
        yield Problem(
            f"{at}.capacity",
            "capacity-search",
            f"{profile.id} is a capacity profile: the run must carry its search (capacity)",
        )
        return
    objective = profile.objective_p99_ms
    if objective is not None and not _close(search.objective_p99_ms, objective, 1e-9):
        yield Problem(
            f"{at}.capacity.objective_p99_ms",
            "capacity-objective",
            f"searched under a {search.objective_p99_ms:g} ms p99; {profile.id}'s objective "
            f"is {objective:g} ms",
        )
    if not search.converged:
        yield Problem(
            f"{at}.capacity.converged",
            "capacity-converged",
            "the search did not narrow the capacity to its tolerance (trial limit reached, or "
            "no rate passed)",
        )
    ceiling = (profile.search or {}).get("max_rps")
    if run.role == "baseline" and ceiling and search.rps >= ceiling:
        yield Problem(
            f"{at}.capacity.rps",
            "capacity-ceiling",
            f"the baseline passed at the search's highest rate ({ceiling:g}/s): its capacity "
            "is only a lower bound, and so would be the capacity the mesh keeps",
        )
    needed = DURATION_SHARE * profile.duration_s
    short = [t for t in search.trials if t.duration_s is not None and t.duration_s < needed]
    if short:
        yield Problem(
            f"{at}.capacity.trials",
            "capacity-trial-duration",
            f"{len(short)} trial(s) measured less than {needed:g} s; {profile.id}'s trials "
            f"last {profile.duration_s} s",
        )


def _close(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= tolerance * max(abs(a), abs(b))


def _conformance(
    run: PerformanceTestResult, profile: ProfileSpec, at: str, unchecked: list[Problem]
) -> Iterator[Problem]:
    """Does this run measure what ``profile`` defines?"""
    if run.labels.get(OVERRIDES_LABEL):
        yield Problem(
            f"{at}.labels.{OVERRIDES_LABEL}",
            "custom-run",
            f"made with {run.labels[OVERRIDES_LABEL]} instead of the profile's settings: a "
            f"custom run, shown but never ranked on the {profile.id} board",
        )
    if run.protocol is not None and run.protocol != profile.protocol:
        yield Problem(
            f"{at}.protocol",
            "profile-protocol",
            f"{run.protocol} run; {profile.id} is a {profile.protocol} profile",
        )
    if run.connections is None:
        yield Problem(
            f"{at}.connections",
            "profile-connections",
            f"the run does not state its connections; {profile.id} uses {profile.connections}",
        )
    elif run.connections != profile.connections:
        yield Problem(
            f"{at}.connections",
            "profile-connections",
            f"{run.connections} connections; {profile.id} uses {profile.connections}",
        )
    if profile.rps is not None:
        if run.requested_qps is None:
            yield Problem(
                f"{at}.requested_qps",
                "profile-rate",
                f"no requested rate (a closed-loop run); {profile.id} asks for "
                f"{profile.rps} requests/s",
            )
        elif not _close(run.requested_qps, profile.rps, RATE_TOLERANCE):
            yield Problem(
                f"{at}.requested_qps",
                "profile-rate",
                f"{run.requested_qps:g} requests/s requested; {profile.id} asks for "
                f"{profile.rps} (within {RATE_TOLERANCE:.0%})",
            )
    needed = DURATION_SHARE * profile.duration_s
    if run.duration_s is None or run.duration_s < needed:
        measured = "unknown" if run.duration_s is None else f"{run.duration_s:g} s"
        yield Problem(
            f"{at}.duration_s",
            "profile-duration",
            f"measured for {measured}; {profile.id} measures {profile.duration_s} s "
            f"(at least {DURATION_SHARE:.0%} of it counts)",
        )
    payload = payload_bytes(run)
    if payload is None:
        unchecked.append(
            Problem(
                f"{at}.payload_bytes",
                "profile-payload",
                "the run does not state its payload; it was not checked",
            )
        )
    elif payload != profile.payload_bytes:
        yield Problem(
            f"{at}.payload_bytes",
            "profile-payload",
            f"{payload}-byte payload; {profile.id} uses {profile.payload_bytes} bytes",
        )
    if run.warmup_s is None:
        unchecked.append(
            Problem(
                f"{at}.warmup_s",
                "profile-warmup",
                "the run does not state its warm-up; it was not checked",
            )
        )
    elif run.warmup_s < profile.warmup_s:
        yield Problem(
            f"{at}.warmup_s",
            "profile-warmup",
            f"{run.warmup_s:g} s of warm-up; {profile.id} warms up for {profile.warmup_s} s",
        )


def _reference(baseline: PerformanceTestResult, profile: ProfileSpec, at: str) -> Iterator[Problem]:
    """Could the environment sustain the profile without a mesh?"""
    requested, actual = baseline.requested_qps, baseline.actual_qps
    if requested and actual is not None and actual < (1 - HELD_RATE_TOLERANCE) * requested:
        yield Problem(
            f"{at}.actual_qps",
            "baseline-held-rate",
            f"the baseline achieved {actual:.1f} of {requested:g} requests/s: the environment "
            f"did not sustain the profile without a mesh (at least "
            f"{1 - HELD_RATE_TOLERANCE:.0%} needed), so no mesh run can be judged against it",
        )
    rate = baseline.error_rate
    if rate is not None and rate > profile.error_budget:
        yield Problem(
            f"{at}.error_count",
            "baseline-error-budget",
            f"the baseline failed {rate:.2%} of its requests, more than {profile.id}'s budget "
            f"of {profile.error_budget:.2%}: it is no reference for a mesh run",
        )


def _pair(
    baseline: PerformanceTestResult,
    mesh: PerformanceTestResult,
    base_at: str,
    at: str,
    unchecked: list[Problem],
    same_rate: bool = True,
) -> Iterator[Problem]:
    """Were the baseline and this mesh run made the same way? (``same_rate``: at the same
    requested rate; not for a capacity search, whose two phases end at their own rates.)"""
    base_path, mesh_path = endpoint_path(baseline), endpoint_path(mesh)
    if base_path is not None and mesh_path is not None and base_path != mesh_path:
        yield Problem(
            f"{at}.labels.url",
            "pair-endpoint",
            f"requests {mesh_path!r}; its baseline ({base_at}) requested {base_path!r}",
        )
    elif base_path is None or mesh_path is None:
        unchecked.append(
            Problem(f"{at}.labels.url", "pair-endpoint", "no URL to compare; not checked")
        )
    base_payload, mesh_payload = payload_bytes(baseline), payload_bytes(mesh)
    if base_payload is not None and mesh_payload is not None and base_payload != mesh_payload:
        yield Problem(
            f"{at}.payload_bytes",
            "pair-payload",
            f"{mesh_payload}-byte payload; its baseline used {base_payload}",
        )
    if (
        baseline.connections is not None
        and mesh.connections is not None
        and baseline.connections != mesh.connections
    ):
        yield Problem(
            f"{at}.connections",
            "pair-connections",
            f"{mesh.connections} connections; its baseline used {baseline.connections}",
        )
    if (
        same_rate
        and baseline.requested_qps is not None
        and mesh.requested_qps is not None
        and not _close(baseline.requested_qps, mesh.requested_qps, RATE_TOLERANCE)
    ):
        yield Problem(
            f"{at}.requested_qps",
            "pair-rate",
            f"{mesh.requested_qps:g} requests/s requested; its baseline requested "
            f"{baseline.requested_qps:g}",
        )
    yield from _same_generator(baseline, mesh, at)
    if baseline.start_time is not None and mesh.start_time is not None:
        apart = abs((mesh.start_time - baseline.start_time).total_seconds())
        if apart > PAIR_WINDOW_S:
            yield Problem(
                f"{at}.start_time",
                "pair-start",
                f"started {apart / 3600:.1f} h apart from its baseline; a pair is made by one "
                f"invocation, within {PAIR_WINDOW_S / 3600:g} h",
            )
    else:
        unchecked.append(
            Problem(f"{at}.start_time", "pair-start", "no start time to compare; not checked")
        )


def _same_generator(
    baseline: PerformanceTestResult, mesh: PerformanceTestResult, at: str
) -> Iterator[Problem]:
    base, other = baseline.load_generator, mesh.load_generator
    if base is None or other is None:
        return
    if base.name != other.name or (
        base.version and other.version and base.version != other.version
    ):
        yield Problem(
            f"{at}.load_generator",
            "pair-load-generator",
            f"measured with {other.name} {other.version or ''}".rstrip()
            + f"; its baseline with {base.name} {base.version or ''}".rstrip(),
        )


def _budget(
    baseline: PerformanceTestResult, mesh: PerformanceTestResult, profile: ProfileSpec, at: str
) -> Iterator[Problem]:
    mesh_rate = mesh.error_rate
    if mesh_rate is None:
        return
    added = mesh_rate - (baseline.error_rate or 0.0)
    if added > profile.error_budget:
        yield Problem(
            f"{at}.error_count",
            "error-budget",
            f"the mesh run failed {mesh_rate:.2%} of its requests, {added:.2%} more than its "
            f"baseline; {profile.id}'s error budget is {profile.error_budget:.2%}",
        )


def endpoint_path(run: PerformanceTestResult) -> str | None:
    """The path the run requested, from its URL (the ``url`` label fortio and nighthawk
    readers keep); host and port differ between a baseline and a mesh run on purpose."""
    url = run.labels.get("url")
    if not url:
        return None
    return urlsplit(url).path or "/"


def payload_bytes(run: PerformanceTestResult) -> int | None:
    """The response payload the run asked for: ``payload_bytes`` when stated, else the
    ``size`` query parameter of its URL (the echo servers of fortio, of smp-runner and of
    Istio's benchmarks answer ``/echo?size=N`` with N bytes)."""
    if run.payload_bytes is not None:
        return run.payload_bytes
    url = run.labels.get("url")
    if not url:
        return None
    sizes = parse_qs(urlsplit(url).query).get("size")
    if not sizes:
        return None
    try:
        size = float(sizes[0])
    except ValueError:
        return None
    return int(size) if math.isfinite(size) and size >= 0 else None
