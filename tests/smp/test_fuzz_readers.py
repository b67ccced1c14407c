"""Every reader, fed mutated real samples and generated junk, raises only its own error.

A reader may refuse anything, but only with ReaderError (a clear message); any
other exception would surface as a 500 in the API or a traceback in the CLI.
"""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smp.errors import ReaderError
from smp.readers import detect, readers
from smp.submission import read_submission

from ..conftest import sample_files

SAMPLES = [p.read_bytes() for p in sample_files()]
READERS = readers()
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    """A real sample with a few bytes flipped, cut, duplicated or replaced by JSON junk."""
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "dup", "junk", "truncate"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif action == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
        elif action == "junk":
            junk = draw(st.sampled_from([b"NaN", b"-1", b"1e999", b'"x"', b"null", b"{}", b"[]"]))
            data[at:at] = junk
        else:
            del data[at:]
    return bytes(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _only_reader_errors(data: bytes) -> None:
    for reader in READERS:
        assert isinstance(reader.sniff(data), bool)  # sniff never raises
        with contextlib.suppress(ReaderError):
            reader.read(data)


@pytest.mark.slow
@FUZZ
@given(mutated_samples())
def test_readers_raise_only_reader_errors_on_mutated_samples(data: bytes) -> None:
    _only_reader_errors(data)


@pytest.mark.slow
@FUZZ
@given(json_values)
def test_readers_raise_only_reader_errors_on_arbitrary_json(value: object) -> None:
    _only_reader_errors(json.dumps(value).encode())


@pytest.mark.slow
@FUZZ
@given(st.binary(max_size=2048))
def test_readers_raise_only_reader_errors_on_arbitrary_bytes(data: bytes) -> None:
    _only_reader_errors(data)
    with contextlib.suppress(ReaderError):
        detect(data)


@pytest.mark.slow
@FUZZ
@given(mutated_samples())
def test_validation_never_raises_and_names_every_problem(data: bytes) -> None:
    report = read_submission(data, native_alone=True)
    for problem in report.problems:
        assert problem.rule and problem.message
