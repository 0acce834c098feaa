"""Walks over botocore shapes: service-side constraint checks, output conformance, wire encoding, redaction."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from botocore.model import Shape

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
_DROP = object()

# Known defects in the botocore models, fixed before compiling (the real service accepts these values).
_PATTERN_FIXES = (("/d{12}", r"\d{12}"),)  # bedrock-agent TaggableResourcesArn writes "/d{12}" for "\d{12}"


@lru_cache(maxsize=None)
def compiled_pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's pattern compiled for a full match (``None`` if Python's ``re`` cannot express it)."""
    for bad, good in _PATTERN_FIXES:
        pattern = pattern.replace(bad, good)
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        return None


def _path(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


def _shown(shape: Shape, value: Any) -> str:
    return "***" if shape.metadata.get("sensitive") else str(value)


def constraint_errors(shape: Shape, value: Any, path: str = "") -> list[str]:
    """What the service itself rejects and botocore does not check: patterns, enums, max lengths, ranges.

    Messages follow the AWS ``ValidationException`` wording.
    """
    errors: list[str] = []
    meta = shape.metadata
    kind = shape.type_name
    if value is None:
        return errors
    if kind == "structure" and isinstance(value, dict) and not meta.get("document"):
        for name, member in shape.members.items():
            if name in value:
                errors += constraint_errors(member, value[name], _path(path, name))
    elif kind == "list" and isinstance(value, list):
        errors += _size_errors(meta, len(value), path, value)
        for i, item in enumerate(value):
            errors += constraint_errors(shape.member, item, f"{path}.{i + 1}.member")
    elif kind == "map" and isinstance(value, dict):
        errors += _size_errors(meta, len(value), path, value)
        for key, item in value.items():
            errors += constraint_errors(shape.key, key, f"{path}.key")
            errors += constraint_errors(shape.value, item, f"{path}.{key}")
    elif kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            errors.append(f"Value '{_shown(shape, value)}' at '{path}' failed to satisfy constraint: "
                          f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        errors += _size_errors(meta, len(value), path, _shown(shape, value))
        pattern = meta.get("pattern")
        rx = compiled_pattern(pattern) if pattern else None
        if rx is not None and not rx.fullmatch(value):
            errors.append(f"Value '{_shown(shape, value)}' at '{path}' failed to satisfy constraint: "
                          f"Member must satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long", "float", "double") and isinstance(value, (int, float)):
        if "min" in meta and value < meta["min"]:
            errors.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                          f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            errors.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                          f"Member must have value less than or equal to {meta['max']}")
    return errors


def _size_errors(meta: dict, size: int, path: str, shown: Any) -> list[str]:
    out = []
    if "min" in meta and size < meta["min"]:
        out.append(f"Value '{shown}' at '{path}' failed to satisfy constraint: "
                   f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        out.append(f"Value '{shown}' at '{path}' failed to satisfy constraint: "
                   f"Member must have length less than or equal to {meta['max']}")
    return out


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "long": (int,), "float": (int, float), "double": (int, float),
    "boolean": (bool,), "timestamp": (datetime,), "blob": (bytes, bytearray),
}


def conformance_errors(shape: Shape, value: Any, path: str = "$", *, ignore: tuple[str, ...] = ()) -> list[str]:
    """Every way ``value`` (Python form: datetimes, bytes) departs from ``shape``: unknown or missing members,
    types, enums, patterns, lengths and ranges. Empty when it conforms."""
    errors: list[str] = []
    kind = shape.type_name
    if kind == "structure" and shape.metadata.get("document"):
        return errors
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected object for {shape.name}, got {type(value).__name__}"]
        for key in value:
            if key not in shape.members and key not in ignore:
                errors.append(f"{path}: unknown member {key!r} for {shape.name}")
        for req in shape.required_members:
            if value.get(req) is None:
                errors.append(f"{path}: missing required member {req!r} of {shape.name}")
        if shape.metadata.get("union") and len([k for k in value if k in shape.members]) != 1:
            errors.append(f"{path}: union {shape.name} must set exactly one member")
        for key, member in shape.members.items():
            if value.get(key) is not None:
                errors += conformance_errors(member, value[key], f"{path}.{key}")
        return errors
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected list for {shape.name}, got {type(value).__name__}"]
        errors += [f"{path}: {e}" for e in _size_errors(shape.metadata, len(value), path, "list")]
        for i, item in enumerate(value):
            errors += conformance_errors(shape.member, item, f"{path}[{i}]")
        return errors
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected map for {shape.name}, got {type(value).__name__}"]
        for key, item in value.items():
            errors += conformance_errors(shape.key, key, f"{path}<key>")
            errors += conformance_errors(shape.value, item, f"{path}[{key!r}]")
        return errors
    expected = _PY_TYPES.get(kind)
    if expected is not None:
        if not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool)):
            return [f"{path}: expected {kind} for {shape.name}, got {type(value).__name__}"]
        if kind == "timestamp" and value.tzinfo is None:
            return [f"{path}: naive datetime for {shape.name}"]
    return errors + [f"{path}: {e}" for e in constraint_errors(shape, value, path)]


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_wire(shape: Shape, value: Any, timestamp_format: str) -> Any:
    """Encode a Python value of ``shape`` as the JSON the service sends (``iso8601`` or ``unixTimestamp``)."""
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure" and not shape.metadata.get("document"):
        out = {}
        for key, member in shape.members.items():
            if value.get(key) is not None:
                out[member.serialization.get("name", key)] = to_wire(member, value[key], timestamp_format)
        return out
    if kind == "list":
        return [to_wire(shape.member, item, timestamp_format) for item in value]
    if kind == "map":
        return {k: to_wire(shape.value, v, timestamp_format) for k, v in value.items()}
    if kind == "timestamp" and isinstance(value, datetime):
        fmt = shape.serialization.get("timestampFormat") or timestamp_format
        return value.timestamp() if fmt == "unixTimestamp" else _iso(value)
    if kind == "blob":
        return base64.b64encode(value).decode()
    return value


def redact(shape: Shape | None, value: Any) -> Any:
    """A JSON-safe copy for CloudTrail: sensitive members hidden, binary dropped, datetimes as ISO-8601."""
    if shape is not None and shape.metadata.get("sensitive"):
        return HIDDEN
    if isinstance(value, dict):
        members = shape.members if shape is not None and shape.type_name == "structure" else None
        value_shape = shape.value if shape is not None and shape.type_name == "map" else None
        out = {}
        for key, item in value.items():
            if key == "ResponseMetadata" or item is None:
                continue
            sub = members.get(key) if members is not None else value_shape
            red = redact(sub, item)
            if red is not _DROP:
                out[key] = red
        return out
    if isinstance(value, (list, tuple)):
        sub = shape.member if shape is not None and shape.type_name == "list" else None
        return [r for r in (redact(sub, item) for item in value) if r is not _DROP]
    if isinstance(value, datetime):
        return _iso(value).replace(".000Z", "Z")
    if isinstance(value, (bytes, bytearray)) or hasattr(value, "read"):
        return _DROP
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
