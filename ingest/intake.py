"""Reading a submission's stored bytes back into an SMP bundle.

Two shapes arrive: a single SMP document (a bundle, or one result) as JSON or
YAML, and a multipart form with native load-generator files (``baseline`` and
``mesh``) plus the fields that say what was measured. Both end as a bundle
dict that goes through the same schema and consistency checks.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from smp import document
from smp.errors import Problem, ReaderError
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


class IntakeError(Exception):
    """The bytes cannot become a bundle; ``problems`` say why, by field path."""

    def __init__(self, problems: list[Problem], *, unsupported: bool = False) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
        # True when the content is not something the API accepts at all (415).
        self.unsupported = unsupported


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


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


def precheck(body: bytes, content_type: str, max_bytes: int) -> str:
    """Cheap checks done before answering 202; returns the detected format.

    Raises IntakeError (``unsupported`` for a 415) when the body is clearly not
    a submission, so the client hears at once rather than polling for it.
    """
    kind = media_type(content_type)
    if kind == MULTIPART:
        form = parse_multipart(body, content_type, max_bytes)
        _require_form(form)
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
    try:
        doc = document.parse_document(body)
    except ReaderError as exc:
        raise IntakeError([Problem("", "malformed", str(exc))]) from None
    if isinstance(doc, dict) and (document.is_bundle(doc) or "latencies_ms" in doc):
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


def bundle_document(body: bytes, content_type: str, max_bytes: int) -> dict[str, Any]:
    """The submission as one SMP bundle document (a dict, not yet schema-checked)."""
    if media_type(content_type) == MULTIPART:
        return _bundle_from_form(parse_multipart(body, content_type, max_bytes))
    try:
        doc = document.parse_document(body)
    except ReaderError as exc:
        raise IntakeError([Problem("", "malformed", str(exc))]) from None
    if not isinstance(doc, dict):
        raise IntakeError([Problem("", "type", "an SMP document must be a mapping")])
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
