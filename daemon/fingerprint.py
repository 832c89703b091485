"""Alert identity: Alertmanager's own label fingerprint, reproduced bit for bit."""

from __future__ import annotations

from collections.abc import Mapping

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF
_SEP = 0xFF


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """64-bit FNV-1a over labels sorted by name, each name and value followed by 0xff.

    This is Prometheus' ``model.LabelSet.Fingerprint``; computing it ourselves means a
    sender that omits or mangles ``fingerprint`` still maps onto the same alert, and
    alerts from other sources get an identity of the same kind.
    """
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEP) * _FNV_PRIME) & _MASK
    return f"{h:016x}"
