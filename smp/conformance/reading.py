"""Reading a report's bytes (a YAML body, or a form holding one) into a verdict."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import yaml

from smp.conformance.checks import check_document
from smp.conformance.model import (
    FORM_FIELDS,
    FORMAT,
    KIND,
    ConformanceReading,
    VersionText,
    kind_of,
)
from smp.errors import Problem, ReaderError
from smp.loaders import NestingTooDeepError, _check_depth, _SafeNoAliasLoader, decode_text
from smp.submission import MULTIPART, media_type, parse_form


class _ReportLoader(_SafeNoAliasLoader):
    """The index's safe loader, but an unquoted ``1.20`` stays the text ``1.20``."""


def _float_as_text(loader: _ReportLoader, node: yaml.ScalarNode) -> VersionText:
    return VersionText(loader.construct_scalar(node))


_ReportLoader.add_constructor("tag:yaml.org,2002:float", _float_as_text)


def read_conformance(
    body: bytes, content_type: str = "", *, check: bool = True
) -> ConformanceReading:
    """Read ``body`` (a report, or a form holding one) into a verdict.

    With ``check`` false only the cheap part runs (the door): the form's
    fields, parsing, and whether this is a report at all.
    """
    fields: dict[str, str] = {}
    if media_type(content_type) == MULTIPART:
        try:
            form = parse_form(body, content_type, len(body) + 1)
        except ReaderError as exc:
            digest = hashlib.sha256(body).hexdigest()
            return ConformanceReading(
                digest, problems=[Problem("", "malformed-multipart", exc.message)]
            )
        reports = form.files.get("report", [])
        fields = {k: form.fields.get(k, "").strip() for k in FORM_FIELDS}
        digest = _form_digest(reports, fields)
        if len(reports) != 1:
            problem = Problem("report", "required", "the form needs one 'report' file")
            return ConformanceReading(digest, problems=[problem])
        body = reports[0]
    else:
        digest = hashlib.sha256(body).hexdigest()
    reading = ConformanceReading(digest)
    try:
        text = decode_text(body, FORMAT)
        doc = yaml.load(text, Loader=_ReportLoader)  # noqa: S506 - a safe loader's subclass
        _check_depth(doc, FORMAT)
    except NestingTooDeepError as exc:
        reading.problems.append(Problem("", "max-depth", exc.message))
        return reading
    except ReaderError as exc:
        reading.problems.append(Problem("", "malformed", exc.message))
        return reading
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        reading.problems.append(
            Problem("", "malformed", f"malformed YAML{where}: {exc.problem or exc.context}")
        )
        return reading
    except (yaml.YAMLError, RecursionError) as exc:
        reading.problems.append(Problem("", "malformed", f"malformed YAML: {exc}"))
        return reading
    if _is_smi_export(doc):
        reading.unsupported = True
        reading.problems.append(
            Problem(
                "",
                "smi-conformance",
                "this is Meshery's export of SMI conformance results, not a Gateway API "
                "ConformanceReport: SMI was archived in 2023 and its conformance tests do not "
                "say which Gateway API mesh features a mesh supports, so the index does not "
                "import them (send the mesh's ConformanceReport YAML from "
                "kubernetes-sigs/gateway-api conformance/reports instead)",
            )
        )
        return reading
    if not isinstance(doc, dict):
        reading.unsupported = True
        reading.problems.append(
            Problem("", "type", f"a ConformanceReport is a mapping, not {kind_of(doc)}")
        )
        return reading
    if doc.get("kind") != KIND:
        reading.unsupported = True
        reading.problems.append(
            Problem("kind", "kind", f"kind must be {KIND!r}, got {doc.get('kind')!r}")
        )
        return reading
    if not check:
        return reading
    check_document(doc, fields, reading)
    return reading


def _form_digest(reports: list[bytes], fields: Mapping[str, str]) -> str:
    """The form's content for duplicates: the report's bytes and the fields that matter."""
    digest = hashlib.sha256()
    for name in FORM_FIELDS:
        digest.update(f"field:{name}={fields.get(name, '')}\n".encode())
    for report in reports:
        digest.update(f"file:report:{hashlib.sha256(report).hexdigest()}\n".encode())
    return digest.hexdigest()


def _is_smi_export(doc: Any) -> bool:
    """Meshery's SMI conformance export: a list of records naming SMI specifications."""
    if not isinstance(doc, list) or not doc:
        return False
    first = doc[0]
    return isinstance(first, dict) and "mesh_name" in first and "more_details" in first
