"""MeshMark's figures in an SMP message's ``labels``, where the spec has no field for them.

A canonical export (:mod:`smp.spec.export`) writes each figure the spec cannot
hold as one label ``meshmark.io/<path>`` whose value is the figure as text, and
the path is the field's path in MeshMark's document (docs/smp.md): for
example ``meshmark.io/latencies_ms.p95: "2.5"`` on a result, or
``meshmark.io/sidecar.cpu_mcores: "95.5"`` on a mesh configuration whose
proto field ``cpu_mcores`` is an int32 and holds ``96``. Reading a document
turns these labels back into fields; the ``meshmark.io/`` prefix is reserved:
an unknown path under it is an error, not a free-form label.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from typing import Any

from smp.document import format_path
from smp.errors import Problem

PREFIX = "meshmark.io/"

_BLOCK_FIELDS = (
    r"(?:count|cpu_mcores|mem_mb|rps|bps|cache_hit_rate|endpoints|services|sidecars"
    r"|virtual_services|destination_rules|lds_latency_ms|cds_latency_ms)"
)
_BLOCKS = (
    r"(?:sidecar|ingress_gateway|egress_gateway|mesh_control_plane|mesh_telemetry|mesh_policy)"
)

PATHS: dict[str, re.Pattern[str]] = {
    "result": re.compile(
        r"^(?:latencies_ms\.(?:p95|p999)|duration_s|warmup_s|payload_bytes|requested_qps"
        r"|request_count|error_count"
        r"|protocol|connections|role|profile_id|load_generator\.(?:name|version))$"
    ),
    "mesh_config": re.compile(rf"^(?:mesh_type|{_BLOCKS}\.{_BLOCK_FIELDS})$"),
    "environment": re.compile(
        r"^(?:cni|kernel_version|provider|calibration\.(?:probe|score|unit)"
        r"|node\[\d+\]\.(?:arch|count|cores|mem_mb)"
        r"|individual_workloads\[\d+\]\.(?:cpu_mcores|mem_mb))$"
    ),
    "test_config": re.compile(r"^clients\[\d+\]\.rps$"),
}
"""The paths each message may carry as labels."""

_INTEGERS = frozenset(
    {
        "request_count",
        "error_count",
        "payload_bytes",
        "connections",
        "count",
        "endpoints",
        "services",
        "sidecars",
        "virtual_services",
        "destination_rules",
    }
)
_NUMBERS = frozenset(
    {
        "p95",
        "p999",
        "duration_s",
        "warmup_s",
        "requested_qps",
        "cpu_mcores",
        "mem_mb",
        "rps",
        "bps",
        "cache_hit_rate",
        "lds_latency_ms",
        "cds_latency_ms",
        "cores",
        "score",
    }
)
_PART = re.compile(r"([a-z0-9_]+)|\[(\d+)\]")


def text_of(value: Any) -> str:
    """A figure as label text that reads back to the same value (repr keeps every digit)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _value(path: str, text: str) -> tuple[Any, str | None]:
    """The typed value of label text for ``path``; or None with the reason."""
    leaf = path.rsplit(".", 1)[-1]
    if leaf in _INTEGERS:
        if re.fullmatch(r"\d+", text.strip()):
            return int(text), None
        return None, f"{text!r} is not a whole number >= 0"
    if leaf in _NUMBERS:
        try:
            number = float(text)
        except ValueError:
            return None, f"{text!r} is not a number"
        if not math.isfinite(number):
            return None, f"{text!r} is not a finite number"
        return number, None
    return text, None


def _parts(path: str) -> list[str | int]:
    return [m.group(1) if m.group(1) else int(m.group(2)) for m in _PART.finditer(path)]


