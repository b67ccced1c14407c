"""Phase 5: the memory a fresh process needs to store and process a big submission."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from bench.bench_ingest.settings import ORG
from bench.common import ROOT

MEMORY_PROBE = """
import json, re, sys, time
import django
django.setup()
from ingest import processing, submissions
from ingest.models import Organization, Submission

def status(field):
    text = open("/proc/self/status").read()
    return int(re.search(rf"^{field}:\\s+(\\d+) kB", text, re.MULTILINE).group(1)) / 1024

organization = Organization.objects.get(slug=sys.argv[1])
warm, target = open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()

def store_and_process(body):
    submission, _ = submissions.submission_create(
        organization=organization, body=body, content_type="application/json"
    )
    processing.submission_process(submission_id=submission.pk)  # eager: already done, a no-op
    return Submission.objects.get(pk=submission.pk)

store_and_process(warm)  # imports, caches, connections: not the submission's cost
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # the peak (VmHWM) starts again from the current RSS
before = status("VmRSS")
start = time.perf_counter()
submission = store_and_process(target)
seconds = time.perf_counter() - start
print(json.dumps({
    "before_mb": before, "after_mb": status("VmHWM"), "seconds": seconds,
    "status": submission.status, "errors": submission.errors[:3],
    "results": submission.results.count(), "size": len(target),
}))
"""


def memory_probe(env: dict[str, str], warm: bytes, target: bytes, tmp: Path) -> dict[str, Any]:
    """RSS of a fresh process before, and its peak while, storing and processing ``target``
    (eager, no broker), once a small bundle went through first.

    The peak is VmHWM, reset just before: getrusage's ru_maxrss would not do, as a child
    inherits its parent's peak across fork and exec (this bench's own ~200 MB)."""
    warm_file, target_file = tmp / f"warm-{uuid.uuid4()}.json", tmp / f"target-{uuid.uuid4()}"
    warm_file.write_bytes(warm)
    target_file.write_bytes(target)
    probe_env = {**env, "CELERY_BROKER_URL": "", "DJANGO_SETTINGS_MODULE": "meshmark.settings"}
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, ORG, str(warm_file), str(target_file)],
        cwd=ROOT, env=probe_env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(json.loads(out.strip().splitlines()[-1]))
