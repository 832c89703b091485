"""The label fingerprint (FNV-1a in C) against Prometheus' definition, written out byte by byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.fingerprint import label_fingerprint


def reference(labels: dict[str, str]) -> str:
    """``model.LabelSet.Fingerprint`` as Prometheus states it: FNV-1a 64, sorted, 0xff after each part."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in [*part.encode(), 0xFF]:
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


@given(st.dictionaries(st.text(max_size=40), st.text(max_size=200), max_size=12))
def test_same_as_the_definition_on_any_labels(labels: dict[str, str]) -> None:
    """Non-ASCII names and values, empty ones, none at all: the C hash gives the reference's digits."""
    assert label_fingerprint(labels) == reference(labels)


def test_known_values() -> None:
    """The empty set is FNV's offset basis; order of insertion does not matter."""
    assert label_fingerprint({}) == "cbf29ce484222325"
    a = {"alertname": "Up", "job": "node", "instance": "db-1:9100"}
    b = dict(reversed(list(a.items())))
    assert label_fingerprint(a) == label_fingerprint(b) == reference(a)
    assert label_fingerprint({"a": "b"}) != label_fingerprint({"ab": ""})


def test_a_lone_surrogate_is_a_value_error() -> None:
    """The parsers catch ``ValueError`` to reject one alert of a batch by position."""
    with pytest.raises(ValueError, match="surrogate"):
        label_fingerprint({"alertname": "\ud800"})
