"""Suppression: silences, maintenance windows and inhibition decide that an alert pages no one.

A suppressed alert is still recorded (its state, counted by reason) but opens and
joins no incident. Inhibition follows Alertmanager: while an incident holds a firing
alert matching a rule's source matchers, alerts matching its target matchers with
the same values of the ``equal`` labels are muted; the inhibiting incident's timeline
lists what it muted. The source is found through a group key in the store, so it
works across replicas and batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from daemon.correlation_settings import InhibitRule
from daemon.matchers import Matcher, matches_all, parse_matcher
from daemon.silences import Silence


class Suppressor:
    """Holds the silences in force and the inhibition rules."""

    def __init__(self, rules: Sequence[InhibitRule], config_silences: Sequence[Silence] = ()) -> None:
        self._rules: list[tuple[tuple[Matcher, ...], tuple[Matcher, ...], tuple[str, ...]]] = [
            (
                tuple(parse_matcher(m) for m in r.source_matchers),
                tuple(parse_matcher(m) for m in r.target_matchers),
                tuple(r.equal),
            )
            for r in rules
        ]
        self._config = list(config_silences)
        self.silences: list[Silence] = list(config_silences)

    def set_stored(self, stored: Sequence[Silence]) -> None:
        """Replace the store's silences (refreshed before each batch)."""
        self.silences = [*self._config, *stored]

    def silenced_by(self, labels: Mapping[str, str], now: float) -> Silence | None:
        """The first silence or maintenance window muting these labels now."""
        for silence in self.silences:
            if silence.mutes(labels, now):
                return silence
        return None

    def source_keys(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """Keys an alert claims while firing, for every rule it is a source of."""
        return tuple(
            _key(i, equal, labels)
            for i, (source, _, equal) in enumerate(self._rules)
            if matches_all(source, labels)
        )

    def target_keys(self, labels: Mapping[str, str]) -> tuple[tuple[int, str], ...]:
        """Keys whose holder would mute an alert with these labels, with the rule index."""
        return tuple(
            (i, _key(i, equal, labels))
            for i, (_, target, equal) in enumerate(self._rules)
            if matches_all(target, labels)
        )


def _key(rule: int, equal: tuple[str, ...], labels: Mapping[str, str]) -> str:
    values = ",".join(f'{k}="{labels.get(k, "")}"' for k in equal)
    return f"inhibit:{rule}:{{{values}}}"
