"""Cost projections: the worked example by hand, intervals from the runs, and monotonicity."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.cost import (
    Fleet,
    RunFigures,
    check_fleet,
    estimate,
    project,
    run_figures,
    run_projections,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "meshmark.md"
FLEET = Fleet(rps=10_000, pods=200, clusters=3, usd_per_vcpu_hour=0.0316, usd_per_gib_hour=0.0042)


def figures(*runs: tuple[float, float, float, float, float]) -> RunFigures:
    columns = list(zip(*runs, strict=True))
    return RunFigures(*(np.array(c, dtype=np.float64) for c in columns))


def test_the_worked_example_by_hand() -> None:
    # One run: 500 mCores per 1k rps in sidecars and gateways, a 50 mCores control plane,
    # 40 MiB per proxy, 600 MiB of gateways and control plane, 2.9 ms added at p99.
    one = figures((500.0, 50.0, 40.0, 600.0, 2.9))

    per_run = run_projections(one, FLEET)

    vcpu = (500 * 10_000 / 1000 + 50 * 3) / 1000  # 5.15 vCPU
    gib = (40 * 200 + 600 * 3) / 1024  # 9.5703 GiB
    usd = (vcpu * 0.0316 + gib * 0.0042) * 730  # $148.14 a month
    assert per_run["vcpu"][0] == pytest.approx(vcpu)
    assert per_run["gib"][0] == pytest.approx(gib)
    assert per_run["usd_per_month"][0] == pytest.approx(usd)
    assert round(usd, 2) == 148.14
    assert "$148.14" in DOC.read_text()  # the doc's worked example shows this number


def test_a_faster_fleet_spends_fewer_vcpus_and_adds_less_latency() -> None:
    one = figures((500.0, 50.0, 40.0, 600.0, 2.9))
    fast = replace(FLEET, calibration_score=1250.0)  # 1.25 times the reference machine

    per_run = run_projections(one, fast)

    assert per_run["vcpu"][0] == pytest.approx(5.15 / 1.25)
    assert per_run["added_p99_ms"][0] == pytest.approx(2.9 / 1.25)
    assert per_run["gib"][0] == pytest.approx(run_projections(one, FLEET)["gib"][0])


def test_the_interval_comes_from_the_runs_spread() -> None:
    tight = figures(*[(500.0 + i, 50.0, 40.0, 600.0, 2.9) for i in range(10)])
    loose = figures(*[(400.0 + 25 * i, 50.0, 40.0, 600.0, 2.9) for i in range(10)])

    a, b = project(tight, FLEET), project(loose, FLEET)

    assert a.usd_per_month is not None and b.usd_per_month is not None
    assert a.usd_per_month.low < a.usd_per_month.median < a.usd_per_month.high
    width = a.usd_per_month.high - a.usd_per_month.low
    assert b.usd_per_month.high - b.usd_per_month.low > 5 * width
    assert a.usd_per_month.n == 10


def test_one_run_gives_a_figure_without_an_interval() -> None:
    projection = project(figures((500.0, 50.0, 40.0, 600.0, 2.9)), FLEET)

    assert projection.vcpu is not None
    assert projection.vcpu.median == pytest.approx(5.15)
    assert projection.vcpu.low is None and projection.vcpu.high is None
    assert projection.vcpu.n == 1


def test_runs_without_a_figure_are_left_out_of_it_and_counted() -> None:
    runs = figures(
        (500.0, 50.0, 40.0, 600.0, 2.9),
        (math.nan, math.nan, 41.0, 600.0, 3.0),  # no data-plane CPU, no control plane
        (510.0, math.nan, math.nan, math.nan, 3.1),
    )

    projection = project(runs, FLEET)

    assert projection.runs == 3 and projection.runs_without_control_plane == 2
    assert projection.vcpu is not None and projection.vcpu.n == 2
    assert projection.gib is not None and projection.gib.n == 2
    assert projection.usd_per_month is not None and projection.usd_per_month.n == 1
    assert projection.added_p99_ms is not None and projection.added_p99_ms.n == 3
    assert estimate([math.nan]) is None


def test_run_figures_split_the_data_plane_from_the_control_plane() -> None:
    got = run_figures(
        sidecar_mcores=[420.0, 420.0],
        gateway_mcores=[130.0, math.nan],
        control_plane_mcores=[50.0, math.nan],
        sidecar_mem_mb=[212.0, 212.0],
        sidecar_count=[4, 0],
        gateway_mem_mb=[70.0, math.nan],
        control_plane_mem_mb=[118.0, math.nan],
        actual_qps=[990.0, 990.0],
        calibration_factor=[1.25, math.nan],
        added_p99_ms=[1.0, 0.8],
    )

    # The worked example of section 8: (420 + 130) / 0.990 * 1.25 = 694.44 per 1k rps.
    assert got.dataplane_mcores_per_1k_rps[0] == pytest.approx(550 / 0.990 * 1.25)
    assert got.dataplane_mcores_per_1k_rps[1] == pytest.approx(420 / 0.990)  # f read as 1
    assert got.control_plane_mcores[0] == pytest.approx(62.5)
    assert math.isnan(got.control_plane_mcores[1])
    assert got.mem_mb_per_proxy[0] == pytest.approx(53.0)
    assert math.isnan(got.mem_mb_per_proxy[1])  # no sidecars counted
    assert got.fixed_mem_mb[0] == pytest.approx(188.0)
    assert math.isnan(got.fixed_mem_mb[1])


def test_a_bad_fleet_is_named_field_by_field() -> None:
    bad = Fleet(rps=-1, pods=math.nan, clusters=1, usd_per_vcpu_hour=0.03,
                usd_per_gib_hour=math.inf, calibration_score=0)  # fmt: skip

    assert [field for field, _ in check_fleet(bad)] == [
        "rps",
        "pods",
        "usd_per_gib_hour",
        "calibration_score",
    ]
    assert check_fleet(FLEET) == []


# Properties: more of any fleet input or any overhead never lowers the cost.

figure = st.floats(min_value=0, max_value=5000, allow_nan=False)
run = st.tuples(figure, figure, figure, figure, st.floats(-5, 50, allow_nan=False))
fleets = st.builds(
    Fleet,
    rps=st.floats(0, 1e6),
    pods=st.floats(0, 1e5),
    clusters=st.floats(0, 100),
    usd_per_vcpu_hour=st.floats(0, 1),
    usd_per_gib_hour=st.floats(0, 1),
    calibration_score=st.one_of(st.none(), st.floats(100, 5000)),
)
FLEET_INPUTS = ("rps", "pods", "clusters", "usd_per_vcpu_hour", "usd_per_gib_hour")
COSTS = ("vcpu", "gib", "usd_per_month")
PROPERTY = settings(max_examples=150, deadline=None)


def bounds(projection: object, name: str) -> tuple[float, float, float]:
    value = getattr(projection, name)
    assert value is not None
    low = value.low if value.low is not None else value.median
    high = value.high if value.high is not None else value.median
    return value.median, low, high


def at_least(after: tuple[float, ...], before: tuple[float, ...]) -> bool:
    return all(a >= b - 1e-9 * max(1.0, abs(b)) for a, b in zip(after, before, strict=True))


@PROPERTY
@given(st.lists(run, min_size=1, max_size=12), fleets, st.sampled_from(FLEET_INPUTS),
       st.floats(0, 1e4))  # fmt: skip
def test_cost_never_falls_when_a_fleet_input_grows(
    runs: list[tuple[float, ...]], fleet: Fleet, name: str, more: float
) -> None:
    before = project(figures(*runs), fleet)  # type: ignore[arg-type]
    after = project(figures(*runs), replace(fleet, **{name: getattr(fleet, name) + more}))  # type: ignore[arg-type]

    for cost in COSTS:
        assert at_least(bounds(after, cost), bounds(before, cost)), cost


@PROPERTY
@given(st.lists(run, min_size=1, max_size=12), fleets, st.data())
def test_cost_never_falls_when_an_overhead_figure_grows(
    runs: list[tuple[float, ...]], fleet: Fleet, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(runs) - 1))
    column = data.draw(st.integers(0, 3))  # the four resource figures
    more = data.draw(st.floats(0, 1e4))
    grown = [list(r) for r in runs]
    grown[index][column] += more

    before = project(figures(*runs), fleet)  # type: ignore[arg-type]
    after = project(figures(*[tuple(r) for r in grown]), fleet)  # type: ignore[arg-type]

    for cost in COSTS:
        assert at_least(bounds(after, cost), bounds(before, cost)), cost


@PROPERTY
@given(st.lists(run, min_size=1, max_size=12), fleets, st.floats(1, 5000))
def test_faster_machines_never_cost_more(
    runs: list[tuple[float, ...]], fleet: Fleet, faster: float
) -> None:
    slow = replace(fleet, calibration_score=fleet.calibration_score or 1000.0)
    assert slow.calibration_score is not None
    fast = replace(slow, calibration_score=slow.calibration_score + faster)

    before = project(figures(*runs), slow)  # type: ignore[arg-type]
    after = project(figures(*runs), fast)  # type: ignore[arg-type]

    for cost in ("vcpu", "usd_per_month"):
        assert at_least(bounds(before, cost), bounds(after, cost)), cost
