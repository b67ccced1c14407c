"""What containers did, the cAdvisor series sampled from it, and the figures both imply.

A :class:`Container` is the truth: the CPU it used and its working set, second
by second, while it ran. :func:`sample` turns it into the two series a kubelet
exposes (``container_cpu_usage_seconds_total``, a counter that starts from zero
when the container starts or restarts, and ``container_memory_working_set_bytes``,
a gauge) at the scrape times given. From these the tests compute, without the
runner's code:

* the **truth** over a window (:func:`true_cpu_s`, :func:`true_memory`): what
  the containers really used, which is what the runner means by its figures;
* what **PromQL's documented rules** give from the samples (:func:`promql_rate`:
  the reset-aware increase between the first and last samples in the window,
  stretched to an edge when the gap is under 1.1 average intervals, else by
  half an interval, never back past the counter's zero), and the memory and
  count the runner's documentation defines from the same edge rule
  (:func:`covered`);
* a **bound** on the difference between the two (:func:`cpu_error_bound_s`,
  :func:`memory_error_bound`): the rules only misjudge the stretches between a
  window edge (or a start, stop or restart) and the nearest sample, by at most
  their length times the usage there.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

THRESHOLD = 1.1  # Prometheus: extrapolate to the edge when the gap < 1.1 average intervals
LABELS = {"job": "kubelet", "metrics_path": "/metrics/cadvisor", "instance": "node-1"}
CPU = "container_cpu_usage_seconds_total"
MEMORY = "container_memory_working_set_bytes"


@dataclass
class Container:
    """One container's CPU (cores) and working set (bytes) for each unix second it ran."""

    namespace: str
    pod: str
    name: str
    """The ``container`` label: "" for the pod's own cgroup, "POD" for the pause container."""
    born: float
    died: float
    cpu: Callable[[int], float]
    mem: Callable[[int], float]
    image: str = ""
    resets: tuple[float, ...] = ()
    """Restarts in place (same series): the counter starts again from zero."""
    counter_at_born: float = 0.0
    """CPU seconds already used at ``born`` (a container older than the data)."""
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    """(time, counter, working set) as written; filled by :func:`sample`."""
    _sums: dict[int, list[float]] = field(default_factory=dict, repr=False)

    @property
    def labels(self) -> dict[str, str]:
        return {
            **LABELS, "namespace": self.namespace, "pod": self.pod,
            "container": self.name, "image": self.image,
        }  # fmt: skip

    def alive(self, a: float, b: float) -> tuple[float, float] | None:
        lo, hi = max(a, self.born), min(b, self.died)
        return (lo, hi) if hi > lo else None

    def _running_total(self, f: Callable[[int], float], t: float) -> float:
        """The integral of ``f`` from the start of second ``floor(born)`` to ``t``."""
        sums = self._sums.setdefault(id(f), [0.0])
        base, second = math.floor(self.born), math.floor(t)
        while len(sums) <= second - base:  # sums[i]: the integral over the first i seconds
            sums.append(sums[-1] + f(base + len(sums) - 1))
        return sums[second - base] + f(second) * (t - second)

    def _integral(self, f: Callable[[int], float], a: float, b: float) -> float:
        span = self.alive(a, b)
        if span is None:
            return 0.0
        return self._running_total(f, span[1]) - self._running_total(f, span[0])

    def used(self, a: float, b: float) -> float:
        """CPU seconds used in ``[a, b]``."""
        return self._integral(self.cpu, a, b)

    def counter(self, t: float) -> float:
        since = max([self.born, *(r for r in self.resets if r <= t)])
        return (self.counter_at_born if since == self.born else 0.0) + self.used(since, t)

    def memory_s(self, a: float, b: float) -> float:
        """Byte-seconds of working set in ``[a, b]``."""
        return self._integral(self.mem, a, b)


def scrape_times(
    first: float, until: float, every: float, jitter: float, rng: random.Random
) -> list[float]:
    """A kubelet's sample times: every ``every`` s from ``first``, each off by up to ``jitter`` s.

    cAdvisor stamps samples with its own collection times, so they are not
    evenly spaced; Prometheus keeps milliseconds.
    """
    out, k = [], 0
    while (t := first + k * every) < until:
        out.append(round(t + rng.uniform(-jitter, jitter), 3))
        k += 1
    return out


