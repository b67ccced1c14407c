"""meshery: Meshery performance results (a JSON array, one result, or a results page).

Shapes. Meshery's server writes snake_case keys (``meshery_id``, ``name``,
``mesh``, ``performance_profile``, ``test_start_time``, ``runner_results``);
its generated API clients use camelCase (``mesheryId``, ``runnerResults``,
``testStartTime``, ``performanceProfile``; ``meshName`` is read as ``mesh``).
Top-level keys of each result are normalized to snake_case; the load
generator's own keys inside ``runner_results`` are left alone. A page from
``/api/user/performance/profiles/results`` (``{"page": .., "results": [..]}``)
is read too.

Method. Each Meshery result gives one SMP result per runner result
(``runner_results`` is an object, or a list of one). Meshery stores fortio's
JSON there for all of its load generators: fortio's own, nighthawk's fortio
transform, and gowrk2's fortio-shaped result; the ``load-generator`` key says
which, and names the load generator. Those are converted by
:func:`smp.readers.fortio.convert` (durations in seconds -> ms, see there).
Native nighthawk output is converted by :func:`smp.readers.nighthawk.convert`;
anything else is refused with the reason.

Labels: ``meshery_id``, ``name``, ``mesh`` (``"none"`` when Meshery recorded
no mesh), ``performance_profile`` and ``test_id`` when present, plus the
runner's ``url``/``run_labels``.

Start time: the runner's ``StartTime``, which carries its UTC offset, wins
over ``test_start_time``: Meshery writes the latter as local wall-clock time
followed by a ``Z`` (in the samples it is 5h30 ahead of both StartTime and
``created_at``). ``test_start_time`` is used only when the runner has none.

What the source lacks: anything fortio lacks (see the fortio reader); mesh
versions and resource usage (``server_metrics`` is not read).
"""

from __future__ import annotations

import re
from typing import Any

from smp.errors import ReaderError
from smp.loaders import decode_text, load_json
from smp.model import PerformanceTestResult
from smp.readers import fortio, nighthawk
from smp.readers._fields import Fields, json_type, parse_timestamp

NAME = "meshery"
_ALIASES = {"mesh_name": "mesh"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _is_record(value: Any) -> bool:
    return isinstance(value, dict) and ("runner_results" in value or "runnerResults" in value)


def _records(doc: Any) -> list[tuple[str, Any]] | None:
    """The Meshery results in ``doc`` with their paths, or None if it holds none."""
    if isinstance(doc, list):
        if doc and all(isinstance(x, dict) for x in doc) and any(_is_record(x) for x in doc):
            return [(f"[{i}]", x) for i, x in enumerate(doc)]
        return None
    if _is_record(doc):
        return [("", doc)]
    if isinstance(doc, dict) and isinstance(doc.get("results"), list):
        page = doc["results"]
        if page and any(_is_record(x) for x in page) and ("page" in doc or "page_size" in doc):
            return [(f"results[{i}]", x) for i, x in enumerate(page)]
    return None


def sniff(data: bytes) -> bool:
    try:
        text = data.decode("utf-8-sig")
        if not text.lstrip().startswith(("{", "[")):
            return False
        return _records(load_json(text, NAME)) is not None
    except Exception:
        return False


def read(data: bytes) -> list[PerformanceTestResult]:
    doc = load_json(decode_text(data, NAME), NAME)
    records = _records(doc)
    if records is None:
        raise ReaderError(
            NAME,
            "no Meshery result here: expected an object (or an array of objects) with "
            f"runner_results, got {json_type(doc)} without one",
        )
    results: list[PerformanceTestResult] = []
    for path, record in records:
        results.extend(convert(record, path=path))
    return results


def _normalize(record: Any, path: str) -> Fields:
    fields = Fields(record, path, NAME)
    out: dict[str, Any] = {}
    for key, value in fields.obj.items():
        snake = _CAMEL.sub("_", key).lower()
        snake = _ALIASES.get(snake, snake)
        if snake in out:
            fields.fail(
                key, f"duplicates another key once camelCase is read as snake_case ({snake})"
            )
        out[snake] = value
    return Fields(out, path, NAME)


def convert(record: Any, *, path: str = "") -> list[PerformanceTestResult]:
    """One Meshery result -> one SMP result per runner result."""
    rec = _normalize(record, path)
    raw = rec.obj.get("runner_results")
    if raw is None:
        rec.fail("runner_results", "is missing")
    entries = raw if isinstance(raw, list) else [raw]
    where = rec.where("runner_results")
    if not entries:
        raise ReaderError(NAME, f"{where} is empty: the test produced no result")
    labels = _labels(rec)
    test_start = rec.obj.get("test_start_time")
    results: list[PerformanceTestResult] = []
    for index, entry in enumerate(entries):
        entry_where = f"{where}[{index}]" if isinstance(raw, list) else where
        runner = Fields(entry, entry_where, NAME)
        generator = runner.text("load-generator")
        if "DurationHistogram" in runner.obj:
            result = fortio.convert(
                runner.obj, format=NAME, path=entry_where, generator=generator or None
            )
        elif nighthawk.looks_like_output(runner.obj):
            result = nighthawk.convert(runner.obj, format=NAME, path=entry_where)
        else:
            raise ReaderError(
                NAME,
                f"{entry_where} (load-generator {generator or 'not named'}) holds neither "
                "fortio's JSON (no DurationHistogram) nor nighthawk's; re-export the result "
                "from Meshery with its runner results, or submit the load generator's own output",
            )
        if result.start_time is None and test_start is not None:
            result.start_time = parse_timestamp(test_start, rec.where("test_start_time"), NAME)
        result.labels = {**result.labels, **labels}
        results.append(result)
    return results


def _labels(rec: Fields) -> dict[str, str]:
    labels: dict[str, str] = {}
    for key in ("meshery_id", "name", "performance_profile", "test_id"):
        value = rec.text(key)
        if value:
            labels[key] = value
    labels["mesh"] = rec.text("mesh") or "none"
    return labels
