"""JSON text written the way Jackson writes it inside Confluent's registry.

Canonical schema strings are compared byte for byte, so their JSON must match Java's: string
escapes in upper-case hex, doubles as Java's `Double.toString` prints them (E notation outside
[1e-3, 1e7)), floats with the fewest digits a 32-bit float needs.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal
from typing import Any


class JavaFloat(float):
    """A value Java holds as a 32-bit float: written with the fewest digits a float needs."""


def string(text: str) -> str:
    """A JSON string as Jackson escapes it: control characters as \\u00XX in upper case."""
    parts = ['"']
    for char in text:
        code = ord(char)
        if char == '"':
            parts.append('\\"')
        elif char == "\\":
            parts.append("\\\\")
        elif code < 0x20:
            named = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(code)
            parts.append(named or f"\\u{code:04X}")
        else:
            parts.append(char)
    parts.append('"')
    return "".join(parts)


def dump(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return string(value)
    if isinstance(value, JavaFloat):
        return _java_number(float(value), single=True)
    if isinstance(value, float):
        return _java_number(value, single=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(string(str(k)) + ":" + dump(v) for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return string(str(value))


def _java_number(number: float, single: bool) -> str:
    """Java's Double.toString (or Float.toString): shortest digits, E notation outside
    [1e-3, 1e7), always a fractional digit; NaN and the infinities quoted, as Jackson does."""
    if math.isnan(number):
        return '"NaN"'
    if math.isinf(number):
        return '"Infinity"' if number > 0 else '"-Infinity"'
    if number == 0:
        return "-0.0" if math.copysign(1.0, number) < 0 else "0.0"
    digits = _shortest_float32(number) if single else repr(number)
    exact = Decimal(digits).normalize()
    magnitude = abs(exact)
    if Decimal("0.001") <= magnitude < Decimal(10**7):
        text = format(exact, "f")
        return text if "." in text else text + ".0"
    sign, numerals, _ = exact.as_tuple()
    mantissa = "".join(map(str, numerals))
    head, tail = mantissa[0], mantissa[1:] or "0"
    return f"{'-' if sign else ''}{head}.{tail}E{exact.adjusted()}"


def _shortest_float32(number: float) -> str:
    single = struct.unpack("f", struct.pack("f", number))[0]
    for precision in range(1, 10):
        text = f"{single:.{precision}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            return text
    return repr(single)
