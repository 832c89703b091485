"""Correlate: put each alert into the incident it belongs to, opening one only when none fits.

An alert joins, in this order: its own earlier incident (a re-fire); the open incident
of its group (Alertmanager's ``group_by``, per route); an open incident related through
the topology (same entity, a dependency, pods of one node); an open incident with
similar text (when enabled); the storm incident of its scope while a storm lasts.
Otherwise it opens an incident. Every join is a timeline entry naming its method and
reason, and every candidate is found through a pointer key loaded with the batch,
so replicas sharing a store agree and nothing scans all incidents.

Limits: an incident takes no alert once resolved, once quiet for ``group_window``, at
``max_alerts`` or past ``max_age`` (storm incidents ignore ``max_alerts``). A flapping
alert's resolve/re-fire neither resolves nor re-notifies; an incident whose alerts all
resolved waits ``resolve_delay`` (a flap window when flapping) before it resolves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from classifiers.generations import Generations
from daemon.correlation_settings import CorrelationSettings
from daemon.incident_state import reopen, resolve
from daemon.matchers import Matcher, label_scope, matches_all
from daemon.models import (
    Alert,
    AlertState,
    AlertStatus,
    Incident,
    IncidentAlert,
    IncidentStatus,
    TimelineEvent,
    new_incident_id,
)
from daemon.stages.dedupe import Transition
from daemon.stages.score import higher
from daemon.stages.similarity import Similarity, alert_text
from daemon.stages.storm import StormDetector
from daemon.stages.suppress import Suppressor
from daemon.stages.topology import Footprint, Topology, slots
from daemon.workset import WorkSet

T = TypeVar("T")
ALL_LABELS = "..."
ACTOR = "triaged"
MAX_ENTITIES = 32  # per incident, for naming the likely cause
MAX_STORM_NAMES = 20
GROUP_KEY_GENERATION = 4096  # distinct groups remembered (two generations of this many)


class Paging(NamedTuple):
    """What correlation derives from an alert that may open or join an incident: its
    topology footprint, similarity text and keys, storm scope and inhibition keys.

    A named tuple: immutable, and built at C speed (one per new alert; a frozen
    dataclass's ``__init__`` set each of its seven fields through ``object.__setattr__``)."""

    footprint: Footprint | None = None
    text: str = ""
    sim_keys: tuple[str, ...] = ()
    storm_scope: str = ""
    inhibit_sources: tuple[str, ...] = ()
    inhibit_targets: tuple[tuple[int, str], ...] = ()
    topo_lookup: tuple[str, ...] = ()

    def keys(self) -> list[str]:
        """Every pointer key besides the group's that the store must load for the alert."""
        keys = [*self.topo_lookup, *self.sim_keys, *self.inhibit_sources]
        keys += [k for _, k in self.inhibit_targets]
        if self.storm_scope:
            keys.append(f"storm:{self.storm_scope}")
        if self.footprint is not None:
            for key in self.footprint.register_keys():
                keys += slots(key) if key.startswith("topo:up:") else [key]
        return keys


class _FromPaging(Generic[T]):
    """A ``Grouping`` attribute that is read from its paging part (computing it if needed)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, grouping: Any, owner: type | None = None) -> T:
        value: T = getattr(grouping.paging, self.name)
        return value


class Grouping:
    """Everything correlation derives from an alert's labels, computed once per fingerprint.

    The group key is computed at once; the ``Paging`` part on first use. A repeat (most
    traffic) needs only its group's pointer, and the paging part is most of a grouping's
    cost (topology, similarity: ~20 us of ~25), so a batch of repeats never computes it.
    """

    __slots__ = ("_load_keys", "_make", "_paging", "all_labels", "key", "labels", "route")

    def __init__(
        self,
        key: str,
        labels: dict[str, str],
        all_labels: bool,
        route: int = -1,
        paging: Paging | Callable[[], Paging] | None = None,
    ) -> None:
        self.key = key
        self.labels = labels
        self.all_labels = all_labels
        self.route = route
        self._paging = paging if isinstance(paging, Paging) else None
        self._make = paging if callable(paging) else None
        self._load_keys: tuple[str, ...] | None = None

    @property
    def paging(self) -> Paging:
        """The paging part, computed now if it was not yet."""
        if self._paging is None:
            self._paging = self._make() if self._make is not None else Paging()
            self._make = None  # drops the alert's labels and annotations it held
        return self._paging

    @property
    def computed(self) -> bool:
        """Whether the paging part exists already (then reading it costs nothing)."""
        return self._paging is not None

    @property
    def load_keys(self) -> tuple[str, ...]:
        """Every pointer key the store must load for an alert that may open or join."""
        if self._load_keys is None:
            self._load_keys = tuple(dict.fromkeys([self.key, *self.paging.keys()]))
        return self._load_keys

    footprint: _FromPaging[Footprint | None] = _FromPaging()
    text: _FromPaging[str] = _FromPaging()
    sim_keys: _FromPaging[tuple[str, ...]] = _FromPaging()
    storm_scope: _FromPaging[str] = _FromPaging()
    inhibit_sources: _FromPaging[tuple[str, ...]] = _FromPaging()
    inhibit_targets: _FromPaging[tuple[tuple[int, str], ...]] = _FromPaging()
    topo_lookup: _FromPaging[tuple[str, ...]] = _FromPaging()


@dataclass(frozen=True, slots=True)
class Limits:
    """The join limits in force for one route."""

    group_window: float
    min_alerts: int
    max_alerts: int
    max_age: float


class Grouper:
    """Maps an alert to its group and correlation keys; built once from config."""

    def __init__(self, settings: CorrelationSettings, suppressor: Suppressor | None = None) -> None:
        self._routes: list[tuple[str, tuple[Matcher, ...], tuple[str, ...]]] = [
            (f"route{i}", r.parsed_matchers(), tuple(r.group_by)) for i, r in enumerate(settings.routes)
        ]
        self._default = tuple(settings.group_by)
        self.topology = Topology(settings.topology)
        self.similarity = Similarity(settings.similarity)
        self.storm_scope_labels = tuple(settings.storm.scope) if settings.storm.enabled else ()
        self.suppressor = suppressor
        # (route, the group_by values) -> (group key, group labels): a new alert of a group
        # seen before (most new alerts) gets its key without building it again. The labels
        # dict is shared by the group's alerts: nothing changes it (an incident copies it).
        self._keys: Generations[tuple[int, tuple[str, ...]], tuple[str, dict[str, str]]] = Generations(
            GROUP_KEY_GENERATION
        )

    def group_of(self, labels: Mapping[str, str], annotations: Mapping[str, str] | None = None) -> Grouping:
        """The grouping of an alert with these labels (and, for similarity, annotations)."""
        name, group_by, route = "default", self._default, -1
        for i, (route_name, matchers, route_group_by) in enumerate(self._routes):
            if matches_all(matchers, labels):
                name, group_by, route = route_name, route_group_by, i
                break
        all_labels = ALL_LABELS in group_by
        if all_labels:
            key, chosen = _group_key(name, sorted(labels), labels)
        else:
            values = tuple([labels.get(k, "") for k in group_by])
            found = self._keys.get((route, values))
            if found is None:
                found = _group_key(name, group_by, labels)
                self._keys.put((route, values), found)
            key, chosen = found
        return Grouping(
            key=key,
            labels=chosen,
            all_labels=all_labels,
            route=route,
            paging=lambda: self.paging_of(labels, annotations, all_labels),
        )

    def paging_of(
        self, labels: Mapping[str, str], annotations: Mapping[str, str] | None, all_labels: bool
    ) -> Paging:
        """The part of a grouping only an alert that may open or join an incident needs."""
        # group_by ['...'] asks for no grouping at all: topology and similarity too.
        footprint = self.topology.footprint(labels) if self.topology.enabled and not all_labels else None
        lookup: tuple[str, ...] = ()
        if footprint is not None and (footprint.own or footprint.upstream):
            lookup = tuple(footprint.lookup_keys(self.topology.settings.sibling_kinds))
        else:
            footprint = None
        text, sim_keys = "", tuple[str, ...]()
        if self.similarity.enabled and annotations is not None and not all_labels:
            text = alert_text(labels, annotations)
            sim_keys = tuple(self.similarity.keys(labels, text))
        sup = self.suppressor
        return Paging(
            footprint=footprint,
            text=text,
            sim_keys=sim_keys,
            storm_scope=label_scope(labels, self.storm_scope_labels),
            inhibit_sources=sup.source_keys(labels) if sup else (),
            inhibit_targets=sup.target_keys(labels) if sup else (),
            topo_lookup=lookup,
        )


@dataclass(slots=True)
class Correlator:
    """Applies one alert's transition to the incidents in a ``WorkSet``."""

    settings: CorrelationSettings
    grouper: Grouper
    storms: StormDetector = field(init=False)
    # (target, incidents to merge into it, why): done by the pipeline after the commit.
    merges: list[tuple[str, list[str], str]] = field(default_factory=list)
    methods: Counter[str] = field(default_factory=Counter)
    # incident id -> when it resolves unless an alert fires again (resolve_delay, flapping).
    due: dict[str, float] = field(default_factory=dict)
    next_full_scan: float = 0.0
    _limits: dict[int, Limits] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.storms = StormDetector(self.settings.storm)

    def limits(self, route: int) -> Limits:
        """The section's limits with the route's overrides (the settings never change
        while the process runs, and every new alert asks)."""
        found = self._limits.get(route)
        if found is None:
            found = self._limits[route] = self._route_limits(route)
        return found

    def _route_limits(self, route: int) -> Limits:
        s = self.settings
        r = s.routes[route] if 0 <= route < len(s.routes) else None

        def pick(name: str) -> float:
            value = getattr(r, name, None) if r is not None else None
            return float(getattr(s, name) if value is None else value)

        return Limits(pick("group_window"), int(pick("min_alerts")), int(pick("max_alerts")), pick("max_age"))

    def apply(
        self,
        ws: WorkSet,
        alert: Alert,
        state: AlertState,
        transition: Transition,
        grouping: Grouping,
        priority: tuple[str, str] | None,
    ) -> Incident | None:
        """Returns the incident the alert now belongs to (None when it belongs to none).

        ``priority`` (with its reasons) is required for the transitions that open or
        join an incident (first, refire), and only scored for those.
        """
        flapping = self._note_flip(state, transition, alert.received_at)
        if transition in (Transition.FIRST, Transition.REFIRE):
            assert priority is not None, "a firing transition needs a priority"
            return self._fire(ws, alert, state, transition, grouping, priority, flapping)
        incident = ws.incidents.get(state.incident_id) if state.incident_id else None
        if incident is None:
            return None
        member = ws.members.get((incident.id, alert.fingerprint))
        if member is None:  # should not happen: loaded with the alert; heal rather than crash
            return incident
        member.count += 1
        member.last_seen = alert.received_at
        incident.last_seen = max(incident.last_seen, alert.received_at)
        _count_report(incident, alert, joined=False)
        if transition is Transition.RESOLVE:
            now = alert.received_at
            member.status = AlertStatus.RESOLVED
            incident.firing_count = max(0, incident.firing_count - 1)
            if flapping:
                self._mark_flapping(ws, incident, alert, now)
            _event(ws, incident, now, "alert_flapped" if flapping else "alert_resolved", alert)
            if incident.firing_count == 0 and incident.status is not IncidentStatus.RESOLVED:
                delay = max(self.settings.resolve_delay, self.settings.flapping.window if flapping else 0.0)
                if delay > 0:
                    incident.correlation["resolve_after"] = now + delay
                    self.due[incident.id] = now + delay
                else:
                    reason = {"reason": f"all {incident.alert_count} alerts resolved"}
                    resolve(ws, incident, alert.ends_at or now, now, ACTOR, reason)
        if transition is Transition.REPEAT:
            ws.count_member(incident.id, member)
        else:
            ws.put_member(incident.id, member)
        ws.touch_incident(incident)
        return incident

    # -- firing --------------------------------------------------------------------

    def _fire(
        self,
        ws: WorkSet,
        alert: Alert,
        state: AlertState,
        transition: Transition,
        grouping: Grouping,
        priority: tuple[str, str],
        flapping: bool,
    ) -> Incident:
        now = alert.received_at
        limits = self.limits(grouping.route)
        found = self._find(ws, state, grouping, limits, now)
        opened = found is None
        if found is None:
            incident, method, reason = self._open_or_storm(ws, alert, grouping, priority, now)
        else:
            incident, method, reason = found
        self.methods[method] += 1
        member = ws.members.get((incident.id, alert.fingerprint))
        if member is None:
            member = IncidentAlert(
                fingerprint=alert.fingerprint,
                status=AlertStatus.FIRING,
                count=1,
                first_seen=now,
                last_seen=now,
                alertname=alert.labels.get("alertname", ""),
            )
            incident.alert_count += 1
            incident.firing_count += 1
            _count_report(incident, alert, joined=True)
            if not opened:
                _event(ws, incident, now, "alert_joined", alert, method=method, reason=reason)
        else:
            member.count += 1
            member.last_seen = now
            _count_report(incident, alert, joined=False)
            if member.status is not AlertStatus.FIRING:
                member.status = AlertStatus.FIRING
                incident.firing_count += 1
            if flapping:
                self._mark_flapping(ws, incident, alert, now)
            _event(ws, incident, now, "alert_flapped" if flapping else "alert_refired", alert)
        incident.correlation.pop("resolve_after", None)
        self.due.pop(incident.id, None)
        incident.last_seen = max(incident.last_seen, now)
        if incident.correlation.get("storm") is not None:
            _count_storm(incident, alert)
        elif not opened and higher(priority[0], incident.priority):
            old = incident.priority
            incident.priority = priority[0]
            incident.reasons = [*incident.reasons, f"{alert.fingerprint}: {priority[1]}"]
            ws.add_event(
                incident.id,
                TimelineEvent(
                    now,
                    "priority_raised",
                    ACTOR,
                    {"from": old, "to": priority[0], "reason": priority[1], "fingerprint": alert.fingerprint},
                ),
            )
        self._register(ws, incident, grouping, limits, now)
        if limits.min_alerts > 1:
            incident.correlation["pending"] = incident.alert_count < limits.min_alerts
        state.incident_id = incident.id
        ws.put_member(incident.id, member)
        ws.touch_incident(incident)
        return incident

    def _find(
        self, ws: WorkSet, state: AlertState, grouping: Grouping, limits: Limits, now: float
    ) -> tuple[Incident, str, str] | None:
        """The open incident this alert should join, with the method and reason."""
        for incident_id in (state.incident_id, ws.open_groups.get(grouping.key)):
            incident = ws.incidents.get(incident_id) if incident_id else None
            if self._joinable(incident, limits, now):
                assert incident is not None
                return incident, "group", f"group {grouping.key}"
        own = ws.incidents.get(state.incident_id) if state.incident_id else None
        if own is not None and self._reopenable(ws, own, grouping, now):
            reason = f"fired again within {self.settings.reopen_window:g}s of the resolution"
            reopen(ws, own, now, "triaged", reason)
            return own, "reopen", reason
        fp = grouping.footprint
        if fp is not None:
            found: dict[str, tuple[Incident, str]] = {}
            for key in grouping.topo_lookup:
                incident = self._pointed(ws, key, limits, now)
                if incident is not None and incident.id not in found:
                    found[incident.id] = (incident, _topology_reason(key, fp))
            if found:
                # The oldest absorbs the others: merges always run newer -> older, so two
                # alerts of one batch can never merge two incidents into each other.
                ordered = sorted(found.values(), key=lambda f: (f[0].opened_at, f[0].id))
                (target, reason), *others = ordered
                if others:
                    # This alert is the link between them (the database that the failing
                    # services all use): one outage, so one incident.
                    self.merges.append((target.id, [o.id for o, _ in others], f"topology: {reason}"))
                return target, "topology", reason
        for key in grouping.sim_keys:
            incident = self._pointed(ws, key, limits, now)
            other = incident.correlation.get("text", "") if incident else ""
            if incident is not None and other:
                score = self.grouper.similarity.similar(grouping.text, other)
                if score >= self.settings.similarity.threshold:
                    return incident, "similarity", f"text similar to the incident's ({score:.2f})"
        return None

    def _reopenable(self, ws: WorkSet, incident: Incident, grouping: Grouping, now: float) -> bool:
        """A resolved incident comes back when its alert re-fires soon enough, unless its
        group has moved on to a newer incident or it was merged away."""
        window = self.settings.reopen_window
        if window <= 0 or incident.status is not IncidentStatus.RESOLVED:
            return False
        if incident.correlation.get("merged_into") or incident.resolved_at is None:
            return False
        newer = ws.open_groups.get(grouping.key)
        seen = float(incident.lifecycle.get("resolved_seen", incident.resolved_at))
        return (newer is None or newer == incident.id) and now - seen <= window

    def _pointed(self, ws: WorkSet, key: str, limits: Limits, now: float) -> Incident | None:
        incident_id = ws.open_groups.get(key)
        incident = ws.incidents.get(incident_id) if incident_id else None
        return incident if self._joinable(incident, limits, now) else None

    def _joinable(self, incident: Incident | None, limits: Limits, now: float) -> bool:
        if incident is None or incident.status is IncidentStatus.RESOLVED:
            return False
        storm = incident.correlation.get("storm") is not None
        if not storm and incident.alert_count >= limits.max_alerts:
            return False
        if now - incident.opened_at > limits.max_age:
            return False
        # An incident whose alerts all went quiet long ago is not the same outage.
        return incident.firing_count > 0 or now - incident.last_seen <= limits.group_window

    def _open_or_storm(
        self, ws: WorkSet, alert: Alert, grouping: Grouping, priority: tuple[str, str], now: float
    ) -> tuple[Incident, str, str]:
        scope = grouping.storm_scope
        if scope and self.storms.storming(scope, now):
            self.storms.opened(scope, now, None)
            key = f"storm:{scope}"
            incident_id = ws.open_groups.get(key)
            incident = ws.incidents.get(incident_id) if incident_id else None
            if incident is not None and incident.status is not IncidentStatus.RESOLVED:
                return incident, "storm", f"alert storm in {scope}"
            incident = _open(ws, alert, key, {"storm": scope}, priority, now)
            incident.title = f"Alert storm ({scope})"
            incident.correlation["storm"] = {"scope": scope, "alerts": 0, "alertnames": {}, "merged": []}
            recent = self.storms.recent(scope)
            if recent:
                self.merges.append((incident.id, recent, f"alert storm in {scope}"))
            ws.add_event(
                incident.id,
                TimelineEvent(
                    now,
                    "storm_collapsed",
                    ACTOR,
                    {
                        "scope": scope,
                        "reason": f"more than {self.settings.storm.threshold} new incidents within "
                        f"{self.settings.storm.window:g}s: further alerts join this incident",
                        "merging": recent,
                    },
                ),
            )
            return incident, "storm", f"alert storm in {scope}"
        incident = _open(ws, alert, grouping.key, grouping.labels, priority, now, grouping.all_labels)
        if grouping.text:
            incident.correlation["text"] = grouping.text
        if scope:
            self.storms.opened(scope, now, incident.id)
        return incident, "opened", ""

    def _register(
        self, ws: WorkSet, incident: Incident, grouping: Grouping, limits: Limits, now: float
    ) -> None:
        """Claim this alert's topology, similarity and inhibition keys for its incident."""
        keys: list[str] = list(grouping.inhibit_sources)
        if grouping.footprint is not None:
            for key in grouping.footprint.register_keys():
                if key.startswith("topo:up:"):
                    self._claim_slot(ws, incident, key, limits, now)
                else:
                    keys.append(key)
            entities = incident.correlation.setdefault("entities", [])
            new = [e for e in sorted(grouping.footprint.own) if e not in entities]
            if new and len(entities) < MAX_ENTITIES:
                entities.extend(new[: MAX_ENTITIES - len(entities)])
                cause = self.grouper.topology.likely_cause(entities)
                if cause and cause != incident.correlation.get("cause"):
                    incident.correlation["cause"] = cause
        if incident.correlation.get("text"):
            keys += grouping.sim_keys
        for key in keys:
            current = ws.open_groups.get(key)
            if current == incident.id:
                continue
            if current is not None and self._joinable(ws.incidents.get(current), limits, now):
                continue
            ws.set_open_group(key, incident.id)

    def _claim_slot(self, ws: WorkSet, incident: Incident, key: str, limits: Limits, now: float) -> None:
        """Take the first free slot of a multi-valued pointer (or none: all taken by live ones)."""
        for slot in slots(key):
            current = ws.open_groups.get(slot)
            if current == incident.id:
                return
            if current is None or not self._joinable(ws.incidents.get(current), limits, now):
                ws.set_open_group(slot, incident.id)
                return

    # -- flapping ------------------------------------------------------------------

    def _note_flip(self, state: AlertState, transition: Transition, now: float) -> bool:
        """Record a fire/resolve change; whether the alert is now flapping."""
        cfg = self.settings.flapping
        if not cfg.enabled:
            return False
        if not state.flips and transition is not Transition.RESOLVE and transition is not Transition.REFIRE:
            return False  # most alerts never flip: nothing to prune, nothing to count
        recent = [t for t in state.flips if now - t <= cfg.window]
        if transition in (Transition.RESOLVE, Transition.REFIRE):
            recent = [*recent, now][-(cfg.changes + 1) :]
        state.flips = recent
        return len(recent) > cfg.changes

    def _mark_flapping(self, ws: WorkSet, incident: Incident, alert: Alert, now: float) -> None:
        flapping = incident.correlation.setdefault("flapping", {})
        if alert.fingerprint not in flapping:
            ws.add_event(
                incident.id,
                TimelineEvent(
                    now,
                    "flapping",
                    ACTOR,
                    {
                        "fingerprint": alert.fingerprint,
                        "alertname": alert.labels.get("alertname", ""),
                        "reason": f"more than {self.settings.flapping.changes} fire/resolve changes in "
                        f"{self.settings.flapping.window:g}s: its changes no longer reopen or re-notify",
                    },
                ),
            )
        flapping[alert.fingerprint] = now


def _topology_reason(key: str, fp: Footprint) -> str:
    _, relation, entity = key.removesuffix(fp.scope).split(":", 2)
    if relation == "own" and entity in fp.own:
        return f"same {entity}"
    if relation == "own":
        return f"depends on {entity}, which is alerting"
    if entity in fp.own:
        return f"the incident's alerts depend on {entity}"
    return f"shares {entity} with the incident's alerts"


def _count_storm(incident: Incident, alert: Alert) -> None:
    storm = incident.correlation["storm"]
    storm["alerts"] = int(storm.get("alerts", 0)) + 1
    names: dict[str, int] = storm.setdefault("alertnames", {})
    name = alert.labels.get("alertname", "")
    names[name] = names.get(name, 0) + 1
    if len(names) > 2 * MAX_STORM_NAMES:
        storm["alertnames"] = dict(Counter(names).most_common(MAX_STORM_NAMES))
    top = ", ".join(f"{n} x{c}" for n, c in Counter(storm["alertnames"]).most_common(3))
    incident.title = f"Alert storm ({storm['scope']}): {storm['alerts']} alerts; top: {top}"


def _open(
    ws: WorkSet,
    alert: Alert,
    group_key: str,
    group_labels: dict[str, str],
    priority: tuple[str, str],
    now: float,
    all_labels: bool = False,
) -> Incident:
    incident = Incident(
        id=new_incident_id(now),
        group_key=group_key,
        title=_title(alert, group_labels, all_labels),
        status=IncidentStatus.OPEN,
        priority=priority[0],
        reasons=[f"{alert.fingerprint}: {priority[1]}"],
        opened_at=now,
        last_seen=now,
        alert_count=0,
        firing_count=0,
        group_labels=dict(group_labels),
        notifications=0,
    )
    ws.new_incidents.add(incident.id)
    ws.set_open_group(group_key, incident.id)
    ws.add_event(
        incident.id,
        TimelineEvent(
            now,
            "opened",
            ACTOR,
            {
                "group_key": group_key,
                "fingerprint": alert.fingerprint,
                "alertname": alert.labels.get("alertname", ""),
                "priority": priority[0],
                "reason": priority[1],
            },
        ),
    )
    return incident


def _group_key(name: str, keys: Sequence[str], labels: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    chosen = {k: labels.get(k, "") for k in keys}
    inner = ",".join(f'{k}="{v}"' for k, v in chosen.items())
    return f"{name}:{{{inner}}}", chosen


def _title(alert: Alert, group_labels: Mapping[str, str], all_labels: bool) -> str:
    name = alert.labels.get("alertname", "") or "alert"
    summary = alert.annotations.get("summary", "")
    if all_labels:
        return f"{name}: {summary}" if summary else name
    scope = ", ".join(f"{k}={v}" for k, v in group_labels.items() if k != "alertname" and v)
    return f"{name} ({scope})" if scope else name


def _event(ws: WorkSet, incident: Incident, at: float, kind: str, alert: Alert, **extra: str) -> None:
    detail = {"fingerprint": alert.fingerprint, "alertname": alert.labels.get("alertname", "")}
    detail.update({k: v for k, v in extra.items() if v})
    ws.add_event(incident.id, TimelineEvent(at, kind, ACTOR, detail))


def _count_report(incident: Incident, alert: Alert, *, joined: bool) -> None:
    """Keep the record's report figures in step with its members' counts (one report, one
    count), so that the KPIs never read every alert. Incidents stored before these
    figures existed keep None: the KPIs read their alerts instead."""
    if incident.notifications is None:
        return
    incident.notifications += 1
    if joined:
        start = alert.starts_at or alert.received_at
        if incident.first_alert_at is None or start < incident.first_alert_at:
            incident.first_alert_at = start
        if incident.service is None and alert.labels.get("service"):
            incident.service = alert.labels["service"]
