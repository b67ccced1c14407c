"""SMP documents themselves (JSON or YAML), in any shape the spec has had: results and bundles.

A document is read by :mod:`smp.spec.read`: MeshMark's own results and
bundles (docs/smp.md), the current protos' field names (snake_case or the
proto3 JSON mapping's lowerCamelCase, enums as names or numbers), the v0.1
proto's spellings, and the spec repository's legacy sample result (its figures,
seconds written as ms, converted). Every problem is reported at once, by
field path. A test, mesh or environment configuration is recognised and
refused here with what it is: it is not a result (``smp-runner run --config``
takes a test configuration). Consistency between figures (units, ordering,
counts) is left to :mod:`smp.consistency`, which callers run next.
"""

from __future__ import annotations

import re

from smp import document
from smp.errors import ReaderError
from smp.model import Bundle, PerformanceTestResult
from smp.spec import read as spec
from smp.spec.shapes import MESSAGE_NAMES, kind_of

NAME = "smp"

# Any field name that makes a document an SMP message, in any of its spellings.
_SNIFF_MARKER = re.compile(
    rb"latencies_?[mM]s|actual_?(?:qps|QPS|Qps)|clients|mesh_?[tT]ype|mesh_?[bB]uild"
    rb"|kubernetes_?[vV]ersion|nodes?\b|individual_?[wW]orkloads"
)
# The same names where a YAML or JSON key would be ("latencies_ms:", "clients":).
_KEY_MARKER = re.compile(rb'(?m)^[ \t{,]*"?(?:' + _SNIFF_MARKER.pattern + rb')"?[ \t]*:')
_NOT_RESULTS = {
    "test_config": "it is a custom profile for `smp-runner run --config FILE`",
    "mesh_config": "it belongs in a bundle's mesh_config (see `smp-runner bundle`)",
    "environment": "it belongs in a bundle's environment (see `smp-runner bundle`)",
}


def sniff(data: bytes) -> bool:
    """A JSON/YAML mapping that is one of SMP's messages, or a bundle of results."""
    if not _SNIFF_MARKER.search(data[:1_000_000]):
        return False
    try:
        doc = document.parse_document(data, NAME)
    except Exception:  # sniff never raises; any parse failure just means "not mine"
        return False
    return kind_of(doc) is not None


def raise_if_broken(data: bytes) -> None:
    """The parse error of a document that has SMP's fields as keys but is not JSON or YAML."""
    if _KEY_MARKER.search(data[:1_000_000]):
        document.parse_document(data, NAME)


def read_document(data: bytes) -> spec.SpecDocument:
    """The document for what it is (result, bundle or a configuration), with its warnings."""
    return spec.read_document(data)


def read_bundle(data: bytes) -> Bundle:
    """The whole bundle. Runs without a ``profile_id`` take the bundle's ``profile``.

    Raises ReaderError listing every schema problem by field path, or saying
    that the document is a single result rather than a bundle.
    """
    read = spec.read_document(data)
    if read.bundle is None:
        what = "single result" if read.kind == "result" else read.what
        raise ReaderError(NAME, f"the document is a {what}, not a bundle (no 'runs' list)")
    return read.bundle


def read(data: bytes) -> list[PerformanceTestResult]:
    """The runs of a bundle, or the one result of a result document."""
    read = spec.read_document(data)
    if read.bundle is not None:
        return read.bundle.runs
    if read.result is not None:
        return [read.result]
    raise ReaderError(
        NAME, f"the document is an {read.what}, not a result: {_NOT_RESULTS[read.kind]}"
    )


def what_is(data: bytes) -> str | None:
    """The name of the SMP message ``data`` holds, or None (for messages about a file)."""
    try:
        kind = kind_of(document.parse_document(data, NAME))
    except ReaderError:
        return None
    return MESSAGE_NAMES[kind] if kind else None
