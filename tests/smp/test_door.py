"""The door's one-pass check (smp.door) against the two full walks it stands in for.

The oracle is ``check_limits(doc) or check_storable(doc)`` (smp.limits and smp.policy, each
walking the whole document with paths). The quick walk may send a clean document down the
full path, never wave through one the full walks would refuse: every case below asserts
both that check_door answers what the walks answer and, where the walks find a problem,
that the quick walk did not pass it.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from smp.door import _TOP, _Walk, check_door
from smp.limits import Limits, check_limits, count_problems, schema_caps
from smp.model import Bundle
from smp.policy import check_storable
from smp.readers import detect
from tests.conftest import SAMPLES
from tests.factories import make_bundle

REAL = Path(__file__).resolve().parents[3] / "shared" / "real-data"
DEFAULT = Limits.capped()
SMALL = Limits.capped(max_depth=8, max_string_length=40)


def walks(doc: Any, limits: Limits) -> list[Any]:
    return check_limits(doc, limits) or check_storable(doc)


def quick(doc: Any, limits: Limits) -> bool:
    caps = schema_caps()
    walk = _Walk(limits, caps["raw.content"], caps["client.body"])
    return (
        isinstance(doc, dict)
        and not count_problems(doc, limits)
        and walk.fine_dict(doc, 1, _TOP, "")
    )


def agree(doc: Any, limits: Limits) -> list[Any]:
    expected = walks(doc, limits)
    assert check_door(doc, limits) == expected
    if expected:
        assert not quick(doc, limits), expected
    return expected


def real_documents() -> list[dict[str, Any]]:
    """Bundles made of every native sample output the readers take (their raw outputs kept:
    long texts at the one place they may be long), the SMP repository's sample result (read
    as JSON would give it: YAML makes its times datetimes, which go the long way), and the
    demo corpus."""
    from meshmark.demo.generate import generate
    from meshmark.demo.kinds import kind_submissions

    docs: list[dict[str, Any]] = []
    for path in sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.suffix != ".md"):
        body = path.read_bytes()
        try:
            results = detect(body).read(body)
        except Exception:
            continue
        for result in results[:1]:
            base, mesh = copy.deepcopy(result), copy.deepcopy(result)
            base.role, mesh.role = "baseline", "mesh"
            docs.append(Bundle(runs=[base, mesh]).to_dict())
    sample = REAL / "smp-repo-artifacts" / "service-mesh-performance"
    result = yaml.safe_load((sample / "service_mesh_performance_result.yaml").read_text())
    docs.append(json.loads(json.dumps(result, default=str)))
    docs += [json.loads(s.body) for s in generate(30, 5)]
    docs += [json.loads(s.body) for s in kind_submissions(5)][:10]
    return docs


def test_real_documents_take_the_quick_path_and_get_the_walks_answer() -> None:
    docs = real_documents()
    assert len(docs) >= 40
    with_raw = 0
    for doc in docs:
        for limits in (DEFAULT, SMALL):
            agree(doc, limits)
        if not walks(doc, DEFAULT):
            assert quick(doc, DEFAULT)  # a clean document is not sent the long way
        runs = doc.get("runs") or []
        with_raw += any(len((r.get("raw") or {}).get("content", "")) > 4096 for r in runs)
    assert with_raw >= 5  # raw outputs longer than the general text cap were among them


@functools.cache
def _demo_body() -> bytes:
    from meshmark.demo.generate import generate

    return next(iter(generate(1, 5))).body


def demo() -> dict[str, Any]:
    """A demo bundle: histograms, labels, resources and a fortio output as its raw."""
    doc: dict[str, Any] = json.loads(_demo_body())
    return doc


def _set(doc: dict[str, Any], path: list[Any], value: Any) -> None:
    for part in path[:-1]:
        doc = doc.setdefault(part, {}) if isinstance(doc, dict) else doc[part]
    doc[path[-1]] = value


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"x": value}
    return value


LONG = "y" * 5000
RULES: list[tuple[str, list[Any], Any]] = [
    ("no-nul", ["runs", 0, "labels", "note"], "a\x00b"),
    ("no-nul", ["runs", 0, "labels"], {"a\x00": "b"}),
    ("max-string-length", ["runs", 0, "labels", "note"], LONG),
    ("max-string-length", ["runs", 0, "labels"], {"k" * 5000: "v"}),
    ("max-string-length", ["runs", 0, "labels", "content"], LONG),  # not raw.content
    ("max-string-length", ["runs", 0, "notes", "raw", "content"], LONG),  # raw, not a run's
    ("max-string-length", ["config", "body"], LONG),  # a client's body, not the config's
    ("max-string-length", ["runs", 0, "tags"], ["ok", LONG]),
    ("max-depth", ["runs", 0, "extra"], _nested(40)),
    ("max-depth", ["runs", 0, "extra"], json.loads("[" * 40 + "1" + "]" * 40)),
    ("max-value", ["runs", 0, "actual_qps"], 1e300),
    ("max-value", ["runs", 0, "actual_qps"], float("nan")),
    ("max-value", ["runs", 0, "actual_qps"], float("inf")),
    ("max-value", ["runs", 0, "connections"], 2**40),
    ("max-value", ["runs", 0, "histogram", 0, "count"], -(10**16)),
    ("max-length", ["mesh_config", "mesh_type"], "m" * 40),
    ("max-length", ["runs", 0, "load_generator", "name"], "g" * 40),
    ("max-length", ["environment", "node", 0, "arch"], "a" * 40),
    ("max-length", ["profile"], "p" * 70),
    ("token", ["environment", "node", 0, "arch"], "amd 64"),
    ("datetime-range", ["runs", 0, "start_time"], "0001-01-01T00:00:00+01:00"),
]


@pytest.mark.parametrize(
    ("rule", "path", "value"), RULES, ids=[f"{r[0]}-{i}" for i, r in enumerate(RULES)]
)
def test_each_rule_of_either_walk_still_refuses_through_the_door(
    rule: str, path: list[Any], value: Any
) -> None:
    doc = demo()
    _set(doc, path, value)
    problems = agree(doc, DEFAULT)
    assert rule in {p.rule for p in problems}


def test_the_counted_limits_still_refuse() -> None:
    doc = demo()
    doc["runs"] = doc["runs"] * (DEFAULT.max_runs // 2 + 1)
    assert "max-runs" in {p.rule for p in agree(doc, DEFAULT)}
    doc = demo()
    doc["runs"][0]["histogram"] = doc["runs"][0]["histogram"] * DEFAULT.max_histogram_buckets
    assert "max-histogram-buckets" in {p.rule for p in agree(doc, DEFAULT)}


@pytest.mark.parametrize(
    "path",
    [["runs", 0, "raw", "content"], ["raw", "content"], ["config", "clients", 0, "body"]],
)
def test_the_long_texts_pass_quickly_where_the_schema_allows_them(path: list[Any]) -> None:
    doc = make_bundle()
    if path[0] == "config":
        doc.setdefault("config", {}).setdefault("clients", [{}])
    if path[0] == "runs":
        doc["runs"][0]["raw"] = {"format": "fortio", "content": ""}
    _set(doc, path, LONG)
    assert agree(doc, DEFAULT) == []
    assert quick(doc, DEFAULT)


@pytest.mark.parametrize(
    "value",
    [dt.date(2024, 1, 1), dt.datetime(2024, 1, 1, tzinfo=dt.UTC), b"bytes", 1 + 2j],
    ids=["date", "datetime", "bytes", "complex"],
)
def test_values_only_yaml_or_python_make_go_the_long_way(value: Any) -> None:
    doc = make_bundle()
    doc["runs"][0].setdefault("labels", {})["when"] = value
    assert not quick(doc, DEFAULT)
    agree(doc, DEFAULT)


def test_a_key_that_is_not_text_goes_the_long_way() -> None:
    doc = make_bundle()
    doc["runs"][0]["labels"] = {1: "a"}
    assert not quick(doc, DEFAULT)
    agree(doc, DEFAULT)


TRICKY: list[Any] = [
    "ok", "", "a\x00", "z" * 41, "z" * 33, LONG, "amd 64", "2024-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00", 0, -1, 2**31, 2**31 - 1, 1e15, 1e16, -1e16, float("nan"),
    True, None, [], {}, ["x" * 50], {"k\x00": 1}, _nested(12), [[["deep"]]],
]  # fmt: skip


def test_random_mutations_never_pass_quickly_what_the_walks_refuse() -> None:
    rng = random.Random(19)
    bases = [make_bundle(), *real_documents()[:8]]
    refused = 0
    for _ in range(1500):
        doc = copy.deepcopy(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            _mutate(doc, rng)
        for limits in (DEFAULT, SMALL):
            refused += bool(agree(doc, limits))
    assert refused > 300  # the mutations did reach the rules


def _mutate(doc: dict[str, Any], rng: random.Random) -> None:
    """Replace a random value (or add a random key) somewhere in the document."""
    node: Any = doc
    for _ in range(rng.randint(0, 6)):
        if isinstance(node, dict) and node:
            child = node[rng.choice(list(node))]
        elif isinstance(node, list) and node:
            child = rng.choice(node)
        else:
            break
        if not isinstance(child, dict | list):
            break
        node = child
    value = copy.deepcopy(rng.choice(TRICKY))
    if isinstance(node, dict):
        keys = [*node, "start_time", "arch", "name", "mesh_type", "content", "body", "k" * 50]
        node[rng.choice(keys)] = value
    elif isinstance(node, list) and node:
        node[rng.randrange(len(node))] = value
