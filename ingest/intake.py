"""Reading a submission's stored bytes back into an SMP bundle.

Two shapes arrive: a single SMP document (a bundle, or one result) as JSON or
YAML, and a multipart form with native load-generator files (``baseline`` and
``mesh``) plus the fields that say what was measured. Both end as a bundle
dict that goes through the same schema and consistency checks.
"""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from smp import document
from smp.errors import Problem, ReaderError
from smp.loaders import NestingTooDeepError
from smp.readers import detect, get_reader

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
FORM_FIELDS = ("profile", "mesh_type", "mesh_version", "mtls", "environment")
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


MAX_LIMIT_PROBLEMS = 20
"""Over-limit problems listed for one document; the rest are counted in one more."""


class IntakeError(Exception):
    """The bytes cannot become a bundle; ``problems`` say why, by field path."""

    def __init__(self, problems: list[Problem], *, unsupported: bool = False) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
        # True when the content is not something the API accepts at all (415).
        self.unsupported = unsupported


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


# Limits checked at the door ----------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What one SMP document may hold, checked before a submission is answered.

    Each is a setting (``SUBMISSION_MAX_*``) that can lower, never raise, the cap
    the SMP JSON Schema already puts on the same thing: a document refused here
    would be refused by the schema later anyway, and the client hears it at once.
    """

    max_depth: int
    max_runs: int
    max_string_length: int
    max_histogram_buckets: int

    @classmethod
    def from_settings(cls) -> Limits:
        caps = schema_caps()
        return cls(
            max_depth=settings.SUBMISSION_MAX_DEPTH,
            max_runs=min(settings.SUBMISSION_MAX_RUNS, caps["runs"]),
            max_string_length=settings.SUBMISSION_MAX_STRING_LENGTH,
            max_histogram_buckets=min(settings.SUBMISSION_MAX_HISTOGRAM_BUCKETS, caps["histogram"]),
        )


@functools.cache
def schema_caps() -> dict[str, int]:
    """The caps the SMP schemas put on what the door checks too (smp/schema/)."""
    result, bundle = document.load_schema("result"), document.load_schema("bundle")
    return {
        "runs": bundle["properties"]["runs"]["maxItems"],
        "histogram": result["properties"]["histogram"]["maxItems"],
        # The two long texts: a tool's native output kept verbatim, a request body.
        "raw.content": result["properties"]["raw"]["properties"]["content"]["maxLength"],
        "client.body": bundle["$defs"]["client"]["properties"]["body"]["maxLength"],
    }


def check_limits(doc: Any, limits: Limits | None = None) -> list[Problem]:
    """Every way a parsed SMP document (bundle or result) is over a limit, by field path.

    One pass over the document; nesting is followed no deeper than the limit.
    Rules: ``max-depth``, ``max-runs``, ``max-histogram-buckets``,
    ``max-string-length`` (keys and values; ``raw.content`` and a client's ``body``
    have the schema's own, larger caps).
    """
    limits = limits or Limits.from_settings()
    problems: list[Problem] = []
    runs = doc.get("runs") if isinstance(doc, dict) else None
    if isinstance(runs, list) and len(runs) > limits.max_runs:
        problems.append(
            Problem(
                "runs",
                "max-runs",
                f"a bundle holds at most {limits.max_runs} runs; this one has {len(runs)}",
            )
        )
    for path, run in _runs(doc):
        buckets = run.get("histogram")
        if isinstance(buckets, list) and len(buckets) > limits.max_histogram_buckets:
            problems.append(
                Problem(
                    document.format_path(["histogram"], path),
                    "max-histogram-buckets",
                    f"a histogram holds at most {limits.max_histogram_buckets} buckets; "
                    f"this one has {len(buckets)}",
                )
            )
    problems.extend(_walk(doc, [], limits))
    if len(problems) > MAX_LIMIT_PROBLEMS:
        more = len(problems) - MAX_LIMIT_PROBLEMS
        problems = problems[:MAX_LIMIT_PROBLEMS]
        problems.append(Problem("", "max-problems", f"{more} more over-limit problems"))
    return problems


def _runs(doc: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(doc, dict):
        return
    if document.is_bundle(doc):
        for index, run in enumerate(doc["runs"]):
            if isinstance(run, dict):
                yield f"runs[{index}]", run
    else:
        yield "", doc


_VISITED = (str, dict, list)


def _walk(value: Any, parts: list[Any], limits: Limits, depth: int = 1) -> Iterator[Problem]:
    if isinstance(value, str):
        cap = _string_cap(parts, limits)
        if len(value) > cap:
            yield Problem(
                document.format_path(parts),
                "max-string-length",
                f"text is limited to {cap} characters; this has {len(value)}",
            )
        return
    if not isinstance(value, dict | list):
        return
    if depth > limits.max_depth:
        yield Problem(
            document.format_path(parts),
            "max-depth",
            f"documents nest at most {limits.max_depth} levels of objects and lists",
        )
        return
    # Numbers, booleans and nulls are most of a document and cannot be over a limit:
    # only texts and containers are visited.
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, _VISITED):
                yield from _walk(item, [*parts, index], limits, depth + 1)
        return
    for key, item in value.items():
        if len(str(key)) > limits.max_string_length:
            yield Problem(
                document.format_path(parts),
                "max-string-length",
                f"field names are limited to {limits.max_string_length} characters; "
                f"one has {len(str(key))}",
            )
        elif isinstance(item, _VISITED):
            yield from _walk(item, [*parts, key], limits, depth + 1)


def _string_cap(parts: list[Any], limits: Limits) -> int:
    """The schema's larger cap for the two long texts, the door's limit for the rest."""
    tail = parts[-2:]
    in_run = len(parts) == 2 or (len(parts) == 4 and parts[0] == "runs")
    if tail == ["raw", "content"] and in_run:
        return schema_caps()["raw.content"]
    if len(parts) == 4 and parts[:2] == ["config", "clients"] and parts[3] == "body":
        return schema_caps()["client.body"]
    return limits.max_string_length


def _check_form_limits(form: Form, limits: Limits) -> list[Problem]:
    problems = []
    for name, value in form.fields.items():
        # The environment is a document of its own, checked below once parsed.
        if name != "environment" and len(value) > limits.max_string_length:
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
        return []  # the pipeline reports it as malformed, with its line and column
    # The environment sits one level down in the bundle built from the form.
    return check_limits({"environment": environment}, limits)


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, list[bytes]] = field(default_factory=dict)


def parse_multipart(body: bytes, content_type: str, max_bytes: int) -> Form:
    """Split a stored multipart body into its fields and files, in memory."""
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}
    handler = MemoryFileUploadHandler()
    handler.max_memory_size = max_bytes  # type: ignore[attr-defined]
    try:
        parser = MultiPartParser(meta, io.BytesIO(body), [handler], encoding="utf-8")
        post, files = parser.parse()
    except (MultiPartParserError, ValueError) as exc:
        raise IntakeError([Problem("", "malformed-multipart", f"unreadable form: {exc}")]) from None
    form = Form(fields={k: post.get(k, "") for k in post})
    for name in files:
        form.files[name] = [f.read() for f in files.getlist(name)]
    return form


def content_digest(body: bytes, content_type: str, max_bytes: int) -> str:
    """What duplicates are judged by (see Submission.content_digest)."""
    if media_type(content_type) != MULTIPART:
        return hashlib.sha256(body).hexdigest()
    try:
        form = parse_multipart(body, content_type, max_bytes)
    except IntakeError:
        return hashlib.sha256(body).hexdigest()
    digest = hashlib.sha256()
    for name in sorted(form.fields):
        digest.update(f"field:{name}={form.fields[name]}\n".encode())
    for name in sorted(form.files):
        for part in form.files[name]:
            digest.update(f"file:{name}:{hashlib.sha256(part).hexdigest()}\n".encode())
    return digest.hexdigest()


def precheck(body: bytes, content_type: str, max_bytes: int, limits: Limits | None = None) -> str:
    """Cheap checks done before answering 202; returns the detected format.

    Raises IntakeError (``unsupported`` for a 415) when the body is clearly not
    a submission, or is over one of the ``limits`` (settings by default), so the
    client hears at once rather than polling for it.
    """
    limits = limits or Limits.from_settings()
    kind = media_type(content_type)
    if kind == MULTIPART:
        form = parse_multipart(body, content_type, max_bytes)
        _require_form(form)
        problems = _check_form_limits(form, limits)
        if problems:
            raise IntakeError(problems)
        return "multipart"
    if kind and kind not in DOCUMENT_TYPES and not kind.startswith("text/"):
        raise IntakeError(
            [
                Problem(
                    "",
                    "unsupported-media-type",
                    f"content type {kind!r} is not accepted; send an SMP bundle as "
                    "application/json or application/yaml, "
                    "or native outputs as multipart/form-data",
                )
            ],
            unsupported=True,
        )
    doc = _parse(body)
    if isinstance(doc, dict) and (document.is_bundle(doc) or "latencies_ms" in doc):
        problems = check_limits(doc, limits)
        if problems:
            raise IntakeError(problems)
        return "smp"
    try:
        native = detect(body).name
    except ReaderError:
        native = None
    hint = (
        f"this is {native} output: send it as multipart/form-data with 'baseline' and 'mesh' "
        "files, or wrap it in an SMP bundle (smp-runner convert)"
        if native
        else "the document is neither an SMP bundle nor an SMP result"
    )
    raise IntakeError([Problem("", "unsupported-format", hint)], unsupported=True)


def _require_form(form: Form) -> None:
    problems = []
    for name in ("baseline", "mesh"):
        if not form.files.get(name):
            problems.append(Problem(name, "required", f"the form needs a '{name}' file"))
    for name in ("profile", "mesh_type"):
        if not form.fields.get(name, "").strip():
            problems.append(Problem(name, "required", f"the form needs a '{name}' field"))
    mtls = form.fields.get("mtls", "").strip().lower()
    if mtls and mtls not in TRUE_WORDS | FALSE_WORDS:
        problems.append(Problem("mtls", "boolean", f"mtls must be true or false, got {mtls!r}"))
    if problems:
        raise IntakeError(problems)


def _parse(body: bytes) -> Any:
    try:
        return document.parse_document(body)
    except NestingTooDeepError as exc:
        raise IntakeError([Problem("", "max-depth", exc.message)]) from None
    except ReaderError as exc:
        raise IntakeError([Problem("", "malformed", str(exc))]) from None


def bundle_document(body: bytes, content_type: str, max_bytes: int) -> dict[str, Any]:
    """The submission as one SMP bundle document (a dict, not yet schema-checked).

    Over-limit documents are refused with the door's rules, so a body that got
    past the door (reprocessed, or built from native files) hears the same.
    """
    if media_type(content_type) == MULTIPART:
        doc = _bundle_from_form(parse_multipart(body, content_type, max_bytes))
    else:
        doc = _parse(body)
        if not isinstance(doc, dict):
            raise IntakeError([Problem("", "type", "an SMP document must be a mapping")])
    problems = check_limits(doc)
    if problems:
        raise IntakeError(problems)
    if document.is_bundle(doc):
        return doc
    # A lone result: a one-run bundle. Without a baseline it will be kept unranked.
    return {"profile": doc.get("profile_id"), "runs": [doc]}


def _bundle_from_form(form: Form) -> dict[str, Any]:
    _require_form(form)
    runs: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for role in ("baseline", "mesh"):
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
            result = results[0]
            result.role = role
            runs.append(result.to_dict())
    if problems:
        raise IntakeError(problems)
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
    if form.fields.get("environment", "").strip():
        try:
            doc["environment"] = document.parse_document(form.fields["environment"].encode())
        except ReaderError as exc:
            raise IntakeError([Problem("environment", "malformed", str(exc))]) from None
    return doc


def encode_form(
    fields: dict[str, str], files: dict[str, list[tuple[str, bytes]]]
) -> tuple[bytes, str]:
    """Build a multipart/form-data body, for uploads that arrive as a web form.

    The web upload page stores the same shape of body the API would receive,
    so both go through one pipeline.
    """
    import secrets

    boundary = f"meshmark-{secrets.token_hex(12)}"
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f"--{boundary}\r\n".encode())
        out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for name, entries in files.items():
        for filename, data in entries:
            safe = filename.replace('"', "").replace("\r", "").replace("\n", "") or name
            out.write(f"--{boundary}\r\n".encode())
            out.write(
                f'Content-Disposition: form-data; name="{name}"; filename="{safe}"\r\n'.encode()
            )
            out.write(b"Content-Type: application/octet-stream\r\n\r\n")
            out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"{MULTIPART}; boundary={boundary}"