def sample(container: Container, times: Sequence[float]) -> None:
    """Record the container's counter and working set at each of ``times`` it ran."""
    container.samples = [
        (t, container.counter(t), container.mem(math.floor(t)))
        for t in times
        if container.born <= t < container.died
    ]


def in_window(container: Container, begin: float, end: float) -> list[tuple[float, float, float]]:
    """The samples a range selector ``[end - begin]`` evaluated at ``end`` returns (2.x: both
    ends inclusive)."""
    return [s for s in container.samples if begin <= s[0] <= end]


# -- the truth ---------------------------------------------------------------------------------


def true_cpu_s(containers: Sequence[Container], begin: float, end: float) -> float:
    return sum(c.used(begin, end) for c in containers)


def true_memory(containers: Sequence[Container], begin: float, end: float) -> float:
    """The mean over the window of the summed working set (bytes)."""
    return sum(c.memory_s(begin, end) for c in containers) / (end - begin)


def true_pods(containers: Sequence[Container], begin: float, end: float) -> float:
    """Pods, each counted for the part of the window one of these containers ran in it."""
    by_pod: dict[str, float] = {}
    for c in containers:
        span = c.alive(begin, end)
        if span:
            by_pod[c.pod] = max(by_pod.get(c.pod, 0.0), span[1] - span[0])
    return sum(by_pod.values()) / (end - begin)


# -- PromQL's rules ----------------------------------------------------------------------------


def _edges(
    times: Sequence[float],
    begin: float,
    end: float,
    average: float,
    first_value: float | None,
    increase: float,
) -> tuple[float, float]:
    """How far the rules stretch a series before its first and after its last sample."""
    before, after = times[0] - begin, end - times[-1]
    if first_value is not None and increase > 0 and first_value >= 0:
        # A counter is not stretched back past the point where it would have been zero.
        before = min(before, (times[-1] - times[0]) * first_value / increase)
    before = before if before < THRESHOLD * average else average / 2
    after = after if after < THRESHOLD * average else average / 2
    return before, after


def increase(values: Sequence[float]) -> float:
    """A counter's increase over its samples: a drop is a restart from zero."""
    return sum((b - a) if b >= a else b for a, b in itertools.pairwise(values))


def promql_rate(container: Container, begin: float, end: float) -> float | None:
    """``rate(counter[W])`` at ``end`` by the documented rules (cores); None below 2 samples."""
    found = in_window(container, begin, end)
    if len(found) < 2:
        return None
    times = [t for t, _, _ in found]
    values = [v for _, v, _ in found]
    grew = increase(values)
    sampled = times[-1] - times[0]
    before, after = _edges(times, begin, end, sampled / (len(found) - 1), values[0], grew)
    return grew * (sampled + before + after) / sampled / (end - begin)


def covered(container: Container, begin: float, end: float, interval: float | None) -> float:
    """Seconds of the window a series stands for by the same edge rule (gauges: no zero)."""
    found = in_window(container, begin, end)
    times = [t for t, _, _ in found]
    average = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else interval
    if average is None:
        return end - begin
    before, after = _edges(times, begin, end, average, None, 0.0)
    return min(end - begin, times[-1] - times[0] + before + after)


def median_interval(containers: Sequence[Container], begin: float, end: float) -> float | None:
    gaps = sorted(
        b[0] - a[0]
        for c in containers
        for a, b in zip(in_window(c, begin, end), in_window(c, begin, end)[1:], strict=False)
    )
    if not gaps:
        return None
    middle = len(gaps) // 2
    return gaps[middle] if len(gaps) % 2 else (gaps[middle - 1] + gaps[middle]) / 2


def rules_memory(containers: Sequence[Container], begin: float, end: float) -> float:
    """Sum of mean(samples in window) * covered / W (bytes): the runner's documented memory."""
    interval = median_interval(containers, begin, end)
    total = 0.0
    for c in containers:
        found = in_window(c, begin, end)
        if found:
            mean = sum(m for _, _, m in found) / len(found)
            total += mean * covered(c, begin, end, interval)
    return total / (end - begin)


