"""The runner's Prometheus figures, evaluated by a real Prometheus over cAdvisor-shaped series.

The series are written by the test (``cadvisor_model``): a phase's namespace
with the application, the load generator and their injected proxies, the
pause (``POD``) and pod-cgroup (``""``) series cAdvisor reports beside them and
the ``istio-init`` init containers; the baseline namespace still running; the
control planes (istiod, and Linkerd's pods of several containers each); a
warm-up and a cool-down at other levels than the measured
window; a sidecar that restarts (its counter drops to zero) and an application
pod replaced by a new one inside the window, the old one's series simply
ending (cAdvisor's samples carry timestamps, so Prometheus writes no staleness
marker for them). Samples are 15 s apart, each off by up to 1 s; a last
scenario has them 30 s apart against a 50 s window.

Every figure the runner records is checked twice:

* against PromQL's documented rules applied by the test to the samples it
  wrote (``promql_rate``, ``rules_memory``, ``rules_pods``): these must agree to
  the runner's rounding (0.01), so a changed query (irate, a matcher that
  admits ``POD``, ``""`` or ``istio-init``, another window, ``avg`` for
  ``sum``) fails;
* against the truth, what the containers really used over the window the
  runner means, within a bound the test derives from the same rules: they only
  misjudge the stretches between a window edge, a start, a stop or a restart
  and the nearest sample (``cpu_error_bound_s``, ``memory_error_bound``).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner import k8s
from runner.meshes import MESHES
from runner.prom import Usage, prometheus_usage
from smp.submission import read_submission

from . import cadvisor_model as model
from .cadvisor_model import Container
from .fake_kube import FakeApiServer
from .real_prometheus import OpenMetrics, create_blocks, prometheus_server, query
from .test_kubernetes_mode import healthy_cluster, run_k8s

pytestmark = pytest.mark.slow

MIB = 1048576.0
T0 = 1714564800  # 2024-05-01T12:00:00Z: the fake cluster's load containers run 12:00:00-12:01:00
EVERY_S, JITTER_S = 15.0, 1.0
ISTIO = MESHES["istio"]
PROXY_IMAGE = "docker.io/istio/proxyv2:1.24.1"
PAUSE_IMAGE = "registry.k8s.io/pause:3.9"


@dataclass(frozen=True)
class Run:
    """One load run: the load container's start and finish, and the runner's warm-up."""

    started: float
    finished: float
    warmup_s: float

    @property
    def window(self) -> tuple[float, float]:
        """What PromQL evaluates: ``[end - W, end]``, ``end`` 5 s before the load finished and
        ``W`` the trimmed run rounded to whole seconds (docs/runner.md)."""
        end = self.finished - 5.0
        return end - round(end - (self.started + self.warmup_s)), end

    def datetimes(self) -> tuple[dt.datetime, dt.datetime]:
        start = dt.datetime.fromtimestamp(self.started + self.warmup_s, dt.UTC)
        return start, dt.datetime.fromtimestamp(self.finished - 5.0, dt.UTC)

    def shape(self, idle: float, warm: float, steady: float, cool: float) -> Callable[[int], float]:
        """A level per second: idle before and after the load, ``warm`` during the warm-up,
        ``cool`` in the last 5 s of the load (the cool-down), ``steady`` between."""

        def level(second: int) -> float:
            if second < self.started or second >= self.finished:
                return idle
            if second < self.started + self.warmup_s:
                return warm
            return cool if second >= self.finished - 5.0 else steady

        return level


def noisy(
    shape: Callable[[int], float], spread: float, rng: random.Random
) -> Callable[[int], float]:
    """``shape`` times a factor drawn from ``1 ± spread`` for each second (whoever asks first)."""
    seed = rng.getrandbits(32)

    @functools.cache
    def value(second: int) -> float:
        draw = random.Random(seed * 1_000_003 + second).uniform(-spread, spread)
        return shape(second) * (1.0 + draw)

    return value


def ramp(start: float, seconds: float, low: float, high: float) -> Callable[[int], float]:
    return lambda s: low + (high - low) * min(1.0, max(0.0, (s - start) / seconds))


def mib(value: float) -> float:
    return value * MIB


@dataclass
class Pod:
    """The containers of one pod scraped at the same times, with its pause and cgroup series."""

    namespace: str
    name: str
    born: float
    died: float
    containers: list[Container]

    def all_series(self, rng: random.Random) -> list[Container]:
        pause = Container(
            self.namespace, self.name, "POD", self.born, self.died,
            noisy(lambda s: 0.0004, 0.5, rng), noisy(lambda s: mib(0.6), 0.01, rng), PAUSE_IMAGE,
        )  # fmt: skip
        parts = [*self.containers, pause]

        def running(c: Container, s: int) -> bool:
            return c.born <= s < c.died

        cgroup = Container(
            self.namespace, self.name, "", self.born, self.died,
            lambda s: sum(c.cpu(s) for c in parts if running(c, s)),
            lambda s: sum(c.mem(s) for c in parts if running(c, s)),
            counter_at_born=sum(c.counter_at_born for c in parts),
        )  # fmt: skip
        return [*parts, cgroup]


def build(pods: list[Pod], rng: random.Random, every: float = EVERY_S) -> list[Container]:
    """Every series of ``pods``, sampled at each pod's scrape times: ``every`` s apart, the
    first 1-4 s after the pod starts (cAdvisor finds a new cgroup at once), while its init
    container still runs."""
    out: list[Container] = []
    for pod in pods:
        series = pod.all_series(rng)
        first = pod.born + rng.uniform(1.0, 4.0)
        times = model.scrape_times(first, pod.died, every, JITTER_S, rng)
        for container in series:
            model.sample(container, times)
        out.extend(series)
    return out


# -- the scenarios -----------------------------------------------------------------------------

LONG = Run(started=T0 + 3660, finished=T0 + 4260, warmup_s=60.0)
"""Ten minutes of load an hour after T0, with a minute's warm-up: the window is 535 s."""
PROFILE = Run(started=T0, finished=T0 + 60, warmup_s=5.0)
"""The fake cluster's run (http-100: 60 s, 5 s warm-up): the window is 50 s."""
RUN_ID = "20240501t120000-0020"
LONG_MESH, LONG_BASELINE, COARSE = "smp-long-mesh", "smp-long-baseline", "smp-coarse-mesh"
OLD_APP, NEW_APP, LOAD = "smp-app-7c9d4-q9z8x", "smp-app-7c9d4-k4m2n", "smp-load-x7k2p"
FORTIO = "fortio/fortio:1.57.3"


