"""Lifecycle: the routing tree (team, connectors, escalation policy) and escalation steps.

Routing runs once, when an incident opens, on the labels of its first alert; its
result is written on the incident (``team`` and ``lifecycle``), so every replica and
every later step agrees without re-evaluating config. Escalation is a due time on the
incident (``lifecycle.escalate_at``): the upkeep applies a step when it is due and the
incident is still unacknowledged, inside ``store.update_incident``, which re-reads the
incident first, so a step runs once even when two replicas see it due.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import structlog

from daemon.lifecycle_settings import EscalationPolicy, Route, RoutingSettings
from daemon.matchers import matches_all
from daemon.models import PRIORITIES, Incident, IncidentStatus, TimelineEvent
from daemon.settings import Settings
from daemon.silences import in_window
from daemon.workset import WorkSet

ACTOR = "triaged"
log = structlog.get_logger(__name__)
_WINDOW_PROBE = 300.0  # business-hours search granularity (5 min), a week at most


class SuggestionLike(Protocol):
    """What a router suggests."""

    @property
    def team(self) -> str:
        """The team."""

    @property
    def confidence(self) -> float:
        """Its probability."""


class TeamRouterLike(Protocol):
    """What routing needs of ``classifiers.team_router.TeamRouter``."""

    def suggest(self, fields: Mapping[str, str]) -> SuggestionLike | None:
        """The most likely team, with its probability."""


class Lifecycle:
    """Routing and escalation of one configuration."""

    def __init__(self, settings: Settings) -> None:
        self.routing: RoutingSettings = settings.routing
        self.policies: dict[str, EscalationPolicy] = dict(settings.escalation.policies)
        self.router = _load_router(settings.routing.learned_model)
        # incident id -> when its next escalation step is due (this process's view).
        self.due: dict[str, float] = {}

    def route(self, labels: Mapping[str, str]) -> dict[str, Any]:
        """``{team, connectors, escalation, route}`` for an incident with these labels."""
        result: dict[str, Any] = {
            "team": self.routing.team,
            "connectors": self.routing.connectors,
            "escalation": self.routing.escalation,
            "route": "default",
        }
        self._walk(self.routing.routes, labels, result, "routing")
        return result

    def _walk(
        self, routes: list[Route], labels: Mapping[str, str], result: dict[str, Any], where: str
    ) -> bool:
        matched_any = False
        for i, route in enumerate(routes):
            if not matches_all(route.parsed(), labels):
                continue
            path = f"{where}.routes[{i}]"
            if not matched_any:  # the first match decides; `continue` adds connectors only
                result.update(
                    {
                        k: v
                        for k, v in (("team", route.team), ("escalation", route.escalation))
                        if v is not None
                    }
                )
                result["route"] = path
                if route.connectors is not None:
                    result["connectors"] = list(route.connectors)
            elif route.connectors:
                result["connectors"] = sorted({*(result["connectors"] or []), *route.connectors})
            matched_any = True
            self._walk(route.routes, labels, result, path)
            if not route.continue_:
                break
        return matched_any

    def assign(self, ws: WorkSet, incident: Incident, labels: Mapping[str, str]) -> None:
        """Route a new incident and schedule its first escalation step."""
        routed = self.route({**incident.group_labels, **labels})
        if self.router is not None and routed["route"] == "default":
            self._suggest(routed, {**incident.group_labels, **labels})
        if incident.team is None and routed["team"]:
            incident.team = routed["team"]
        lc = incident.lifecycle
        lc["route"] = routed["route"]
        if routed["connectors"] is not None:
            lc["connectors"] = routed["connectors"]
        if routed["escalation"]:
            lc["escalation"] = routed["escalation"]
            self._schedule(incident, 0, incident.opened_at)
        said = {k: v for k, v in routed.items() if v is not None and k != "route"}
        if not said:
            return  # no routing configured: nothing to record
        ws.touch_incident(incident)
        ws.add_event(
            incident.id,
            TimelineEvent(
                incident.opened_at,
                "routed",
                ACTOR,
                {k: v for k, v in routed.items() if v is not None},
            ),
        )
        ws.touch_incident(incident)

    def _suggest(self, routed: dict[str, Any], labels: Mapping[str, str]) -> None:
        """No route claimed the incident: ask the learned router; act only when it is sure."""
        from classifiers.team_router import features_from_labels

        assert self.router is not None
        try:
            suggestion = self.router.suggest(features_from_labels(labels))
        except Exception:  # a broken router must not stop routing
            log.exception("team_router_failed")
            return
        if suggestion is None:
            return
        routed["suggested_team"] = {"team": suggestion.team, "confidence": round(suggestion.confidence, 3)}
        if suggestion.confidence >= self.routing.learned_min_confidence:
            routed["team"] = suggestion.team
            routed["route"] = f"learned router (p={suggestion.confidence:.2f})"

    def restart(self, incident: Incident, now: float) -> None:
        """A reopened incident escalates again from its first step."""
        if incident.lifecycle.get("escalation"):
            self._schedule(incident, 0, now)

    def stop(self, incident: Incident) -> None:
        """Acknowledged or resolved: no more steps."""
        incident.lifecycle.pop("escalate_at", None)
        self.due.pop(incident.id, None)

    def _schedule(self, incident: Incident, step: int, base: float) -> None:
        policy = self.policies.get(str(incident.lifecycle.get("escalation")))
        if policy is None or step >= len(policy.steps):
            self.stop(incident)
            return
        at = self._in_hours(policy, base + policy.steps[step].after)
        incident.lifecycle.update({"step": step, "escalate_at": at, "escalation_base": base})
        self.due[incident.id] = at

    @staticmethod
    def _in_hours(policy: EscalationPolicy, at: float) -> float:
        """The first moment at or after ``at`` inside the policy's business hours."""
        if not policy.business_hours:
            return at
        t = at
        for _ in range(int(7 * 86400 / _WINDOW_PROBE) + 1):
            if any(in_window(w, t) for w in policy.business_hours):
                return t
            t = (t // _WINDOW_PROBE + 1) * _WINDOW_PROBE
        return at  # no window at all in a week: do not hold escalation forever

    def escalate(self, ws: WorkSet, incident: Incident, now: float | None = None) -> bool:
        """Apply the due step, if still due and unacknowledged; schedule the next one."""
        now = time.time() if now is None else now
        lc = incident.lifecycle
        at = lc.get("escalate_at")
        if incident.status is not IncidentStatus.OPEN or at is None or float(at) > now:
            return False
        policy = self.policies.get(str(lc.get("escalation")))
        if policy is None:
            self.stop(incident)
            return False
        index = int(lc.get("step", 0))
        step = policy.steps[min(index, len(policy.steps) - 1)]
        detail: dict[str, Any] = {"policy": lc.get("escalation"), "step": index, "reason": ""}
        if step.notify:
            lc["notify"] = sorted({*lc.get("notify", []), *step.notify})
            detail["notify"] = step.notify
        if step.raise_priority and incident.priority in PRIORITIES:
            old = incident.priority
            new = PRIORITIES[max(0, PRIORITIES.index(old) - step.raise_priority)]
            if new != old:
                incident.priority = new
                incident.reasons = [*incident.reasons, f"raised to {new} by escalation (was {old})"]
                detail["priority"] = {"from": old, "to": new}
        if step.team and step.team != incident.team:
            detail["team"] = {"from": incident.team, "to": step.team}
            incident.team = step.team
        waited = now - float(lc.get("escalation_base", incident.opened_at))
        detail["reason"] = f"not acknowledged after {waited / 60:.0f} min"
        lc["escalations"] = int(lc.get("escalations", 0)) + 1
        ws.add_event(incident.id, TimelineEvent(now, "escalated", ACTOR, detail))
        if index + 1 < len(policy.steps):
            self._schedule(incident, index + 1, float(lc.get("escalation_base", incident.opened_at)))
        elif policy.repeat_every > 0:
            lc["step"] = index
            lc["escalate_at"] = self._in_hours(policy, now + policy.repeat_every)
            self.due[incident.id] = lc["escalate_at"]
        else:
            self.stop(incident)
        ws.touch_incident(incident)
        return True


def _load_router(path: Path | None) -> TeamRouterLike | None:
    """The learned router, or None (a refused file is logged; routing goes on by rules)."""
    if path is None:
        return None
    from classifiers.errors import ModelError
    from classifiers.team_router import load

    try:
        return load(path)
    except ModelError as err:
        log.error("team_router_refused", path=str(path), error=str(err))
        return None
