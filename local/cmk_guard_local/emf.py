"""Read CloudWatch embedded metric format (EMF) records, checked against the specification, into metric data.

The specification (CloudWatch user guide, "Specification: Embedded metric format"): a log line that is a JSON
object with an ``_aws`` member is an EMF record. ``_aws`` holds ``Timestamp`` (milliseconds since the epoch) and
``CloudWatchMetrics``, a list of directives; each directive has a ``Namespace``, ``Dimensions`` (a list of dimension
sets, each a list of names, at most 30) and ``Metrics`` (a list of ``{"Name", "Unit"?, "StorageResolution"?}``).
Every dimension name and metric name refers to a top-level member: a dimension's value is a string, a metric's value
a number or a list of at most 100 numbers. Each metric yields one datum per dimension set.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

UNITS = frozenset(
    {
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
        "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
        "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
        "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
    }
)
MAX_DIMENSIONS = 30
MAX_VALUES = 100


class EmfError(ValueError):
    """A line that claims to be EMF (it has ``_aws``) but breaks the specification."""


@dataclass(frozen=True)
class Datum:
    """One metric as CloudWatch would extract it: name, namespace, exact dimension set, unit and values."""

    namespace: str
    name: str
    unit: str
    dimensions: tuple[tuple[str, str], ...]  # sorted by name
    values: tuple[float, ...]
    timestamp_ms: int

    @property
    def dimension_map(self) -> dict[str, str]:
        return dict(self.dimensions)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise EmfError(f"{what} must be a non-empty string of at most 255 characters, not {value!r}")
    return value


def parse_record(line: str) -> list[Datum] | None:
    """The data of one log line; ``None`` when the line is not EMF; ``EmfError`` when it breaks the specification."""
    try:
        document = json.loads(line)
    except ValueError:
        return None
    if not isinstance(document, dict) or "_aws" not in document:
        return None
    meta = document["_aws"]
    if not isinstance(meta, dict):
        raise EmfError("_aws must be an object")
    timestamp = meta.get("Timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp < 0:
        raise EmfError(f"_aws.Timestamp must be a non-negative integer of milliseconds, not {timestamp!r}")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise EmfError("_aws.CloudWatchMetrics must be a list")
    data: list[Datum] = []
    for index, directive in enumerate(directives):
        where = f"CloudWatchMetrics[{index}]"
        if not isinstance(directive, dict):
            raise EmfError(f"{where} must be an object")
        namespace = _name(directive.get("Namespace"), f"{where}.Namespace")
        dimension_sets = directive.get("Dimensions")
        if not isinstance(dimension_sets, list):
            raise EmfError(f"{where}.Dimensions must be a list of dimension sets")
        resolved_sets: list[tuple[tuple[str, str], ...]] = []
        for set_index, names in enumerate(dimension_sets):
            if not isinstance(names, list) or len(names) > MAX_DIMENSIONS:
                raise EmfError(f"{where}.Dimensions[{set_index}] must be a list of at most {MAX_DIMENSIONS} names")
            pairs = []
            for name in names:
                _name(name, f"{where}.Dimensions[{set_index}] entry")
                value = document.get(name)
                if not isinstance(value, str):
                    raise EmfError(f"dimension {name!r} must be a top-level string member, not {value!r}")
                pairs.append((name, value))
            resolved_sets.append(tuple(sorted(pairs)))
        metrics = directive.get("Metrics")
        if not isinstance(metrics, list) or not metrics:
            raise EmfError(f"{where}.Metrics must be a non-empty list")
        for definition in metrics:
            if not isinstance(definition, dict):
                raise EmfError(f"{where}.Metrics entries must be objects")
            name = _name(definition.get("Name"), f"{where}.Metrics[].Name")
            unit = definition.get("Unit", "None")
            if unit not in UNITS:
                raise EmfError(f"metric {name!r} has unit {unit!r}, not a CloudWatch unit")
            if definition.get("StorageResolution", 60) not in (1, 60):
                raise EmfError(f"metric {name!r}: StorageResolution must be 1 or 60")
            raw = document.get(name)
            values = raw if isinstance(raw, list) else [raw]
            if not values or len(values) > MAX_VALUES or not all(_number(v) for v in values):
                raise EmfError(f"metric {name!r} must be a top-level number or list of 1 to {MAX_VALUES} numbers")
            for dimensions in resolved_sets or [()]:
                data.append(Datum(namespace, name, str(unit), dimensions, tuple(float(v) for v in values), timestamp))
    return data


def parse_lines(lines: Iterable[str]) -> list[Datum]:
    """Every datum in the EMF records among ``lines`` (other lines are skipped; a broken record raises)."""
    data: list[Datum] = []
    for line in lines:
        parsed = parse_record(line)
        if parsed:
            data.extend(parsed)
    return data
