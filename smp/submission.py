"""Reading a submission: its bytes and content type in, one verdict out.

:func:`read_submission` is the one reader of submissions, wherever they are
read: the index's door (``check=False``, cheap, before it answers 202), its
worker (``check=True``: schema and consistency too), ``POST /api/v1/score``,
the web upload and ``smp-runner validate`` (``native_alone=True``), so a
contributor sees locally the verdict the index gives.

Three shapes arrive:

* an SMP bundle, or one SMP result, as JSON or YAML (a lone result becomes a
  one-run bundle: a mesh run with no baseline, kept unranked);
* a ``multipart/form-data`` form holding a ``baseline`` and a ``mesh`` file in
  any supported native format plus the fields that say what was measured
  (:data:`FORM_FIELDS`); it is turned into the same bundle;
* for ``smp-runner validate`` only, one native output on its own.

Pure: no Django. The form is parsed with the ``multipart`` package, in memory
and bounded by ``limits.max_bytes``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import Any, Literal

import multipart

from smp import consistency, document
from smp.door import check_door
from smp.errors import Problem, ReaderError
from smp.limits import Limits
from smp.loaders import NestingTooDeepError
from smp.model import Bundle, PerformanceTestResult
from smp.readers import Reader, detect, get_reader, smpdoc
from smp.spec import read as spec
from smp.spec import shapes
from smp.spec.read import SpecDocument

MULTIPART = "multipart/form-data"
DOCUMENT_TYPES = frozenset(
    {
        "application/json",
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "text/x-yaml",
        "application/smp+json",
        "application/smp+yaml",
    }
)
RUN_FILES = ("baseline", "mesh")
FORM_FIELDS = ("profile", "mesh_type", "mesh_version", "mtls", "environment")
FORMAT_FIELDS = ("baseline_format", "mesh_format")
"""Optional fields naming the format of a run file, when detection is not wanted."""
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})

Kind = Literal[
    "bundle", "result", "test_config", "mesh_config", "environment", "form", "native", ""
]
CONFIG_KINDS = frozenset({"test_config", "mesh_config", "environment"})
"""SMP messages that describe a test, not a measurement: read and checked, never stored."""


@dataclass
class Reading:
    """What reading a submission found.

    ``kind`` is what the bytes are (``""`` when they could not be read at all)
    and ``format`` the detected format (``smp``, ``multipart`` or a native
    reader's name). ``bundle`` is set once the submission has been checked and
    can be stored (a lone result, or a form, as a bundle); ``results`` holds
    the runs read. ``unsupported`` marks content the index does not take at all
    (answered 415). ``digest`` is what duplicates are judged by.
    """

    digest: str
    kind: Kind
    format: str
    problems: list[Problem] = field(default_factory=list)
    bundle: Bundle | None = None
    results: list[PerformanceTestResult] = field(default_factory=list)
    unsupported: bool = False
    spec: SpecDocument | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.rule not in consistency.WARNING_RULES]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.rule in consistency.WARNING_RULES]

    @property
    def ok(self) -> bool:
        return not self.errors


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def read_submission(
    body: bytes,
    content_type: str = "",
    *,
    limits: Limits | None = None,
    check: bool = True,
    format: str | None = None,
    native_alone: bool = False,
) -> Reading:
    """Read ``body`` as a submission of ``content_type``; every problem is in the verdict.

    With ``check`` false only what is cheap is done (the door's pre-check):
    the media type, parsing, the limits, the form's required fields and what
    kind of document it is. ``format`` forces a reader (``smp`` or a native
    one). ``native_alone`` accepts one native output as it is (``smp-runner
    validate``); the index refuses it with a hint instead.
    """
    limits = limits or Limits.capped()
    kind = media_type(content_type)
    if kind == MULTIPART:
        return _read_form(body, content_type, limits, check)
    digest = hashlib.sha256(body).hexdigest()
    if kind and kind not in DOCUMENT_TYPES and not kind.startswith("text/"):
        problem = Problem(
            "",
            "unsupported-media-type",
            f"content type {kind!r} is not accepted; send an SMP bundle as "
            "application/json or application/yaml, or native outputs as multipart/form-data",
        )
        return Reading(digest, "", "", [problem], unsupported=True)
    if native_alone:
        return _read_any(body, digest, limits, check, format)
    try:
        doc = document.parse_document(body)
    except NestingTooDeepError as exc:
        return Reading(digest, "", "", [Problem("", "max-depth", exc.message)])
    except ReaderError as exc:
        return Reading(digest, "", "", [Problem("", "malformed", str(exc))])
    if "runs" in doc or shapes.kind_of(doc) is not None or format == smpdoc.NAME:
        return _read_document(doc, digest, limits, check, configs=False)
    try:
        native: str | None = detect(body).name
    except ReaderError:
        native = None
    hint = (
        f"this is {native} output: send it as multipart/form-data with 'baseline' and 'mesh' "
        "files, or wrap it in an SMP bundle (smp-runner convert)"
        if native
        else "the document is neither an SMP bundle nor an SMP result"
    )
    problem = Problem("", "unsupported-format", hint)
    return Reading(digest, "native" if native else "", native or "", [problem], unsupported=True)


def _read_any(body: bytes, digest: str, limits: Limits, check: bool, format: str | None) -> Reading:
    """Any one document, native outputs included, as ``smp-runner validate`` reads it."""
    try:
        reader = get_reader(format) if format else detect(body)
    except ReaderError as exc:
        return Reading(digest, "", format or "", [_unreadable(exc)])
    if reader.name == smpdoc.NAME:
        try:
            doc = document.parse_document(body)
        except ReaderError as exc:
            return Reading(digest, "", reader.name, [_unreadable(exc)])
        return _read_document(doc, digest, limits, check, configs=True)
    return _read_native(body, digest, reader, check)


def _read_native(body: bytes, digest: str, reader: Reader, check: bool) -> Reading:
    try:
        results = reader.read(body)
    except ReaderError as exc:
        return Reading(digest, "native", reader.name, [_unreadable(exc)])
    problems: list[Problem] = []
    if check:
        for index, result in enumerate(results):
            prefix = f"results[{index}]" if len(results) > 1 else ""
            problems.extend(consistency.check_result(result, prefix))
    return Reading(digest, "native", reader.name, problems, results=results)


def _read_document(
    doc: dict[str, Any], digest: str, limits: Limits, check: bool, *, configs: bool
) -> Reading:
    """An SMP document as the spec or this index spells it (smp.spec): limits and the
    input policy, then (``check``) its schema and consistency.

    A document with ``runs`` is a bundle even when they are not a list: the
    client meant one, and hears which field is wrong (400), not that the
    format is unknown (415); the door checks such a document's schema at once.
    A configuration (a test, a mesh, an environment) is read for what it is;
    only ``configs`` takes it as valid on its own (``smp-runner validate``).
    """
    kind: Kind = "bundle" if "runs" in doc else (shapes.kind_of(doc) or "result")  # type: ignore[assignment]
    problems = check_door(doc, limits)
    if not problems and kind in CONFIG_KINDS and not configs:
        what = shapes.MESSAGE_NAMES[kind]
        message = (
            f"this is an SMP {what}, which describes a test rather than its results: send a "
            "bundle (smp-runner bundle --config ... writes one), or run it with "
            "smp-runner run --config"
        )
        return Reading(digest, kind, smpdoc.NAME, [Problem("", "unsupported-format", message)],
                       unsupported=True)  # fmt: skip
    if not problems and not check and kind == "bundle" and not document.is_bundle(doc):
        problems = document.validate_schema(doc, "bundle")
    if problems or not check:
        return Reading(digest, kind, smpdoc.NAME, problems)
    normalized = spec.normalize(doc, kind=kind)
    if normalized.problems:
        return Reading(digest, kind, smpdoc.NAME, normalized.problems)
    read = spec.build(normalized)
    problems = list(read.warnings)
    if read.bundle is not None:
        problems += consistency.check_bundle(read.bundle)
        return Reading(digest, kind, smpdoc.NAME, problems, read.bundle, list(read.bundle.runs))
    if read.result is None:
        return Reading(digest, kind, smpdoc.NAME, problems, spec=read)
    # A lone result is a mesh run with nothing to compare it with: stored, never ranked.
    result = read.result
    problems += consistency.check_result(result)
    if result.role is None:
        result.role = "mesh"
    bundle = Bundle(runs=[result], profile=result.profile_id)
    problems += [p for p in consistency.check_bundle(bundle) if p.rule in consistency.WARNING_RULES]
    return Reading(digest, kind, smpdoc.NAME, problems, bundle, [result], spec=read)


# Forms of native outputs ------------------------------------------------------------------


@dataclass
class Form:
    """A multipart form: its text fields and its files (several per name allowed)."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, list[bytes]] = field(default_factory=dict)

    def digest(self) -> str:
        """The form's content, for duplicates: the fields and files that make the bundle,
        in a fixed order, so the same outputs sent twice are one submission whatever
        boundary, part order or extra fields (a web form's CSRF token) came with them."""
        digest = hashlib.sha256()
        for name in sorted(set(self.fields) & {*FORM_FIELDS, *FORMAT_FIELDS}):
            digest.update(f"field:{name}={self.fields[name]}\n".encode())
        for name in RUN_FILES:
            for part in self.files.get(name, []):
                digest.update(f"file:{name}:{hashlib.sha256(part).hexdigest()}\n".encode())
        return digest.hexdigest()


def parse_form(body: bytes, content_type: str, max_bytes: int) -> Form:
    """Split a multipart body into its fields and files, in memory; ReaderError when
    it is not a readable form."""
    _, options = multipart.parse_options_header(content_type)
    boundary = options.get("boundary", "")
    if not boundary:
        raise ReaderError("multipart", "the content type names no boundary")
    form = Form()
    try:
        parser = multipart.MultipartParser(
            io.BytesIO(body),
            boundary,
            content_length=len(body),
            spool_limit=max_bytes + 1,
            memory_limit=max_bytes + 1,
            disk_limit=0,
            strict=True,
        )
        for part in parser:
            if part.filename is None:
                form.fields[part.name] = part.value
            else:
                form.files.setdefault(part.name, []).append(part.raw)
    except (multipart.MultipartError, UnicodeDecodeError, ValueError) as exc:
        raise ReaderError("multipart", f"unreadable form: {exc}") from None
    return form


def _read_form(body: bytes, content_type: str, limits: Limits, check: bool) -> Reading:
    try:
        form = parse_form(body, content_type, limits.max_bytes)
    except ReaderError as exc:
        digest = hashlib.sha256(body).hexdigest()
        return Reading(digest, "", "", [Problem("", "malformed-multipart", exc.message)])
    digest = form.digest()
    problems = _form_problems(form) or _form_limit_problems(form, limits)
    if problems or not check:
        return Reading(digest, "form", "multipart", problems)
    doc, problems = _bundle_document(form)
    if problems:
        return Reading(digest, "form", "multipart", problems)
    reading = _read_document(doc, digest, limits, check=True, configs=False)
    reading.kind, reading.format = "form", "multipart"
    return reading


def _form_problems(form: Form) -> list[Problem]:
    problems = []
    for name in RUN_FILES:
        if not form.files.get(name):
            problems.append(Problem(name, "required", f"the form needs a '{name}' file"))
    for name in ("profile", "mesh_type"):
        if not form.fields.get(name, "").strip():
            problems.append(Problem(name, "required", f"the form needs a '{name}' field"))
    mtls = form.fields.get("mtls", "").strip().lower()
    if mtls and mtls not in TRUE_WORDS | FALSE_WORDS:
        problems.append(Problem("mtls", "boolean", f"mtls must be true or false, got {mtls!r}"))
    return problems


def _form_limit_problems(form: Form, limits: Limits) -> list[Problem]:
    problems = []
    for name, value in form.fields.items():
        if "\x00" in name or "\x00" in value:
            problems.append(Problem(name, "no-nul", "text may not contain a NUL byte (\\u0000)"))
        # The environment is a document of its own, checked below once parsed.
        elif name != "environment" and len(value) > limits.max_string_length:
            problems.append(
                Problem(
                    name,
                    "max-string-length",
                    f"text is limited to {limits.max_string_length} characters; "
                    f"this has {len(value)}",
                )
            )
    if problems or not form.fields.get("environment", "").strip():
        return problems
    try:
        environment = document.parse_document(form.fields["environment"].encode())
    except NestingTooDeepError as exc:
        return [Problem("environment", "max-depth", exc.message)]
    except ReaderError:
        return []  # reported as malformed, with its line and column, once the form is read
    # The environment sits one level down in the bundle built from the form.
    wrapped = {"environment": environment}
    return check_door(wrapped, limits)


def _bundle_document(form: Form) -> tuple[dict[str, Any], list[Problem]]:
    """The bundle document a form stands for, or the problems of its files."""
    runs: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for role in RUN_FILES:
        forced = form.fields.get(f"{role}_format") or None
        for index, data in enumerate(form.files[role]):
            path = role if len(form.files[role]) == 1 else f"{role}[{index}]"
            try:
                reader = get_reader(forced) if forced else detect(data)
                results = reader.read(data)
            except ReaderError as exc:
                problems.append(Problem(path, "readable", str(exc)))
                continue
            if len(results) != 1:
                problems.append(
                    Problem(path, "one-run", f"{reader.name} file holds {len(results)} runs, not 1")
                )
                continue
            results[0].role = role
            runs.append(results[0].to_dict())
    doc: dict[str, Any] = {
        "profile": form.fields["profile"].strip(),
        "mesh_config": {"mesh_type": form.fields["mesh_type"].strip().lower()},
        "runs": runs,
    }
    if form.fields.get("mesh_version", "").strip():
        doc["mesh_config"]["mesh_version"] = form.fields["mesh_version"].strip()
    mtls = form.fields.get("mtls", "").strip().lower()
    if mtls:
        doc["mesh_config"]["mtls_enabled"] = mtls in TRUE_WORDS
    if form.fields.get("environment", "").strip() and not problems:
        try:
            doc["environment"] = document.parse_document(form.fields["environment"].encode())
        except ReaderError as exc:
            problems.append(Problem("environment", "malformed", str(exc)))
    return doc, problems


def _unreadable(exc: ReaderError) -> Problem:
    return Problem(path="", rule="readable", message=str(exc))
