"""Alert identity: Alertmanager's own label fingerprint, reproduced bit for bit."""

from __future__ import annotations

from collections.abc import Mapping

from fnv_c import fnv1a_64


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """64-bit FNV-1a over labels sorted by name, each name and value followed by 0xff.

    This is Prometheus' ``model.LabelSet.Fingerprint``; computing it ourselves means a
    sender that omits or mangles ``fingerprint`` still maps onto the same alert, and
    alerts from other sources get an identity of the same kind. The hash runs in C
    (fnv-c): byte by byte in Python it cost ~20 us an alert, the edge's largest cost
    per new alert; the bytes are joined first, which is the same stream. A label that
    cannot be UTF-8 (a lone surrogate) raises ``UnicodeEncodeError``, a ``ValueError``.
    """
    data = b"".join([b"%s\xff%s\xff" % (name.encode(), labels[name].encode()) for name in sorted(labels)])
    return f"{fnv1a_64(data):016x}"
