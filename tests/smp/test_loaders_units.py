from __future__ import annotations

import pytest

from smp.errors import ReaderError
from smp.loaders import MAX_DEPTH, load_json, load_yaml
from smp.units import duration_to_ms


@pytest.mark.parametrize("text", ["[NaN]", "[Infinity]", "[-Infinity]", "[1e999]"])
def test_json_refuses_numbers_that_are_not_finite(text: str) -> None:
    with pytest.raises(ReaderError):
        load_json(text)


def test_json_refuses_duplicate_keys() -> None:
    with pytest.raises(ReaderError, match="duplicate key 'a'"):
        load_json('{"a": 1, "a": 2}')


def test_json_refuses_deep_nesting() -> None:
    with pytest.raises(ReaderError, match="nests deeper"):
        load_json("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5))


def test_json_errors_name_line_and_column() -> None:
    with pytest.raises(ReaderError, match="line 2 column 5"):
        load_json('{"a":\n    }')


def test_json_refuses_bytes_that_are_not_utf8() -> None:
    with pytest.raises(ReaderError, match="not UTF-8"):
        load_json(b'{"a": "\xff"}')


def test_yaml_refuses_aliases() -> None:
    with pytest.raises(ReaderError, match="aliases"):
        load_yaml("a: &x [1]\nb: *x\n")


@pytest.mark.parametrize("text", ["a: .nan", "a: .inf", "a: -.Inf"])
def test_yaml_refuses_nan_and_infinity(text: str) -> None:
    with pytest.raises(ReaderError, match="NaN and Infinity"):
        load_yaml(text)


def test_yaml_refuses_python_tags() -> None:
    with pytest.raises(ReaderError):
        load_yaml("a: !!python/object/apply:os.system ['true']")


def test_yaml_refuses_duplicate_keys() -> None:
    with pytest.raises(ReaderError, match="duplicate key"):
        load_yaml("a: 1\na: 2\n")


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1.5ms", 1.5),
        ("0.000059131s", 0.059131),
        ("250us", 0.25),
        ("250µs", 0.25),
        ("1m30.5s", 90500.0),
        ("2h", 7_200_000.0),
        ("-3ms", -3.0),
        ("0", 0.0),
        ("100ns", 0.0001),
    ],
)
def test_durations_convert_to_milliseconds(text: str, ms: float) -> None:
    assert duration_to_ms(text, "x") == pytest.approx(ms)


@pytest.mark.parametrize("text", ["", "ms", "1.5", "1.5 parsecs", "1ms2", "+"])
def test_non_durations_raise_a_reader_error_naming_the_text(text: str) -> None:
    with pytest.raises(ReaderError, match="is not a duration"):
        duration_to_ms(text, "x")
