"""`python -m bench` (make bench): run every benchmark in turn; each writes its docs section."""

from __future__ import annotations

import subprocess
import sys

BENCHES = (
    "bench.bench_scoring",
    "bench.bench_ingest",
    "bench.bench_scale",  # the longest: grows a corpus to 1M results (about an hour here)
    "bench.bench_pages",  # the same corpus again, for the mesh, cost, results and token pages
    "bench.bench_loadgen",
    "bench.bench_repeatability",  # 5 local http-1k runs per proxy configuration
    "bench.bench_calibration",
    "bench.bench_gunicorn",
    "bench.bench_slow_clients",
)


def main() -> None:
    failed = []
    for module in BENCHES:
        print(f"== {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module], check=False).returncode != 0:
            failed.append(module)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
