"""Real-world mode: a workload drawn at random from documented distributions.

A fixed request pattern (one path, one size, one request every 1/rate s) can be
tuned for. ``smp-runner run --profile ID --real-world [--seed N]`` runs the
profile's real-world variant (``real_world_of`` in smp/data/profiles.yaml) with
its load drawn by this module from the seed, so the same seed replays the same
run exactly and no two contributors need run the same pattern. Model ``rw-1``
(docs/meshmark.md, "Capacity, churn and real-world mode"):

* **arrivals**: the run is cut into 1-second intervals; each interval's rate is
  the mean rate times a factor drawn from a log-normal of mean 1 (sigma
  ARRIVAL_SIGMA), multiplied by BURST_FACTOR in a share BURST_SHARE of the
  intervals (bursts); the factors are scaled so that their mean is exactly 1, the
  interval counts are drawn multinomially from them (the total is exactly the
  profile's rate times the duration), and the send times are uniform within each
  interval (Poisson arrivals, given the count);
* **paths**: PATHS paths ``/api/r<i>``, requested with Zipf popularity (exponent
  ZIPF_S: the first path about 31% of the requests, the last about 1%);
* **sizes**: each path answers its own response size, drawn once per seed from
  a log-normal with median SIZE_MEDIAN bytes (sigma SIZE_SIGMA), bounded to
  [SIZE_MIN, SIZE_MAX]; the path asks for it with ``?size=N`` (the local
  application honours it; on a cluster, fortio's echo server does too).

The warm-up is drawn the same way, before the measured part.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np

from runner.loadgen import Plan

MODEL = "rw-1"
ARRIVAL_SIGMA = 0.5
BURST_SHARE = 0.05
BURST_FACTOR = 3.0
PATHS = 20
ZIPF_S = 1.1
SIZE_MEDIAN = 1024
SIZE_SIGMA = 1.2
SIZE_MIN = 64
SIZE_MAX = 64 * 1024
SEED_LABEL = "realworld.seed"
MODEL_LABEL = "realworld.model"


def new_seed() -> int:
    return secrets.randbits(32)


@dataclass(frozen=True)
class Workload:
    """What a seed drew: the plan the generator follows, and a summary for the record."""

    seed: int
    plan: Plan
    sizes: tuple[int, ...]
    """Each path's response size, path ``/api/r<i>`` at index i."""
    path_shares: tuple[float, ...]
    """Each path's share of the requests (its Zipf weight)."""

    def labels(self) -> dict[str, str]:
        return {SEED_LABEL: str(self.seed), MODEL_LABEL: MODEL}

    @property
    def peak_rate(self) -> float:
        """The most requests any 1-second interval asks for."""
        times = np.asarray(self.plan.times)
        counts = np.bincount(times.astype(np.int64))
        return float(counts.max()) if counts.size else 0.0


def draw(seed: int, rate: float, duration_s: float, warmup_s: float) -> Workload:
    """The workload of ``seed`` at mean ``rate`` for ``warmup_s`` + ``duration_s``."""
    rng = np.random.Generator(np.random.PCG64(seed))
    sizes = np.clip(
        np.rint(SIZE_MEDIAN * np.exp(rng.normal(0.0, SIZE_SIGMA, PATHS))), SIZE_MIN, SIZE_MAX
    ).astype(np.int64)
    weights = 1.0 / np.arange(1, PATHS + 1) ** ZIPF_S
    shares = weights / weights.sum()
    warm_times = _arrivals(rng, rate, warmup_s) if warmup_s > 0 else np.empty(0)
    measured = _arrivals(rng, rate, duration_s) + warmup_s
    times = np.concatenate([warm_times, measured])
    picks = rng.choice(PATHS, size=times.size, p=shares)
    paths = tuple(f"/api/r{i}?size={sizes[i]}" for i in range(PATHS))
    plan = Plan(
        times=tuple(float(t) for t in times),
        paths=tuple(paths[i] for i in picks),
        warm_slots=int(warm_times.size),
    )
    return Workload(
        seed=seed,
        plan=plan,
        sizes=tuple(int(s) for s in sizes),
        path_shares=tuple(float(s) for s in shares),
    )


def _arrivals(rng: np.random.Generator, rate: float, seconds: float) -> np.ndarray:
    """Sorted send times in [0, seconds): exactly round(rate * seconds) of them."""
    intervals = max(1, int(np.ceil(seconds)))
    factors = np.exp(rng.normal(-(ARRIVAL_SIGMA**2) / 2, ARRIVAL_SIGMA, intervals))
    factors[rng.random(intervals) < BURST_SHARE] *= BURST_FACTOR
    # The last interval may be partial: weigh it by the time it has.
    lengths = np.minimum(1.0, seconds - np.arange(intervals))
    weights = factors * lengths
    total = max(1, round(rate * seconds))
    counts = rng.multinomial(total, weights / weights.sum())
    starts = np.repeat(np.arange(intervals, dtype=float), counts)
    spans = np.repeat(lengths, counts)
    return np.sort(starts + rng.random(total) * spans)
