"""Human units in config: durations like Prometheus (``90s``, ``5m``, ``1h30m``) and byte sizes."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_SCALE = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_RE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$")
_SIZE_SCALE = {
    None: 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a Prometheus-style duration string."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("expected a duration >= 0")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        pos, total = 0, 0.0
        for m in _DURATION_PART.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _DURATION_SCALE[m.group(2)]
            pos = m.end()
        if text and pos == len(text):
            return total
    raise ValueError(f"expected a duration such as 30s, 5m or 1h, got {value!r}")


def parse_size(value: Any) -> int:
    """Bytes from a number or a size string such as ``1MiB``."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        m = _SIZE_RE.match(value)
        if m and int(m.group(1)) > 0:
            return int(m.group(1)) * _SIZE_SCALE[m.group(2)]
    raise ValueError(f"expected a positive size such as 1048576 or 1MiB, got {value!r}")


Duration = Annotated[float, BeforeValidator(parse_duration)]
ByteSize = Annotated[int, BeforeValidator(parse_size)]