class Phase:
    """The pods around one run: the mesh phase's and the baseline phase's (still running)."""

    def __init__(self, run: Run, rng: random.Random) -> None:
        self.run, self.rng = run, rng
        self.since, self.until = run.started - 60.0, run.finished + 60.0

    def app(self, ns: str, pod: str, born: float, died: float) -> Container:
        busy = self.run.shape(0.002, 0.2, 0.15, 0.08)
        return Container(
            ns, pod, "app", born, died, noisy(busy, 0.1, self.rng),
            noisy(lambda s: mib(30), 0.01, self.rng), FORTIO,
            counter_at_born=25.0 if born <= self.since else 0.0,
        )  # fmt: skip

    def init(self, ns: str, pod: str, born: float) -> Container:
        """istio-init: 6 s of iptables setup before the proxy starts."""
        return Container(
            ns, pod, "istio-init", born, born + 6.0, noisy(lambda s: 0.25, 0.1, self.rng),
            noisy(lambda s: mib(18), 0.01, self.rng), PROXY_IMAGE,
        )  # fmt: skip

    def proxy(self, ns: str, pod: str, born: float, died: float, steady: float,
              restart: float | None = None) -> Container:  # fmt: skip
        """An istio-proxy: busier in the warm-up (connections, TLS) and right after it starts,
        its working set growing to ~48 MiB; a restart drops its counter to zero and its working
        set to 25 MiB, from which it grows again."""
        busy = noisy(self.run.shape(0.003, steady * 1.4, steady, steady * 0.5), 0.1, self.rng)
        starts = [born] + ([restart] if restart is not None else [])
        grow = [ramp(t, 30.0, mib(25), mib(48)) for t in starts]

        def cpu(second: int) -> float:
            return 0.3 if any(t <= second < t + 6 for t in starts) else busy(second)

        def working_set(second: int) -> float:
            return (
                grow[-1](second) if restart is not None and second >= restart else grow[0](second)
            )

        older = born <= self.since
        return Container(
            ns, pod, "istio-proxy", born, died, cpu if not older else busy,
            noisy(working_set if not older else ramp(self.run.started, 60.0, mib(40), mib(48)),
                  0.01, self.rng),
            PROXY_IMAGE, resets=(restart,) if restart is not None else (),
            counter_at_born=40.0 if older else 0.0,
        )  # fmt: skip

    def pods(self, mesh_ns: str, baseline_ns: str, *, replace_app_at: float | None,
             restart_load_proxy_at: float) -> list[Pod]:  # fmt: skip
        run, since, until = self.run, self.since, self.until
        gone = until if replace_app_at is None else replace_app_at
        pods = [
            Pod(mesh_ns, OLD_APP, since, gone, [
                self.app(mesh_ns, OLD_APP, since, gone),
                self.proxy(mesh_ns, OLD_APP, since, gone, steady=0.10),
            ]),
        ]  # fmt: skip
        if replace_app_at is not None:  # evicted; its Deployment starts another pod at once
            born = replace_app_at + 3.0
            pods.append(Pod(mesh_ns, NEW_APP, born, until, [
                self.init(mesh_ns, NEW_APP, born),
                self.proxy(mesh_ns, NEW_APP, born + 6.0, until, steady=0.10),
                self.app(mesh_ns, NEW_APP, born + 8.0, until),
            ]))  # fmt: skip
        born = run.started - 10.0
        pods.append(Pod(mesh_ns, LOAD, born, until, [
            self.init(mesh_ns, LOAD, born),
            self.proxy(mesh_ns, LOAD, born + 6.0, until, steady=0.07,
                       restart=restart_load_proxy_at),
            Container(
                mesh_ns, LOAD, "load", run.started, run.finished,
                noisy(run.shape(0.0, 0.4, 0.4, 0.2), 0.1, self.rng),
                noisy(lambda s: mib(60), 0.01, self.rng), FORTIO,
            ),
        ]))  # fmt: skip
        name = "smp-app-5b6c7-w2x4v"
        pods.append(Pod(baseline_ns, name, since, until, [
            Container(
                baseline_ns, name, "app", since, until, noisy(lambda s: 0.002, 0.3, self.rng),
                noisy(lambda s: mib(28), 0.01, self.rng), FORTIO, counter_at_born=12.0,
            ),
        ]))  # fmt: skip
        return pods


