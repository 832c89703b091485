"""Alertmanager-style label matchers (``name="v"``, ``!=``, ``=~``, ``!~``) for config rules."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_MATCHER_RE = re.compile(
    r"""^\s*(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>"(?:[^"\\]|\\.)*"|[^"\s]*)\s*$"""
)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label condition; a missing label matches as the empty string, as in Alertmanager."""

    name: str
    op: str
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this condition."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self.pattern is not None
        hit = self.pattern.fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(text: str) -> Matcher:
    """Parse ``team="platform"`` and friends; raises ValueError with what was expected."""
    m = _MATCHER_RE.match(text)
    if m is None:
        raise ValueError(f'invalid matcher {text!r}: expected name="value" with one of = != =~ !~')
    value = m.group("value")
    if value.startswith('"'):
        value = value[1:-1].encode().decode("unicode_escape")
    op = m.group("op")
    pattern = None
    if op in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as err:
            raise ValueError(f"invalid regular expression in matcher {text!r}: {err}") from err
    return Matcher(m.group("name"), op, value, pattern)


def label_scope(labels: Mapping[str, str], keys: Iterable[str]) -> str:
    """``cluster=eu-1,namespace=shop``: the values of ``keys`` that bound a comparison
    (storms, similarity and topology are each judged within one scope)."""
    return ",".join(f"{k}={labels.get(k, '')}" for k in keys)


def check_matchers(texts: list[str]) -> list[str]:
    """Parse each matcher of a config list (pydantic validators call this); the list, unchanged."""
    for text in texts:
        parse_matcher(text)
    return texts


def matches_all(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    """True when every matcher holds (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)
