"""The calibration probe meshmark-cpu/1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import runner.calibrate
from runner.calibrate import PROBE, UNIT, run_probe
from runner.k8s_manifests import calibrate_job


@pytest.mark.slow
def test_the_probe_reports_a_positive_figure_under_its_name() -> None:
    # Run-to-run stability is a timing property: measured in bench/bench_calibration.py,
    # not asserted here, where other tests share the cores.
    calibration = run_probe()
    assert calibration.probe == PROBE == "meshmark-cpu/1" and calibration.unit == UNIT == "ops/s"
    assert calibration.score > 0


def test_the_probe_counts_ops_per_second_of_the_best_batch() -> None:
    # A fake clock: batch i takes (i + 1) seconds, so the best of 3 batches of 10 ops is 10 ops/s.
    ticks = iter([0.0, 1.0, 10.0, 12.0, 20.0, 23.0])
    calibration = run_probe(repetitions=3, ops_per_batch=10, clock=lambda: next(ticks))
    assert calibration.score == 10.0


def test_the_module_runs_on_its_own_as_the_in_cluster_job_does() -> None:
    source = Path(runner.calibrate.__file__).read_text()
    job = calibrate_job("run1", None, 60)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python", "-I", "-c", source,
    ]  # fmt: skip
    # The Job's exact source, asked for one batch of two ops on the command line.
    out = subprocess.run(
        [sys.executable, "-I", "-c", source, "1", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    figure = json.loads(out.stdout)
    assert figure["probe"] == "meshmark-cpu/1" and figure["unit"] == "ops/s"
    assert figure["score"] > 0