def control_plane(rng: random.Random) -> Pod:
    """istiod across all scenarios, busy for 5 s every minute (configuration pushes)."""
    born, died, name = float(T0 - 120), float(T0 + 4400), "istiod-5f4d9-abcde"
    discovery = Container(
        "istio-system", name, "discovery", born, died,
        noisy(lambda s: 0.08 if s % 60 < 5 else 0.02, 0.1, rng),
        noisy(lambda s: mib(120), 0.01, rng), "docker.io/istio/pilot:1.24.1",
        counter_at_born=600.0,
    )  # fmt: skip
    return Pod("istio-system", name, born, died, [discovery])


def linkerd_control_plane(rng: random.Random) -> list[Pod]:
    """Linkerd's control plane during the long run: meshed pods of several containers each
    (the destination pod has four), so its count is of pods, not containers."""
    born, died = LONG.started - 120.0, LONG.finished + 60.0
    pods = {
        "linkerd-destination-6c8d9-h7k2l": ("destination", "sp-validator", "policy"),
        "linkerd-identity-5f6b8-p3q4r": ("identity",),
        "linkerd-proxy-injector-7d9f6-s5t6u": ("proxy-injector",),
    }
    out = []
    for pod, names in pods.items():
        containers = [
            Container(
                "linkerd", pod, name, born, died, noisy(lambda s: 0.004, 0.2, rng),
                noisy(lambda s: mib(25), 0.01, rng), f"cr.l5d.io/linkerd/{name}:stable-2.14.10",
                counter_at_born=30.0,
            )
            for name in (*names, "linkerd-proxy")
        ]  # fmt: skip
        out.append(Pod("linkerd", pod, born, died, containers))
    return out


