"""One entry point that says everything wrong with a document, by field path.

Used by ``smp-runner validate`` and by the index's processing pipeline, so a
contributor sees locally exactly the verdict the server would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from smp import consistency, document
from smp.errors import Problem, ReaderError
from smp.model import Bundle, PerformanceTestResult
from smp.readers import detect, get_reader, smpdoc
from smp.spec import read as spec
from smp.spec.read import SpecDocument


@dataclass
class Report:
    """What validation found.

    ``kind`` is ``bundle`` for an SMP bundle, ``test_config``, ``mesh_config``
    or ``environment`` for an SMP configuration, ``result`` otherwise (a native
    output converts to one or more results). ``bundle`` or ``results`` hold the
    parsed objects when the input could be read at all; ``spec`` the whole SMP
    document (a configuration, or a result with its companions).
    """

    format: str | None
    kind: str
    problems: list[Problem] = field(default_factory=list)
    bundle: Bundle | None = None
    results: list[PerformanceTestResult] = field(default_factory=list)
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


def validate_bytes(data: bytes, format: str | None = None) -> Report:
    """Read ``data`` (detecting its format unless given) and check it fully."""
    try:
        reader = get_reader(format) if format else detect(data)
    except ReaderError as exc:
        return Report(format=format, kind="result", problems=[_unreadable(exc)])

    if reader.name == smpdoc.NAME:
        return _validate_smp_document(data)

    try:
        results = reader.read(data)
    except ReaderError as exc:
        return Report(format=reader.name, kind="result", problems=[_unreadable(exc)])
    problems: list[Problem] = []
    for index, result in enumerate(results):
        prefix = f"results[{index}]" if len(results) > 1 else ""
        problems.extend(consistency.check_result(result, prefix))
    return Report(format=reader.name, kind="result", problems=problems, results=results)


def _validate_smp_document(data: bytes) -> Report:
    try:
        doc = document.parse_document(data)
    except ReaderError as exc:
        return Report(format=smpdoc.NAME, kind="result", problems=[_unreadable(exc)])
    normalized = spec.normalize(doc)
    kind = normalized.kind
    if normalized.problems:
        return Report(format=smpdoc.NAME, kind=kind, problems=normalized.problems)
    read = spec.build(normalized)
    problems = list(read.warnings)
    if read.bundle is not None:
        problems.extend(consistency.check_bundle(read.bundle))
        return Report(smpdoc.NAME, kind, problems, bundle=read.bundle, results=read.bundle.runs)
    if read.result is not None:
        problems.extend(consistency.check_result(read.result))
        return Report(smpdoc.NAME, kind, problems, results=[read.result], spec=read)
    return Report(smpdoc.NAME, kind, problems, spec=read)


def _unreadable(exc: ReaderError) -> Problem:
    return Problem(path="", rule="readable", message=str(exc))
