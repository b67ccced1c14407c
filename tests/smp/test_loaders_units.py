from __future__ import annotations

import json

import pytest

from smp.errors import ReaderError
from smp.loaders import MAX_DEPTH, load_json, load_yaml
from smp.units import duration_to_ms


@pytest.mark.parametrize("text", ["[NaN]", "[Infinity]", "[-Infinity]", "[1e999]"])
def test_json_refuses_numbers_that_are_not_finite(text: str) -> None:
    with pytest.raises(ReaderError):
        load_json(text)


@pytest.mark.parametrize(
    "text", ['{"a": {"b": [1, -1e999]}}', "[1.5, 2e308]", '{"x": 1e400, "y": "' + "z" * 99 + '"}']
)
def test_a_number_too_large_for_a_float_is_named_wherever_it_is(text: str) -> None:
    """Floats are parsed by the C decoder and an overflow found after (smp.loaders.load_json):
    the error still names the number, as the checking hook did."""
    with pytest.raises(ReaderError, match=r"malformed JSON: -?\d+e\d+ is too large for a number"):
        load_json(text)


def _old_depth(value: object, depth: int = 0) -> bool:
    """The nesting rule as first written: any value deeper than MAX_DEPTH (scalars too)."""
    if depth > MAX_DEPTH:
        return True
    if isinstance(value, dict):
        return any(_old_depth(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(_old_depth(v, depth + 1) for v in value)
    return False


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 2])
@pytest.mark.parametrize("leaf", ["1", "1.5", '"s"', "[]", "{}", "null"])
def test_nesting_is_refused_exactly_where_it_was(levels: int, leaf: str) -> None:
    text = '{"k": ' * levels + leaf + "}" * levels
    expected_deep = _old_depth(json.loads(text))
    if expected_deep:
        with pytest.raises(ReaderError, match="nests deeper"):
            load_json(text)
    else:
        assert load_json(text) == json.loads(text)


def test_a_large_number_is_named_before_deep_nesting_as_before() -> None:
    text = "[" * (MAX_DEPTH + 5) + "1e999" + "]" * (MAX_DEPTH + 5)
    with pytest.raises(ReaderError, match="too large"):
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