def split(labels: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(free-form labels, MeshMark's path -> label text)."""
    free = {k: v for k, v in labels.items() if not str(k).startswith(PREFIX)}
    ours = {str(k)[len(PREFIX) :]: str(v) for k, v in labels.items() if str(k).startswith(PREFIX)}
    return free, ours


def decode(kind: str, doc: dict[str, Any], src: str = "") -> list[Problem]:
    """Move ``doc``'s ``meshmark.io/`` labels into its fields (in place); the problems found.

    ``kind`` is the message (``result``, ``mesh_config``, ``environment``,
    ``test_config``); ``src`` the message's path in the document, for problems.
    A label may also restate a proto field that holds the figure rounded (an
    int32 ``cpu_mcores``): it then replaces it, provided they agree within 1.
    """
    labels = doc.get("labels")
    if not isinstance(labels, dict):
        return []
    free, ours = split(labels)
    if not ours:
        return []
    problems: list[Problem] = []
    if free:
        doc["labels"] = free
    else:
        del doc["labels"]
    if kind == "environment":
        problems.extend(_regroup_nodes(doc, ours, src))
    for path, text in sorted(ours.items()):
        where = format_path(["labels", PREFIX + path], src)
        if not PATHS[kind].match(path):
            problems.append(
                Problem(where, "meshmark-label", f"{PREFIX}{path} is not a field MeshMark writes")
            )
            continue
        value, error = _value(path, text)
        if error is not None:
            problems.append(Problem(where, "meshmark-label", error))
            continue
        problem = _put(doc, _parts(path), value, where)
        if problem is not None:
            problems.append(problem)
    return problems


def _put(doc: dict[str, Any], parts: list[str | int], value: Any, where: str) -> Problem | None:
    node: Any = doc
    for part, following in itertools.pairwise(parts):
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return Problem(where, "meshmark-label", f"there is no item {part} for it")
            node = node[part]
        else:
            if not isinstance(node, dict):
                return Problem(where, "meshmark-label", "its parent is not an object")
            node = node.setdefault(part, [] if isinstance(following, int) else {})
    leaf = parts[-1]
    if not isinstance(node, dict) or not isinstance(leaf, str):
        return Problem(where, "meshmark-label", "its parent is not an object")
    if leaf in node and node[leaf] != value:
        held = node[leaf]
        rounded = isinstance(held, int | float) and not isinstance(held, bool)
        if not (rounded and isinstance(value, int | float) and abs(held - value) < 1):
            return Problem(
                where,
                "meshmark-label",
                f"says {value!r} but the document's field says {held!r}",
            )
    node[leaf] = value
    return None


def _regroup_nodes(doc: dict[str, Any], ours: dict[str, str], src: str) -> Iterator[Problem]:
    """Identical nodes written one by one (the spec has no count) back into counted ones."""
    counts = {
        int(m.group(1)): text
        for path, text in ours.items()
        if (m := re.fullmatch(r"node\[(\d+)\]\.count", path))
    }
    nodes = doc.get("node")
    if not counts or not isinstance(nodes, list):
        return
    for path in [p for p in ours if re.fullmatch(r"node\[\d+\]\.count", p)]:
        del ours[path]
    where = format_path(["labels", f"{PREFIX}node[*].count"], src)
    grouped: list[Any] = []
    position = 0
    index = 0
    while position < len(nodes):
        text = counts.get(index, "1")
        if not text.isdigit() or int(text) < 1:
            yield Problem(where, "meshmark-label", f"node {index}: {text!r} is not a count >= 1")
            return
        members = nodes[position : position + int(text)]
        if len(members) < int(text) or any(m != members[0] for m in members):
            yield Problem(
                where,
                "meshmark-label",
                f"node {index} counts {text} identical nodes, the document has not as many",
            )
            return
        grouped.append({**members[0], "count": int(text)} if int(text) > 1 else members[0])
        position += int(text)
        index += 1
    if any(i >= index for i in counts):
        yield Problem(where, "meshmark-label", "a count names a node the document does not have")
        return
    doc["node"] = grouped
