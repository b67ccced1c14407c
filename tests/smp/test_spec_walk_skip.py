"""The walk is skipped for bundles already in MeshMark's names (smp.spec.read._kept_by_walk):
the result must be exactly what the walk gives, and anything the walk would change must
still go through it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from smp.spec import read as spec
from tests.factories import make_bundle


def both(doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = spec.normalize(copy.deepcopy(doc), kind="bundle")
    with monkeypatch.context() as m:
        m.setattr(spec, "_kept_by_walk", lambda doc, kind: False)
        walked = spec.normalize(copy.deepcopy(doc), kind="bundle")
    return fast, walked


def demo_bundles() -> list[dict[str, Any]]:
    from meshmark.demo.generate import generate
    from meshmark.demo.kinds import kind_submissions

    bodies = [s.body for s in generate(40, 3)] + [s.body for s in kind_submissions(3)][:12]
    return [json.loads(body) for body in bodies]


def test_a_canonical_bundle_normalizes_exactly_as_the_walk_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = [make_bundle(), *demo_bundles()]
    for doc in docs:
        assert spec._kept_by_walk(doc, "bundle")
        fast, walked = both(doc, monkeypatch)
        assert fast.documents == walked.documents
        assert fast.problems == walked.problems == []


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["runs"][0].update(actual_QPS=d["runs"][0].pop("actual_qps")),  # v0.1 name
        lambda d: d["runs"][1].update(labels={"meshmark.io/duration_s": "60"}),  # a field label
        lambda d: d["runs"][0].update(connections="16"),  # a number as text
        lambda d: d["runs"][0].update(latenciesMs=d["runs"][0].pop("latencies_ms")),
        lambda d: d.update(smps_version="0.1"),
        lambda d: d["runs"][0].update(unknown_field=1),
    ],
)
def test_what_the_walk_would_change_still_goes_through_it(
    change: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = make_bundle()
    change(doc)
    assert not spec._kept_by_walk(doc, "bundle")
    fast, walked = both(doc, monkeypatch)
    assert fast.documents == walked.documents and fast.problems == walked.problems
