"""``python -m bench.bench_ingest``."""

from bench.bench_ingest.run import main

main()
