"""The demo writes fortio's indented JSON without the standard encoder, and converts the
document it wrote without parsing it back (meshmark.demo.fortio.fortio_text, smp_run's
``doc``); both must give exactly what the slow way gives: the corpus's bytes are its
identity (a reseeded database finds its submissions by content)."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import pytest

from meshmark.demo.bundle import smp_run
from meshmark.demo.fortio import FortioRun, LatencyModel, fortio_document, fortio_text
from smp.profiles import standard_profiles


def _documents() -> list[dict[str, Any]]:
    rng = random.Random(7)
    docs = []
    for grpc in (False, True):
        for errors in (0.0, 2e-4):
            for payload in (0, 1024):
                run = FortioRun(
                    url="http://fortio-server.bench.svc.cluster.local:8080/echo",
                    requested_qps=1000.0,
                    connections=16,
                    duration_s=60.0,
                    start=dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.UTC),
                    labels="http-1k mesh demo",
                    grpc=grpc,
                    error_rate=errors,
                    payload_bytes=payload,
                )
                model = LatencyModel(0.2, 1.1 + rng.random(), 0.35, 0.01, 4.0)
                docs.append(fortio_document(run, model, rng))
    return docs


def test_fortio_text_is_what_the_standard_encoder_writes() -> None:
    for doc in _documents():
        assert fortio_text(doc) == json.dumps(doc, indent=2) + "\n"


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        {"a": {}, "b": [], "c": [[]], "d": [{}]},
        {"é": 'naïve ✓ \u2028 \x01 "q" \\ /'},
        {"floats": [1e-05, 1e16, -0.0, 0.1, 123456789.123, float("nan"), float("inf"), -1e308]},
        {"scalars": [True, False, None, 0, -7, 2**70]},
        {3: "int key", 2.5: "float key", True: "bool key", None: "null key"},
        {"tuple": (1, (2, 3), "x")},
        [[[{"deep": [1, {"x": None}]}]]],
    ],
)
def test_fortio_text_matches_the_encoder_on_every_kind_of_value(value: Any) -> None:
    assert fortio_text(value) == json.dumps(value, indent=2) + "\n"


def test_a_run_converted_from_its_document_is_the_run_read_from_its_text() -> None:
    profile = next(p for p in standard_profiles() if p.id == "http-1k")
    for doc in _documents():
        text = fortio_text(doc)
        read = smp_run(text, "mesh", profile, "r1")
        converted = smp_run(text, "mesh", profile, "r1", json.loads(json.dumps(doc)))
        direct = smp_run(text, "mesh", profile, "r1", doc)
        assert converted.to_dict() == read.to_dict()
        assert direct.to_dict() == read.to_dict()