@dataclass
class Data:
    url: str
    series: list[Container]

    def select(self, namespace: str, *containers: str) -> list[Container]:
        return [c for c in self.series if c.namespace == namespace and c.name in containers]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Data]:
    rng = random.Random(20)
    long = Phase(LONG, rng).pods(
        LONG_MESH, LONG_BASELINE,
        replace_app_at=LONG.started + 340, restart_load_proxy_at=LONG.started + 240,
    )  # fmt: skip
    profile = Phase(PROFILE, rng).pods(
        f"smp-{RUN_ID}-mesh", f"smp-{RUN_ID}-baseline",
        replace_app_at=None, restart_load_proxy_at=PROFILE.started + 30,
    )  # fmt: skip
    coarse = Phase(PROFILE, rng).pods(
        COARSE,
        "smp-coarse-baseline",
        replace_app_at=None,
        restart_load_proxy_at=PROFILE.started + 30,
    )
    series = build([*long, *profile, control_plane(rng), *linkerd_control_plane(rng)], rng)
    series += build(coarse, rng, every=30.0)
    text = OpenMetrics()
    for c in series:
        text.add(model.CPU, "counter", c.labels, [(t, v) for t, v, _ in c.samples])
        text.add(model.MEMORY, "gauge", c.labels, [(t, m) for t, _, m in c.samples])
    storage = tmp_path_factory.mktemp("prometheus") / "tsdb"
    create_blocks(text.text(), storage)
    with prometheus_server(storage) as url:
        yield Data(url, series)


# -- the checks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """A block's figures by PromQL's rules, the truth, and how far apart the rules allow."""

    cpu_mcores: float
    true_cpu_mcores: float
    cpu_bound: float
    mem_mb: float
    true_mem_mb: float
    mem_bound: float
    count: int
    true_count: float

    @classmethod
    def of(cls, containers: list[Container], begin: float, end: float) -> Expected:
        """From the samples ``containers`` wrote and what they did, over ``[begin, end]``."""
        length = end - begin
        rates = [model.promql_rate(c, begin, end) for c in containers]
        return cls(
            cpu_mcores=1000 * sum(r for r in rates if r is not None),
            true_cpu_mcores=1000 * model.true_cpu_s(containers, begin, end) / length,
            cpu_bound=1000
            * sum(model.cpu_error_bound_s(c, begin, end) for c in containers)
            / length,
            mem_mb=model.rules_memory(containers, begin, end) / MIB,
            true_mem_mb=model.true_memory(containers, begin, end) / MIB,
            mem_bound=model.memory_error_bound(containers, begin, end) / MIB,
            count=model.rules_pods(containers, begin, end),
            true_count=model.true_pods(containers, begin, end),
        )


ROUNDING = 0.006  # the runner rounds to 0.01


def assert_figures(
    block: str, count: int | None, cpu: float | None, mem: float | None, expected: Expected
) -> None:
    """The runner's figures are PromQL's (to its rounding) and the truth's (within the bound)."""
    assert cpu is not None and mem is not None, block
    assert cpu == pytest.approx(expected.cpu_mcores, abs=ROUNDING), (block, expected)
    assert mem == pytest.approx(expected.mem_mb, abs=ROUNDING), (block, expected)
    assert count == expected.count == round(expected.true_count), (block, expected)
    assert abs(cpu - expected.true_cpu_mcores) <= expected.cpu_bound + ROUNDING, (block, expected)
    assert abs(mem - expected.true_mem_mb) <= expected.mem_bound + ROUNDING, (block, expected)


