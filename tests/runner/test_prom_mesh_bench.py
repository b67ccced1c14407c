"""The runner's Prometheus figures over series shaped like the 2022 mesh-bench study's.

The study (``../shared/real-data/mesh-bench``, see its SOURCES.md) ran fortio for
15 minutes per configuration on a one-node GKE cluster and saved, per run, the
answer of a Prometheus range query at a 3 s step for each pod and container:
``cpu_*.json`` holds ``sum by (pod, container) (rate(
container_cpu_usage_seconds_total[1m]))``, in cores (the thesis, section 5.1).
The files are read here at run time; nothing of them is copied.

Those values give the counters back: a 1-minute rate taken every 60 s from the
start of a dump is the counter's increase over that minute divided by 60, so
the minutes telescope into the counter (within a minute it is spread evenly).
The counters keep the study's levels and their minute-to-minute variation; the
test samples them every 15 s, each sample off by up to 1 s, as cAdvisor does
(the study's 1-minute rates change about every 10 s, so its own samples came
about that often, at irregular times). Each run's window is what the runner
takes for a run of that length: 5 s trimmed at each end.

The ``mem_*.json`` files are not memory: the study's memory query applies
``rate()`` to the working-set gauge, so its values are bytes per second of
apparent growth (every drop counted as a counter reset), not a working set.
The working sets written here are flat levels, checked against the rules only.

The runner's figures must be PromQL's (to its rounding) and the counters' true
usage over the window (within the bound ``cadvisor_model`` derives), and are
compared with the study's own summary of a run, the mean of its values, in
docs/runner.md (``python -m tests.runner.test_prom_mesh_bench`` prints the table).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runner.meshes import MESHES, Mesh
from runner.prom import Usage, prometheus_usage

from ..conftest import ROOT
from . import cadvisor_model as model
from .cadvisor_model import Container
from .real_prometheus import OpenMetrics, create_blocks, prometheus_server
from .test_prom_real import MIB, ROUNDING, Expected, assert_figures

RESULTS = ROOT.parent / "shared" / "real-data" / "mesh-bench" / "results"
EXPERIMENTS = ("01_http_max_throughput", "02_http_constant_throughput")
MESH_OF: dict[str, Mesh | None] = {
    "istio": MESHES["istio"], "linkerd": MESHES["linkerd"], "cilium": MESHES["cilium"],
    "baseline": None,
}  # fmt: skip
"""The study's configurations the runner knows (Traefik Mesh it does not)."""
NAMESPACE = "benchmark"
"""The study's namespace for its target pod; Cilium's agents run in kube-system."""
MINUTE_S, EVERY_S, JITTER_S, WARMUP_S, COOLDOWN_S = 60, 15.0, 1.0, 5.0, 5.0
WORKING_SET = {"app": 20.0, "istio-proxy": 40.0, "linkerd-proxy": 15.0}
"""MiB, flat: the study has no working sets (see above). Others: 100 MiB."""


@dataclass
class StudyRun:
    experiment: str
    mesh: str
    qps: str
    rates: dict[tuple[str, str], list[tuple[int, float]]]
    """(pod, container) -> the study's (time, cores) pairs, 3 s apart."""
    containers: list[Container] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.experiment[:2]} {self.mesh} {self.qps}"

    @property
    def start(self) -> int:
        return min(t for values in self.rates.values() for t, _ in values)

    @property
    def minutes(self) -> int:
        """Whole minutes the dump covers (the run taken here: a trailing part minute is left)."""
        last = min(values[-1][0] for values in self.rates.values())
        return (last - self.start) // MINUTE_S

    @property
    def end(self) -> int:
        return self.start + self.minutes * MINUTE_S

    def study_mean(self, container: str) -> float:
        """The study's summary of the run: the mean of its values (cores), summed over pods."""
        return sum(
            sum(v for _, v in values) / len(values)
            for (_, name), values in self.rates.items()
            if name == container
        )

    def runner_window(self) -> tuple[dt.datetime, dt.datetime]:
        """What the runner makes of a run this long: its warm-up and 5 s cool-down trimmed."""
        start = dt.datetime.fromtimestamp(self.start + WARMUP_S, dt.UTC)
        return start, dt.datetime.fromtimestamp(self.end - COOLDOWN_S, dt.UTC)


