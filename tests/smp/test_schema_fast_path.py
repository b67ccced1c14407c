"""The compiled schema check never lets through a document jsonschema would refuse.

validate_schema asks the fast compiled validator first and only trusts it when
it says "valid"; these tests mutate real bundles at random and check that
every document the fast path accepts has no jsonschema error either.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smp import document
from tests.factories import make_bundle

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.just("2024-13-45T99:00:00Z"),
    st.just([]),
    st.just({}),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _mutate(doc: dict[str, Any], path: tuple[Any, ...], action: str, leaf: Any) -> None:
    if not path:
        return
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "replace":
        parent[last] = leaf
    elif action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[f"{last}_extra"] = leaf
    elif action == "negate" and isinstance(parent[last], int | float):
        parent[last] = -parent[last] - 1


BASE = json.loads(json.dumps(make_bundle()))
PATHS = _paths(BASE)


def _fast_accepts(doc: Any) -> bool:
    try:
        document._fast_check("bundle")(doc)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mutations=st.lists(
        st.tuples(
            st.sampled_from(PATHS),
            st.sampled_from(["replace", "delete", "add", "negate"]),
            LEAVES,
        ),
        min_size=1,
        max_size=3,
    )
)
def test_what_the_fast_path_accepts_jsonschema_accepts(
    mutations: list[tuple[tuple[Any, ...], str, Any]],
) -> None:
    doc = copy.deepcopy(BASE)
    for path, action, leaf in mutations:
        try:
            _mutate(doc, path, action, leaf)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path's parent

    if _fast_accepts(doc):
        assert list(document._validator("bundle").iter_errors(doc)) == []


def test_valid_bundles_take_the_fast_path_and_bad_ones_get_jsonschema_messages() -> None:
    good = json.loads(json.dumps(make_bundle()))
    bad = copy.deepcopy(good)
    bad["runs"][0]["latencies_ms"]["p99"] = "slow"

    assert _fast_accepts(good)
    assert document.validate_schema(good, "bundle") == []
    assert not _fast_accepts(bad)
    problems = document.validate_schema(bad, "bundle")
    assert [(p.path, p.rule) for p in problems] == [("runs[0].latencies_ms.p99", "type")]


@pytest.mark.parametrize("kind", ["bundle", "result"])
def test_the_compiled_schema_has_no_references_left(kind: document.Kind) -> None:
    flat = json.dumps(
        document._inlined(
            document.load_schema(kind),
            document.load_schema(kind),
            {document.SCHEMA_IDS[k]: document.load_schema(k) for k in ("result", "bundle")},
        )
    )
    assert "$ref" not in flat


def _every_negation(
    node: Any, path: tuple[Any, ...] = ()
) -> list[tuple[tuple[Any, ...], list[str]]]:
    """Where the schema says "not both of these two spellings", and the two names."""
    out = []
    if isinstance(node, dict):
        negated = node.get("not")
        if isinstance(negated, dict) and set(negated) == {"required"}:
            out.append((path, list(negated["required"])))
        for key, value in node.items():
            out += _every_negation(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _every_negation(value, (*path, index))
    return out


@pytest.mark.parametrize(
    ("where", "first", "second"),
    [
        (("runs", 0), "actual_qps", "actual_QPS"),
        (("runs", 0, "resources", "sidecar"), "cpu_mcores", "cpu_mCores"),
        (("mesh_config", "mesh_control_plane"), "cpu_mcores", "cpu_mCores"),
        (("environment", "individual_workloads", 0), "cpu_mcores", "cpu_mCores"),
    ],
)
def test_the_rewritten_negations_still_refuse_both_spellings_and_take_either(
    where: tuple[Any, ...], first: str, second: str
) -> None:
    """The fast validator writes "not both" as a dependency (smp.document._without_negations):
    it must still refuse a block with both spellings and take one with either alone."""
    for present in ([first], [second], [first, second]):
        doc = json.loads(json.dumps(make_bundle()))
        node: Any = doc
        for part in where:
            if isinstance(node, dict):
                node = node.setdefault(part, [{"name": "w"}] if part.endswith("workloads") else {})
            else:
                node = node[part]
        node.pop(first, None)
        node.pop(second, None)
        for name in present:
            node[name] = 5.0
        both = len(present) == 2
        assert _fast_accepts(doc) is not both, (where, present)
        assert bool(list(document._validator("bundle").iter_errors(doc))) is both


def test_every_negation_of_the_schemas_is_one_the_rewrite_knows() -> None:
    """Each "not" of the schemas is a pair of spellings (what the rewrite covers), so no other
    negation is left raising on every valid block."""
    for kind in ("bundle", "result"):
        schemas = {document.SCHEMA_IDS[k]: document.load_schema(k) for k in ("result", "bundle")}
        inlined = document._inlined(document.load_schema(kind), document.load_schema(kind), schemas)
        found = _every_negation(inlined)
        assert found
        assert all(len(names) == 2 for _, names in found)
        assert _every_negation(document._without_negations(inlined)) == []