def assert_block(usage: Usage, block: str, expected: Expected) -> None:
    figures = usage.blocks[block]
    assert_figures(block, figures.count, figures.cpu_mcores, figures.mem_mb, expected)


def test_a_mesh_phase_gives_promqls_figures_and_the_containers_real_usage(data: Data) -> None:
    usage = prometheus_usage(data.url, ISTIO, LONG_MESH, *LONG.datetimes())
    assert usage.warnings == []
    assert set(usage.blocks) == {"sidecar", "app", "control_plane"}
    sidecars = Expected.of(data.select(LONG_MESH, "istio-proxy"), *LONG.window)
    assert_block(usage, "sidecar", sidecars)
    assert_block(usage, "app", Expected.of(data.select(LONG_MESH, "app"), *LONG.window))
    assert_block(
        usage, "control_plane", Expected.of(data.select("istio-system", "discovery"), *LONG.window)
    )
    # The bounds are tight enough to mean something: a few percent of the figures.
    assert sidecars.cpu_bound < 0.1 * sidecars.true_cpu_mcores
    assert sidecars.mem_bound < 0.1 * sidecars.true_mem_mb


def test_a_baseline_phase_has_only_its_application(data: Data) -> None:
    usage = prometheus_usage(data.url, None, LONG_BASELINE, *LONG.datetimes())
    assert set(usage.blocks) == {"app"} and usage.warnings == []
    assert_block(usage, "app", Expected.of(data.select(LONG_BASELINE, "app"), *LONG.window))


def test_the_window_is_rounded_to_whole_seconds(data: Data) -> None:
    """A warm-up leaving ``X.6`` s makes PromQL evaluate ``X + 1`` s: here the extra 0.4 s
    before the runner's start holds the first sample of a sidecar, which must count."""
    proxies = data.select(LONG_MESH, "istio-proxy")
    end = LONG.finished - 5.0
    first = min(t for c in proxies for t, _, _ in c.samples if t > LONG.started + 62)
    whole = math.floor(end - first)
    run = Run(LONG.started, LONG.finished, warmup_s=end - whole - 0.6 - LONG.started)
    assert run.window[0] <= first < run.window[0] + 0.4
    usage = prometheus_usage(data.url, ISTIO, LONG_MESH, *run.datetimes())
    assert_block(usage, "sidecar", Expected.of(proxies, *run.window))


def test_a_control_plane_of_meshed_many_container_pods_counts_its_pods(data: Data) -> None:
    usage = prometheus_usage(data.url, MESHES["linkerd"], LONG_MESH, *LONG.datetimes())
    assert set(usage.blocks) == {"app", "control_plane"}  # no linkerd-proxy in this phase
    containers = [c for c in data.series if c.namespace == "linkerd" and c.name not in ("", "POD")]
    assert len(containers) == 8
    expected = Expected.of(containers, *LONG.window)
    assert expected.count == 3
    assert_block(usage, "control_plane", expected)


