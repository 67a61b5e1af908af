"""Reading one JSON field of a results entry: its type checked, the file, run and field named on error."""

import math
from collections.abc import Callable
from typing import Any

from p2p_eval.errors import InputError

DAMAGED = "the file is damaged or was edited. Regenerate it with the command that wrote it."
"""How a refusal of a results file that contradicts itself ends: what happened, and the fix."""


def number(value: Any, where: str, key: str) -> float | None:
    """A JSON number or null (None); NaN becomes None, a score that does not exist.

    Infinity is refused: `p2p_eval.data.files.write_json` writes none (it makes
    them null), and a score with no declared bound (FID) would rank it best or worst.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: {key!r} must be a number or null, got {value!r}.")
    if math.isinf(value):
        raise InputError(f"{where}: {key!r} must be a finite number or null, got {value!r}; p2p-eval writes no "
                         "infinite number, so the file was edited. Regenerate it with the command that wrote it.")
    return None if math.isnan(value) else float(value)


def integer(value: Any, where: str, key: str, *, nullable: bool = True) -> int | None:
    """A JSON integer >= 0 (or null when `nullable`)."""
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{where}: {key!r} must be a whole number >= 0, got {value!r}.")
    return value


def text(value: Any, where: str, key: str, *, nullable: bool = True) -> str | None:
    """A JSON string (or null when `nullable`)."""
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: {key!r} must be a string, got {value!r}.")
    return value


def bounds(value: Any, where: str, key: str) -> tuple[float | None, float | None]:
    """An interval ``[low, high]`` of numbers or nulls."""
    if not (isinstance(value, list) and len(value) == 2):
        raise InputError(f"{where}: interval of {key!r} must be [low, high], got {value!r}.")
    return number(value[0], where, key), number(value[1], where, key)


def mapping(value: Any, where: str, key: str) -> dict[str, Any] | None:
    """A JSON object (or null), kept as read: a record of how something was made."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(f"{where}: {key!r} must be an object or null, got {value!r}.")
    return value


def list_of(value: Any, where: str, key: str, read: Callable[[Any, str, str], Any]) -> tuple | None:
    """A JSON list read item by item with `read` (`integer`, `number`), none of them null; or null (None)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise InputError(f"{where}: {key!r} must be a list or null, got {value!r}.")
    items = tuple(read(item, where, key) for item in value)
    if None in items:
        raise InputError(f"{where}: {key!r} must hold no null, got {value!r}.")
    return items
