"""JSON pointers (RFC 6901) and ``{/pointer}`` templates, for the generic JSON source's mappings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# "{/a/b}" reads from the current alert, "{$/a/b}" from the whole body.
_PLACEHOLDER = re.compile(r"\{(\$?)(/[^{}]*|)\}")
_MISSING = object()


def check_template(text: str) -> None:
    """Raise ValueError when ``text`` is neither a pointer nor a template with balanced braces."""
    if text.startswith(("/", "$/")) or text == "$":
        return
    stripped = _PLACEHOLDER.sub("", text)
    if "{" in stripped or "}" in stripped:
        raise ValueError(f"unbalanced braces in template {text!r} (placeholders look like {{/path}})")


def resolve(doc: object, pointer: str) -> object:
    """The value at ``pointer`` in ``doc``, or ``None`` when any step is missing.

    Missing is not an error here: mappings name optional fields, and the parser
    decides which absences matter (a missing alertname rejects the alert).
    """
    if pointer == "":
        return doc
    if not pointer.startswith("/"):
        return None
    node: Any = doc
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping):
            node = node.get(token, _MISSING)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
        if node is _MISSING:
            return None
    return node


def scalar_text(value: object) -> str | None:
    """A JSON scalar as text (``True`` -> ``"true"``); containers and null are ``None``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return None


def render(spec: str, item: object, body: object) -> str | None:
    """Evaluate a mapping entry: a bare pointer gives that scalar, a template joins its parts.

    ``None`` means "absent": a bare pointer to nothing, or a template whose every
    placeholder was missing (so an optional field is simply left out).
    """
    if spec.startswith("$/") or spec == "$":
        return scalar_text(resolve(body, spec[1:]))
    if spec.startswith("/"):
        return scalar_text(resolve(item, spec))
    found = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal found
        root = body if match.group(1) else item
        text = scalar_text(resolve(root, match.group(2)))
        if text is None:
            return ""
        found = True
        return text

    out = _PLACEHOLDER.sub(substitute, spec)
    if not found and _PLACEHOLDER.search(spec):
        return None
    return out