def test_the_data_hold_the_traps_canned_answers_hide(data: Data) -> None:
    """The series really have what the figures must survive, and the old queries fall into it."""
    begin, end = LONG.window
    w = f"[{round(end - begin)}s]"
    in_ns = f'namespace="{LONG_MESH}"'
    # A restarted sidecar: its counter drops to zero once in the window.
    selector = f'{in_ns},pod="{LOAD}",container="istio-proxy"'
    [restarted] = query(data.url, f"resets({model.CPU}{{{selector}}}{w})", end)
    assert restarted["value"][1] == "1"  # type: ignore[index]
    # cAdvisor reports the pause container, the pod's cgroup and init containers too.
    present = query(
        data.url, f"count by (container) (count_over_time({model.MEMORY}{{{in_ns}}}{w}))", end
    )
    # (Prometheus drops empty labels: the pod's cgroup series has no container label at all.)
    containers = {r["metric"].get("container", "") for r in present}  # type: ignore[attr-defined]
    assert {"POD", "", "istio-init", "istio-proxy", "app", "load"} <= containers
    # The evicted pod's series ends 255 s before the window does, yet an instant selector
    # still returns its last value: no staleness marker for samples with timestamps.
    gone = query(data.url, f'{model.MEMORY}{{{in_ns},pod="{OLD_APP}",container="app"}}', end)
    assert len(gone) == 1
    # So the previous queries counted the replaced application twice.
    app = Expected.of(data.select(LONG_MESH, "app"), *LONG.window)
    old_mem = f'sum(avg_over_time({model.MEMORY}{{{in_ns},container="app"}}{w})) / 1048576'
    [answer] = query(data.url, old_mem, end)
    assert float(answer["value"][1]) > 1.8 * app.true_mem_mb  # type: ignore[index]
    old_count = (
        f'count(count by (pod) (max_over_time({model.MEMORY}{{{in_ns},container="app"}}{w})))'
    )
    [answer] = query(data.url, old_count, end)
    assert answer["value"][1] == "2" and round(app.true_count) == 1  # type: ignore[index]


def test_samples_over_half_the_window_apart_leave_cpu_out(data: Data) -> None:
    """30 s scrapes in a 50 s window: a container has one or two samples there, so its rate is
    missing or rough; the runner records no CPU rather than a partial sum, and says why."""
    usage = prometheus_usage(data.url, ISTIO, COARSE, *PROFILE.datetimes())
    sidecar = usage.blocks["sidecar"]
    assert sidecar.cpu_mcores is None and usage.blocks["app"].cpu_mcores is None
    assert any("no sidecar CPU" in w and "a rate needs two" in w for w in usage.warnings), (
        usage.warnings
    )
    begin, end = PROFILE.window
    proxies = data.select(COARSE, "istio-proxy")
    assert sidecar.mem_mb == pytest.approx(
        model.rules_memory(proxies, begin, end) / MIB, abs=ROUNDING
    )
    assert sidecar.count == 2


def test_the_cli_records_what_prometheus_says_the_containers_used(
    data: Data, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`smp-runner run --prometheus URL` end to end: the fake cluster's pods ran 12:00:00-12:01:00,
    the real Prometheus holds their series; the bundle carries the figures."""
    monkeypatch.setattr(k8s, "new_run_id", lambda: RUN_ID)
    with FakeApiServer(healthy_cluster()) as api:
        result, out = run_k8s(api, tmp_path, "--prometheus", data.url)
    assert result.exit_code == 0, result.output
    report = read_submission(out.read_bytes(), native_alone=True)
    assert report.ok and report.bundle is not None
    baseline, mesh = report.bundle.runs
    mesh_ns, baseline_ns = f"smp-{RUN_ID}-mesh", f"smp-{RUN_ID}-baseline"
    assert mesh.resources is not None and baseline.resources is not None
    for block, figures, containers in (
        ("sidecar", mesh.resources.sidecar, data.select(mesh_ns, "istio-proxy")),
        ("control_plane", mesh.resources.mesh_control_plane,
         data.select("istio-system", "discovery")),
    ):  # fmt: skip
        assert figures is not None
        expected = Expected.of(containers, *PROFILE.window)
        assert_figures(block, figures.count, figures.cpu_mcores, figures.mem_mb, expected)
    for run, ns in ((mesh, mesh_ns), (baseline, baseline_ns)):
        [app] = run.resources.workloads  # type: ignore[union-attr]
        expected = Expected.of(data.select(ns, "app"), *PROFILE.window)
        assert_figures("app", app.count, app.cpu_mcores, app.mem_mb, expected)
    assert baseline.resources.sidecar is None and baseline.resources.mesh_control_plane is None
