"""YAML that refuses a key written twice in one mapping.

Why: PyYAML keeps the last of two equal keys without a word, so a config with two
``store:`` sections, or a rule with two ``when:``, ran on the half the person did not
mean, and ``triaged check-config`` said OK. The person editing a file at 3 a.m. gets
the line of each instead. Merge keys (``<<: *defaults``) still override, as YAML
intends: only keys written out in the same mapping count.

It lives in ``classifiers`` because both packages read YAML files people write (the
rules file here, the config and topology files in ``daemon``); ``daemon`` may import
``classifiers``, never the reverse (design.md).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader``, but a mapping may not name the same key twice."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Hashable, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # SafeLoader's own check words this one
            first = seen.setdefault(key, key_node)
            if first is not key_node:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {first.start_mark.line + 1}); "
                    "remove one: YAML would keep the later value without a word",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """``yaml.safe_load``, refusing duplicate keys (a ``yaml.YAMLError`` with the line)."""
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: only plain YAML types


def describe(err: yaml.YAMLError) -> str:
    """``line 3, column 1: invalid YAML: duplicate key ...``: where and what, without
    PyYAML's ``in "<unicode string>"`` (the caller names the file)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return f"{where}invalid YAML: {problem}"