def load_runs() -> list[StudyRun]:
    if not RESULTS.is_dir():
        pytest.fail(f"the mesh-bench results are missing at {RESULTS}")
    runs = []
    for experiment in EXPERIMENTS:
        for path in sorted((RESULTS / experiment).glob("cpu_*.json")):
            match = re.match(r"cpu_([a-z]+)_(\d+|MAX)", path.name)
            assert match, path
            if match.group(1) not in MESH_OF:
                continue
            rates = {
                (s["metric"]["pod"], s["metric"]["container"]): [
                    (int(t), float(v)) for t, v in s["values"]
                ]
                for s in json.loads(path.read_text())
            }
            runs.append(StudyRun(experiment, match.group(1), match.group(2), rates))
    return runs


def rebuild(run: StudyRun, rng: random.Random) -> None:
    """Counters whose increase over each minute is 60 s times the study's rate at its end."""
    for (pod, name), values in run.rates.items():
        at = dict(values)
        per_minute = [at[run.start + MINUTE_S * m] for m in range(1, run.minutes + 1)]

        def cpu(second: int, per_minute: list[float] = per_minute) -> float:
            return per_minute[min(len(per_minute) - 1, (second - run.start) // MINUTE_S)]

        container = "app" if name == "fortio" else name
        namespace = "kube-system" if pod.startswith("cilium") else NAMESPACE
        level = WORKING_SET.get(container, 100.0) * MIB
        series = Container(
            namespace, pod, container, float(run.start), float(run.end) + 1.0, cpu,
            lambda second, level=level: level, image=f"mesh-bench/{name}",
            counter_at_born=1000.0 * max(per_minute),
        )  # fmt: skip
        first = run.start + rng.uniform(0.0, EVERY_S)
        model.sample(series, model.scrape_times(first, run.end + 1.0, EVERY_S, JITTER_S, rng))
        run.containers.append(series)


def series_labels(run: StudyRun, container: Container) -> dict[str, str]:
    """The container's labels, with a cgroup id per run: each run's counter is its own series."""
    return {**container.labels, "id": f"/kubepods/{container.pod}/{run.experiment}/{run.qps}"}


@dataclass
class Study:
    url: str
    runs: list[StudyRun]


def build_tsdb(runs: list[StudyRun], storage: Path) -> None:
    """Rebuild every run's counters and write them, with flat working sets, as TSDB blocks."""
    rng = random.Random(2022)
    text = OpenMetrics()
    for run in runs:
        rebuild(run, rng)
        for c in run.containers:
            labels = series_labels(run, c)
            text.add(model.CPU, "counter", labels, [(t, v) for t, v, _ in c.samples])
            text.add(model.MEMORY, "gauge", labels, [(t, m) for t, _, m in c.samples])
    create_blocks(text.text(), storage)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Study]:
    runs = load_runs()
    storage = tmp_path_factory.mktemp("mesh-bench") / "tsdb"
    build_tsdb(runs, storage)
    with prometheus_server(storage) as url:
        yield Study(url, runs)


BLOCKS = {"sidecar": ("istio-proxy", "linkerd-proxy"), "app": ("app",),
          "control_plane": ("cilium-agent", "cilium-operator", "node-init")}  # fmt: skip


def measure(study: Study, run: StudyRun) -> tuple[Usage, float, float]:
    """The runner's figures for ``run`` and the window PromQL evaluates."""
    start, end = run.runner_window()
    usage = prometheus_usage(study.url, MESH_OF[run.mesh], NAMESPACE, start, end)
    length = round((end - start).total_seconds())
    return usage, end.timestamp() - length, end.timestamp()


@dataclass(frozen=True)
class Row:
    run: str
    block: str
    study_mcores: float
    """The mean of the study's 1-minute rates over its dump."""
    runner_mcores: float
    true_mcores: float
    """The rebuilt counters' usage over the runner's window."""


def comparison(study: Study) -> list[Row]:
    rows = []
    for run in study.runs:
        usage, _, _ = measure(study, run)
        for block, figures in usage.blocks.items():
            names = BLOCKS[block]
            chosen = [c for c in run.containers if c.name in names]
            begin, end = run.runner_window()
            truth = model.true_cpu_s(chosen, begin.timestamp(), end.timestamp())
            length = (end - begin).total_seconds()
            study_cores = sum(run.study_mean("fortio" if n == "app" else n) for n in names)
            assert figures.cpu_mcores is not None
            rows.append(
                Row(run.name, block, 1000 * study_cores, figures.cpu_mcores, 1000 * truth / length)
            )
    return rows


@pytest.mark.slow
def test_the_runner_gives_the_studys_runs_their_real_usage(study: Study) -> None:
    assert {run.mesh for run in study.runs} == set(MESH_OF) and len(study.runs) == 20
    for run in study.runs:
        usage, begin, end = measure(study, run)
        assert usage.warnings == [], (run.name, usage.warnings)
        mesh = MESH_OF[run.mesh]
        blocks = {"app"} | ({"sidecar"} if mesh and mesh.sidecar_containers else set())
        blocks |= {"control_plane"} if run.mesh == "cilium" else set()
        assert set(usage.blocks) == blocks, run.name
        for block, figures in usage.blocks.items():
            chosen = [c for c in run.containers if c.name in BLOCKS[block]]
            expected = Expected.of(chosen, begin, end)
            label = f"{run.name} {block}"
            assert_figures(label, figures.count, figures.cpu_mcores, figures.mem_mb, expected)
            if run.qps != "1":  # (the 1 request/s runs start with the previous run's traffic)
                # Over 890 s the edges weigh little: the figure is the usage to 1 %.
                assert expected.cpu_bound <= 0.01 * expected.true_cpu_mcores + ROUNDING, label


@pytest.mark.slow
def test_the_studys_run_means_agree_with_the_runner_but_for_its_light_runs(study: Study) -> None:
    """The study ran its configurations back to back in the same pods, and a dump's first
    1-minute rates still average the run before: after a max-throughput run, its traffic lasts
    3-36 s into each 1 request/s dump. The study's mean spreads it over its first minute of
    values; the runner, trimming its 5 s warm-up, counts the part inside its window."""
    rows = comparison(study)
    light = [r for r in rows if r.run.endswith(" 1") and r.block != "control_plane"]
    assert len(light) == 6  # app and proxy of istio and linkerd, app of cilium and baseline
    assert all(r.study_mcores > 2 * r.runner_mcores for r in light), light
    others = [r for r in rows if r not in light]
    assert all(abs(r.study_mcores - r.runner_mcores) <= 0.08 * r.runner_mcores for r in others)


def main() -> None:  # prints the table of docs/runner.md
    import tempfile

    runs = load_runs()
    storage = Path(tempfile.mkdtemp(prefix="mesh-bench-")) / "tsdb"
    build_tsdb(runs, storage)
    with prometheus_server(storage) as url:
        rows = comparison(Study(url, runs))
    print("| run | app: study / runner | sidecar: study / runner | control plane: study / runner |")
    print("|---|---:|---:|---:|")
    for name in dict.fromkeys(r.run for r in rows):
        cells = {
            r.block: f"{r.study_mcores:.1f} / {r.runner_mcores:.1f}" for r in rows if r.run == name
        }
        print(
            f"| {name} | {cells.get('app', '')} | {cells.get('sidecar', '')} "
            f"| {cells.get('control_plane', '')} |"
        )


if __name__ == "__main__":
    main()
