"""Topology: which things an alert is about, and which things their failure would explain.

An alert names entities through its labels (``node="n3"`` is ``host:n3``); the
dependency map says what each entity depends on (a pod on its node, a service on its
database). Two alerts belong together when one is about something the other depends
on, when both are about the same thing, or when both depend on the same entity of a
``sibling_kinds`` kind (pods of one node). Everything here is pure and cached; the
walk is bounded so a cycle or a huge map costs a fixed amount per alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import yaml

from classifiers import strict_yaml
from daemon.correlation_settings import TopologySettings
from daemon.errors import ConfigError
from daemon.matchers import label_scope

# "Something depending on X alerts" is kept for up to this many incidents per X, so
# when X itself alerts, every incident that depends on it is found (and merged).
UP_SLOTS = 8


@lru_cache(maxsize=16384)
def slots(key: str) -> tuple[str, ...]:
    """The slot keys of a multi-valued pointer (``topo:up:...``).

    Cached: a new alert asks for its upstream entities' slots twice (to load them, then
    to claim one), and the entities of a service or a node recur across its instances."""
    return (key, *[f"{key}#{i}" for i in range(1, UP_SLOTS)])


class Footprint(NamedTuple):
    """An alert's place in the map: what it is about, and what that depends on.

    ``scope`` (``@cluster=eu-1``) is appended to every key, never to entity names. A
    named tuple, immutable like the frozen dataclass it was, and built at C speed: one is
    made per new alert.
    """

    own: frozenset[str]
    upstream: frozenset[str]
    scope: str = ""
    # The own entities that something in the map depends on: only their "what depends on
    # me" pointers can have been claimed (an alert claims those of its upstream alone).
    depended_on: frozenset[str] = frozenset()
    # What ``register_keys`` answers, computed with the footprint (asked twice per new alert).
    registers: tuple[str, ...] = ()

    def lookup_keys(self, sibling_kinds: Iterable[str]) -> list[str]:
        """Pointer keys whose open incident this alert may join, most specific first."""
        kinds = tuple(f"{k}:" for k in sibling_kinds)
        sc = self.scope
        own = [(e, _entity_keys(e, sc)) for e in sorted(self.own)]
        up = [(e, _entity_keys(e, sc)) for e in sorted(self.upstream)]
        keys = [k[0] for _, k in own]  # same thing already alerting
        keys += [k[0] for _, k in up]  # my cause alerting
        for e, k in own:
            if e in self.depended_on:
                keys += slots(k[1])  # what depends on me
        keys += [k[1] for e, k in up if e.startswith(kinds)]  # siblings
        return keys

    def register_keys(self) -> tuple[str, ...]:
        """Pointer keys this alert's incident claims, so later related alerts find it."""
        return self.registers


@lru_cache(maxsize=16384)
def _entity_keys(entity: str, scope: str) -> tuple[str, str]:
    """An entity's own pointer key and its "what depends on me" key: the entities of a
    service or a node recur across its alerts' instances."""
    return f"topo:own:{entity}{scope}", f"topo:up:{entity}{scope}"


class Topology:
    """The dependency map of one configuration."""

    def __init__(self, settings: TopologySettings) -> None:
        self.settings = settings
        depends: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in settings.depends_on.items()}
        if settings.file is not None:
            for entity, deps in _read_file(settings.file).items():
                depends[entity] = tuple(dict.fromkeys([*depends.get(entity, ()), *deps]))
        self._depends = depends
        # Every entity something depends on: the only ones whose dependents can be found.
        self._targets = frozenset(t for deps in depends.values() for t in deps)
        self._labels = tuple(settings.labels.items())
        self._ancestors = lru_cache(maxsize=65536)(self._walk)

    @property
    def enabled(self) -> bool:
        """Whether topology takes part at all."""
        return self.settings.enabled

    def entities(self, labels: Mapping[str, str]) -> frozenset[str]:
        """The entities an alert's labels name (``instance`` loses its port)."""
        found = set()
        for label, kind in self._labels:
            value = labels.get(label)
            if not value:
                continue
            if label == "instance":
                value = _host_of(value)
            if kind == "pod" and labels.get("namespace"):
                value = f"{labels['namespace']}/{value}"  # pod names repeat across namespaces
            found.add(f"{kind}:{value}")
        return frozenset(found)

    def footprint(self, labels: Mapping[str, str]) -> Footprint:
        """Own entities and every entity they depend on (bounded walk)."""
        own = self.entities(labels)
        upstream: set[str] = set()
        for e in own:
            upstream.update(self._ancestors(e))
        scope = label_scope(labels, self.settings.scope)
        sc = f"@{scope}" if scope else ""
        up = frozenset(upstream - own)
        registers = tuple(
            [_entity_keys(e, sc)[0] for e in sorted(own)] + [_entity_keys(e, sc)[1] for e in sorted(up)]
        )
        return Footprint(own, up, sc, own & self._targets, registers)

    def ancestors(self, entity: str) -> frozenset[str]:
        """What ``entity`` depends on, directly or not."""
        return self._ancestors(entity)

    def likely_cause(self, entities: Iterable[str]) -> str | None:
        """The entity of an incident that most of its other entities depend on."""
        pool = list(dict.fromkeys(entities))
        if len(pool) < 2:
            return pool[0] if pool else None
        best, best_score = pool[0], -1
        for candidate in pool:
            score = sum(1 for other in pool if other != candidate and candidate in self._ancestors(other))
            if score > best_score:
                best, best_score = candidate, score
        return best

    def _walk(self, entity: str) -> frozenset[str]:
        seen: set[str] = set()
        frontier = [entity]
        for _ in range(self.settings.max_depth):
            nxt = []
            for e in frontier:
                for dep in self._depends.get(e, ()):
                    if dep not in seen and dep != entity:
                        seen.add(dep)
                        nxt.append(dep)
                        if len(seen) >= self.settings.max_entities:
                            return frozenset(seen)
            if not nxt:
                break
            frontier = nxt
        return frozenset(seen)


def _host_of(instance: str) -> str:
    """``10.0.0.7:9100`` -> ``10.0.0.7``; ``[::1]:9100`` -> ``::1``; a bare host stays."""
    if instance.startswith("["):
        return instance[1:].split("]", 1)[0]
    host, sep, port = instance.rpartition(":")
    return host if sep and port.isdigit() and ":" not in host else instance


def _read_file(path: Path) -> dict[str, list[str]]:
    """A topology file: ``{depends_on: {entity: [entity, ...]}}``, as an inventory export writes."""
    try:
        data = strict_yaml.load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError([f"{path}: cannot read the topology file ({err.strerror})"]) from None
    except yaml.YAMLError as err:
        raise ConfigError([f"{path}: {strict_yaml.describe(err)}"]) from None
    deps = data.get("depends_on") if isinstance(data, dict) else None
    if not isinstance(deps, dict):
        raise ConfigError([f"{path}: depends_on: expected a mapping of entity -> [entities]"])
    out: dict[str, list[str]] = {}
    for entity, targets in deps.items():
        if not isinstance(targets, list) or not all(isinstance(t, str) and ":" in t for t in targets):
            raise ConfigError([f"{path}: depends_on.{entity}: expected a list of kind:name entities"])
        out[str(entity)] = targets
    return out
