"""Rename a document's keys to MeshMark's names, message by message (tables in fields.py).

The walk turns every spelling the spec uses into the name of docs/smp.md,
converts what the proto3 JSON mapping writes differently (numbers as text,
enums as names or integers, ``mesh_type`` as a ServiceMesh message), and
reports unknown fields with their path and the closest known name. It records
where each renamed field came from, so that problems found later (by the
schema) name the field as the document spells it.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from smp.document import format_path
from smp.errors import Problem
from smp.model import MESH_TYPES
from smp.spec import names
from smp.spec.fields import MESSAGES, Field, spellings

_DECIMAL = re.compile(r"^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
_NON_FINITE = frozenset({"NaN", "Infinity", "-Infinity"})
_SERVICE_MESH_FIELDS = {
    "mesh_type": "type",
    "mesh_version": "version",
    "mesh_labels": "labels",
    "mesh_annotations": "annotations",
}


@dataclass
class Walk:
    """One document's renaming: problems found and the origin of every renamed path."""

    v01: bool = False
    """The document is written for the v0.1 proto (it says ``smps_version``)."""
    problems: list[Problem] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)
    """MeshMark path -> the document's path, where they differ."""

    def fail(self, path: str, rule: str, message: str) -> None:
        self.problems.append(Problem(path, rule, message))

    def message(self, name: str, value: Any, src: str, dst: str) -> Any:
        """``value`` (a mapping for message ``name``) with MeshMark's names."""
        if not isinstance(value, Mapping):
            return value  # the schema names the type it should have
        table = MESSAGES[name]
        keys = spellings(name)
        out: dict[str, Any] = {}
        given_as: dict[str, str] = {}
        for key, item in value.items():
            key_text = str(key)
            target = keys.get(key_text)
            here = format_path([key_text], src)
            if target is None:
                self._unknown(name, key_text, here)
                continue
            if target in out:
                self._twice(out, target, item, src, given_as, key_text)
                continue
            there = format_path([target], dst)
            if here != there:
                self.origins[there] = here
            given_as[target] = key_text
            converted = self.convert(table[target], item, here, there)
            if table[target].kind == "mesh_type":
                self._merge_mesh_type(out, converted, here, given_as)
            else:
                out[target] = converted
        return out

    def _twice(
        self,
        out: dict[str, Any],
        target: str,
        item: Any,
        src: str,
        given_as: dict[str, str],
        key: str,
    ) -> None:
        """A field given twice: fine only when mesh_type's version repeats mesh_build."""
        first = given_as[target]
        if first.startswith("mesh_type.") and out[target] == item:
            return
        if first.startswith("mesh_type."):
            self.fail(
                format_path([key], src),
                "mesh-type-consistent",
                f"{key} says {item!r} but {first} says {out[target]!r}",
            )
            return
        self.fail(src or "(document)", "not", f"give {first} or {key}, not both (the same field)")

    def _unknown(self, message: str, key: str, path: str) -> None:
        known = sorted(MESSAGES[message])
        hint = difflib.get_close_matches(key, sorted(spellings(message)), n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        self.fail(
            path,
            "additionalProperties",
            f"unknown field {key!r}{suggestion} (known: {', '.join(known)})",
        )

    def convert(self, spec: Field, value: Any, src: str, dst: str) -> Any:
        kind = spec.kind
        if kind == "message":
            assert spec.message is not None
            return self.message(spec.message, value, src, dst)
        if kind == "messages":
            assert spec.message is not None
            if not isinstance(value, list):
                return value
            return [
                self.message(spec.message, item, f"{src}[{i}]", f"{dst}[{i}]")
                for i, item in enumerate(value)
            ]
        if kind in ("number", "int"):
            return self._number(value, src)
        if kind == "enum":
            assert spec.enum is not None
            return self._enum(spec.enum, value, src)
        if kind == "texts":
            return [value] if isinstance(value, str) else value
        if kind == "mesh_type":
            return self._mesh_type(value, src)
        return value

    def _number(self, value: Any, path: str) -> Any:
        """proto3 JSON writes int64 (and may write any number) as decimal text."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text in _NON_FINITE:
            self.fail(path, "finite-number", f"{value!r} is not a finite number")
            return value
        if not _DECIMAL.match(text):
            return value  # the schema says it is not a number
        number = float(text)
        if number.is_integer() and "." not in text and "e" not in text.lower():
            return int(text)
        return number if math.isfinite(number) else value

    def _enum(self, enum: str, value: Any, path: str) -> Any:
        if enum == "protocol":
            numbers = names.PROTOCOL_NUMBERS_V01 if self.v01 else names.PROTOCOL_NUMBERS
            return self._enum_value(
                value, path, "PerformanceTestConfig.Client.Protocol", numbers,
                names.PROTOCOL_NAMES, "PROTOCOL_INVALID",
            )  # fmt: skip
        return self._enum_value(
            value, path, "ApplicationMetadata.ApplicationProtocol",
            names.APPLICATION_PROTOCOL_NUMBERS, names.APPLICATION_PROTOCOL_NAMES,
            "PROTOCOL_INVALID",
        )  # fmt: skip

    def _enum_value(
        self,
        value: Any,
        path: str,
        enum: str,
        numbers: Mapping[int, str],
        enum_names: Mapping[str, str],
        invalid: str,
    ) -> Any:
        lowered = set(numbers.values())
        if isinstance(value, bool):
            return value  # the schema names the type
        if isinstance(value, int):
            if value in numbers:
                return numbers[value]
        elif isinstance(value, str):
            if value in lowered:
                return value
            if value in enum_names:
                return enum_names[value]
            if value.lower() in lowered:  # the v0.1 proto's own enum names, any case
                return value.lower()
        else:
            return value
        known = ", ".join(f"{n} {v}" for n, v in sorted(numbers.items()))
        which = f"{invalid}: name one" if value in (0, invalid) else f"not a {enum}"
        self.fail(path, "enum", f"{value!r} is {which} (known: {known})")
        return value

    def _mesh_type(self, value: Any, path: str) -> dict[str, Any]:
        """``istio``, ``ISTIO``, ``3`` or a ServiceMesh ``{type, version, labels, annotations}``."""
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            table = {"type": "mesh_type", "version": "mesh_version"}
            table |= {"labels": "mesh_labels", "annotations": "mesh_annotations"}
            for key, item in value.items():
                here = format_path([str(key)], path)
                if key not in table:
                    self.fail(
                        here,
                        "additionalProperties",
                        f"unknown field {key!r} of ServiceMesh (known: {', '.join(table)})",
                    )
                elif key == "type":
                    out["mesh_type"] = self._mesh_type_value(item, here)
                else:
                    out[table[str(key)]] = item
            return out
        return {"mesh_type": self._mesh_type_value(value, path)}

    def _mesh_type_value(self, value: Any, path: str) -> Any:
        numbers = names.MESH_TYPE_NUMBERS_V01 if self.v01 else names.MESH_TYPE_NUMBERS
        if isinstance(value, str):
            if value in MESH_TYPES:
                return value
            if value in names.MESH_TYPE_NAMES:
                return names.MESH_TYPE_NAMES[value]
            if value.lower() in MESH_TYPES:
                return value.lower()
        if isinstance(value, int) and not isinstance(value, bool) and value in numbers:
            return numbers[value]
        if isinstance(value, int | str) and not isinstance(value, bool):
            known = ", ".join(f"{n} {v}" for n, v in sorted(numbers.items()))
            which = "INVALID_MESH: name one" if value in (0, "INVALID_MESH") else "not a mesh type"
            self.fail(path, "enum", f"{value!r} is {which} (known: {known})")
        return value

    def _merge_mesh_type(
        self, out: dict[str, Any], parts: Any, path: str, given_as: dict[str, str]
    ) -> None:
        for name, value in parts.items():
            if name in out and out[name] != value:
                self.fail(
                    path,
                    "mesh-type-consistent",
                    f"{given_as.get(name, name)} says {out[name]!r} but mesh_type says {value!r}",
                )
                continue
            out[name] = value
            given_as.setdefault(name, f"mesh_type.{_SERVICE_MESH_FIELDS[name]}")

    def origin(self, path: str) -> str:
        """The document's spelling of MeshMark path ``path`` (longest renamed prefix)."""
        return origin_of(path, self.origins)

    def located(self, problems: list[Problem]) -> list[Problem]:
        """``problems`` with their paths as the document spells them."""
        return [Problem(self.origin(p.path), p.rule, p.message) for p in problems]


def origin_of(path: str, origins: Mapping[str, str]) -> str:
    """``path`` with its longest prefix found in ``origins`` replaced by where it came from."""
    if path in origins:
        return origins[path]
    cut = len(path)
    while cut > 0:
        cut = max(path.rfind(".", 0, cut), path.rfind("[", 0, cut))
        if cut <= 0:
            break
        if path[:cut] in origins:
            return origins[path[:cut]] + path[cut:]
    return path
