"""The demo corpus: realistic SMP submissions generated from published overhead figures.

``catalog`` holds the figures (each with its source, or marked as an
assumption), ``fortio`` writes native ``fortio load -json`` outputs from a
latency model, ``generate`` plans campaigns and turns each repetition into an
SMP bundle, and ``seed`` (Django) submits the bundles through the real
ingestion pipeline. Everything but ``seed`` is pure and deterministic for a
given seed.
"""

DEFAULT_SIZE = 300
"""Submissions in the demo corpus (each holds a baseline and a mesh run)."""
DEFAULT_SEED = 2024
