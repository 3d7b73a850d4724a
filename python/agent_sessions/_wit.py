"""Building the wasmtime-py values of the WIT types.

wasmtime-py represents a WIT record as a `Record` whose attributes carry the
WIT (kebab-case) names, and a variant whose cases would be ambiguous in
Python as `Variant(tag, payload)`.
"""

from __future__ import annotations

from typing import Any

from wasmtime.component import Record, Variant

__all__ = ["Record", "Variant", "record", "field"]


def record(**fields: Any) -> Record:
    """A Record with the given fields; `snake_case` names become `kebab-case`."""
    value = Record()
    for name, item in fields.items():
        setattr(value, name.replace("_", "-"), item)
    return value


def field(value: Any, name: str) -> Any:
    """A field of a Record by its WIT name (`model-id`)."""
    return getattr(value, name)