def rules_pods(containers: Sequence[Container], begin: float, end: float) -> int:
    """Pods by the runner's documented rule: each for the part of the window it covers."""
    interval = median_interval(containers, begin, end)
    by_pod: dict[str, float] = {}
    for c in containers:
        if in_window(c, begin, end):
            share = min(end - begin, covered(c, begin, end, interval))
            by_pod[c.pod] = max(by_pod.get(c.pod, 0.0), share)
    if not by_pod:
        return 0
    return max(1, math.floor(sum(by_pod.values()) / (end - begin) + 0.5))


# -- bounds on rules vs truth ------------------------------------------------------------------


def _local(f: Callable[[int], float], a: float, b: float) -> tuple[float, float]:
    """Lowest and highest per-second value of ``f`` in ``[a, b]`` (0, 0 when empty)."""
    if b <= a:
        return 0.0, 0.0
    values = [f(s) for s in range(math.floor(a), math.ceil(b))]
    return min(values), max(values)


def cpu_error_bound_s(container: Container, begin: float, end: float) -> float:
    """How far the rules' CPU seconds for ``container`` can be from the truth.

    Between its first and last samples in the window the rules know exactly
    what was used (counter differences), except that a restart loses what was
    used between the sample before it and the restart. Each stretch outside
    (from a window edge, a start or a stop to the nearest sample) is counted as
    the in-window average slope ``u`` over the length the rules stretch to,
    while the container really used between the lowest and highest usage of
    that stretch over its true length: the error is at most ``|true length -
    stretched| * max(u, highest) + shorter length * max(u - lowest, highest - u)``.
    A series with a single sample has no rate: all its usage is lost.
    """
    span = container.alive(begin, end)
    if span is None:
        return 0.0
    found = in_window(container, begin, end)
    if len(found) < 2:
        return _local(container.cpu, *span)[1] * (span[1] - span[0])
    times = [t for t, _, _ in found]
    values = [v for _, v, _ in found]
    sampled, grew = times[-1] - times[0], increase(values)
    slope = grew / sampled
    before, after = _edges(times, begin, end, sampled / (len(found) - 1), values[0], grew)
    bound = 0.0
    for (a, b), stretched in (((span[0], times[0]), before), ((times[-1], span[1]), after)):
        low, high = _local(container.cpu, a, b)
        bound += abs((b - a) - stretched) * max(slope, high)
        bound += min(b - a, stretched) * max(slope - low, high - slope)
    for restart in container.resets:
        earlier = [t for t in times if t < restart]
        if earlier and restart <= times[-1]:
            bound += (restart - earlier[-1]) * _local(container.cpu, earlier[-1], restart)[1]
    return bound


def memory_error_bound(containers: Sequence[Container], begin: float, end: float) -> float:
    """How far :func:`rules_memory` can be from :func:`true_memory` (bytes).

    Per container running over ``[a, b]`` of the window with samples ``t_k``:
    the rules take ``mean(m(t_k)) * covered`` for ``integral of m over [a, b]``.
    Cut ``[a, b]`` into cells, each holding the points nearer to one sample
    than to the others (widths ``w_k``). Then the difference is at most
    ``|covered - (b - a)| * max m`` (the stretch the rule assumes) plus
    ``sum_k w_k * (range of m over cell k and t_k)`` (a sample stands for its
    cell) plus ``range of m(t_k) / 2 * sum_k |(b - a) / n - w_k|`` (equal weights
    for unequal cells). A container that ran between two samples is unseen.
    """
    interval = median_interval(containers, begin, end)
    bound = 0.0
    for c in containers:
        span = c.alive(begin, end)
        if span is None:
            continue
        a, b = span
        found = in_window(c, begin, end)
        if not found:
            bound += _local(c.mem, a, b)[1] * (b - a)
            continue
        times = [t for t, _, _ in found]
        sampled = [m for _, _, m in found]
        bound += abs(covered(c, begin, end, interval) - (b - a)) * _local(c.mem, a, b)[1]
        edges = [a, *((x + y) / 2 for x, y in itertools.pairwise(times)), b]
        for k, t in enumerate(times):
            lo, hi = min(edges[k], t), max(edges[k + 1], t)
            low, high = _local(c.mem, lo, hi)
            bound += (edges[k + 1] - edges[k]) * (high - low)
        irregular = sum(abs((b - a) / len(times) - (y - x)) for x, y in itertools.pairwise(edges))
        bound += (max(sampled) - min(sampled)) / 2 * irregular
    return bound / (end - begin)
