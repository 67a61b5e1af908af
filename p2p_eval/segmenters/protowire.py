"""A minimal reader of the protocol-buffers binary wire format (no schema, no compiled code).

Enough to walk a message field by field: each field is a varint key
``(number << 3) | wire_type`` followed by a varint (type 0), 8 bytes (type 1),
a varint length and that many bytes (type 2) or 4 bytes (type 5). Groups
(types 3 and 4) were deprecated before Caffe existed and are refused.
See https://protobuf.dev/programming-guides/encoding/.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a well-formed message; `offset` is where reading failed."""

    def __init__(self, message: str, offset: int):
        super().__init__(f"{message} (at byte {offset})")
        self.offset = offset


@dataclass(frozen=True)
class Field:
    """One field occurrence: `value` is an int (varint) or a memoryview of its bytes."""

    number: int
    wire_type: int
    value: int | memoryview
    start: int  # offset of the field's key in the buffer, for error messages


def read_varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    """Decode the varint at `pos`; returns (value, position after it).

    Examples
    --------
    >>> read_varint(memoryview(bytes([0xAC, 0x02])), 0, 2)
    (300, 2)
    """
    result = shift = 0
    while True:
        if pos >= end:
            raise WireError("message ends inside a varint", pos)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes", pos)


def iter_fields(buf: memoryview, start: int = 0, end: int | None = None) -> Iterator[Field]:
    """The fields of the message in ``buf[start:end]``, in file order.

    Raises
    ------
    WireError
        If a field runs past `end` (a truncated file) or has an unknown wire type.
    """
    end = len(buf) if end is None else end
    pos = start
    while pos < end:
        key_at = pos
        key, pos = read_varint(buf, pos, end)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            value, pos = read_varint(buf, pos, end)
        elif wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(buf, pos, end)
            if pos + length > end:
                raise WireError(f"field {number} needs {length} bytes but only {end - pos} remain", key_at)
            value, pos = buf[pos : pos + length], pos + length
        elif wire_type in (FIXED32, FIXED64):
            size = 4 if wire_type == FIXED32 else 8
            if pos + size > end:
                raise WireError(f"field {number} needs {size} bytes but only {end - pos} remain", key_at)
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise WireError(f"field {number} has wire type {wire_type} (groups are not supported)", key_at)
        yield Field(number, wire_type, value, key_at)


def packed_varints(field: Field) -> list[int]:
    """A repeated integer field: one varint, or a packed run of them."""
    if field.wire_type == VARINT:
        return [field.value]
    values, pos, data = [], 0, field.value
    while pos < len(data):
        value, pos = read_varint(data, pos, len(data))
        values.append(value)
    return values


def packed_floats(field: Field, dtype: str) -> np.ndarray:
    """A repeated float ("<f4") or double ("<f8") field, packed or one element.

    Returns a read-only view of the buffer (no copy).
    """
    itemsize = np.dtype(dtype).itemsize
    if field.wire_type not in (LENGTH_DELIMITED, FIXED32 if itemsize == 4 else FIXED64):
        raise WireError(f"field {field.number} should hold {dtype} values but has wire type {field.wire_type}", field.start)
    data = field.value
    if len(data) % itemsize:
        raise WireError(f"field {field.number}: {len(data)} bytes is not a whole number of {dtype}", field.start)
    return np.frombuffer(data, dtype=dtype)


def text(field: Field) -> str:
    """A string field, decoded as UTF-8."""
    if field.wire_type != LENGTH_DELIMITED:
        raise WireError(f"field {field.number} should be a string but has wire type {field.wire_type}", field.start)
    return bytes(field.value).decode("utf-8", errors="replace")
