"""The pipeline: take accepted notifications from the intake, dedupe, correlate, score, commit.

The order of stages lives here and only here. Stages work on a whole batch held in a
``WorkSet`` (not one awaited call per alert, as conventions.md sketches): a batch
costs one store read and one store commit, which is what lets the pipeline keep up
with the edge. A step's effects and the removal of its intake entries are one commit,
so a crash at any point replays at most the uncommitted batch, with the same result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Generator, Iterable, Mapping, Sequence
from typing import Any

import structlog

from classifiers.generations import Generations
from classifiers.priority import Blast
from classifiers.score import PredictionLike
from daemon import incident_state, upkeep
from daemon.clock import Clock, SystemClock
from daemon.errors import Conflict, NotFound, StoreUnavailable
from daemon.metrics import Metrics
from daemon.models import (
    Alert,
    AlertState,
    AlertStatus,
    Incident,
    IncidentStatus,
    Notification,
    TimelineEvent,
)
from daemon.settings import Settings
from daemon.silences import Silence, maintenance_silences
from daemon.slices import Slicer
from daemon.stages.correlate import Correlator, Grouper, Grouping
from daemon.stages.dedupe import DUPLICATES, Transition, classify, next_state
from daemon.stages.lifecycle import Lifecycle
from daemon.stages.route import Router
from daemon.stages.score import Scorer, load_urgency_model, model_version, reload_urgency_model
from daemon.stages.suppress import Suppressor
from daemon.store.base import IntakeEntry, MoreKeys, Store
from daemon.workset import WorkSet

log = structlog.get_logger(__name__)
IDLE_POLL_SECONDS = 1.0
# Silences made on another replica apply here within this delay.
SILENCE_REFRESH_SECONDS = 1.0
# Delayed resolutions (resolve_delay, flapping) and pointer sweeps run this often.
UPKEEP_SECONDS = 1.0
# Groupings kept by fingerprint: two generations of this many (classifiers/generations.py).
GROUPING_GENERATION = 10_000
# Timeline kinds that change an incident's state: each gets its canonical log line.
TRANSITIONS = frozenset({"opened", "resolved", "reopened", "storm_collapsed", "flapping"})
LOGGED_DETAIL = ("reason", "group_key", "into", "scope")
ERROR_BACKOFF_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)
# New alerts per model call, at most. A call that computes has a fixed cost of ~5 ms
# (scikit-learn's checks in seven column transformers), against ~60 us per new row; its
# cache answers most rows without one, but each row still costs its features and its
# cache key (~50-100 us on a slow core). When calls ran on the event loop, 256 rows made
# 20-50 ms stalls (a lag probe at half the sustained rate) and 64 kept a call near one
# slice. Calls now run in a worker thread (the loop gets the GIL back every switch
# interval); 64 is kept, as it still amortises the fixed cost.
SCORE_CHUNK = 64


class Pipeline:
    """Owns the stage order and the single-writer lock of this process."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        metrics: Metrics,
        clock: Clock | None = None,
        *,
        models: bool = True,
    ) -> None:
        """``models=False`` loads no model: an ingest replica scores nothing, and the
        default model costs about 30 MB and a second of start-up."""
        self.store = store
        self.settings = settings
        self.metrics = metrics
        corr = settings.correlation
        self.suppressor = Suppressor(corr.inhibit_rules, maintenance_silences(corr.maintenance))
        self.grouper = Grouper(corr, self.suppressor)
        self.correlator = Correlator(corr, self.grouper)
        # fingerprint -> (annotations, grouping): same labels, same keys; repeats (most
        # traffic) hit it. The annotations are kept because similarity reads them: an
        # update that changes the summary must not keep the old text.
        self._groupings: Generations[str, tuple[Mapping[str, str], Grouping]] = Generations(
            GROUPING_GENERATION
        )
        self._silences_read = 0.0
        self._upkeep_at = 0.0
        self.router = Router(settings.connectors, settings.delivery.public_url)
        self.lifecycle = Lifecycle(settings)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.summary_due = 0.0
        shadow = settings.triage.shadow_model if models else None
        self.scorer = Scorer(
            settings.triage,
            load_urgency_model(settings.triage.model, settings.triage.registry) if models else None,
            load_urgency_model(shadow, settings.triage.registry) if shadow else None,
            metrics,
        )
        # One writer per incident: steps and a person's actions never interleave.
        self.lock = asyncio.Lock()
        self._log_duplicates = self._log_alerts = True  # until the first batch asks the logger

    # -- the worker --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Process until ``stop`` is set; then drain what is pending, within the configured time."""
        failures = 0
        while not stop.is_set():
            try:
                done = await self.step()
                if time.monotonic() >= self._upkeep_at:
                    self._upkeep_at = time.monotonic() + UPKEEP_SECONDS
                    await upkeep.run(self)
                failures = 0
            except Exception as err:
                # The batch stays in the intake and is retried after a pause; a bug must
                # not kill the worker (that would stop all processing silently).
                kind = "store_unavailable" if isinstance(err, StoreUnavailable) else "internal"
                self.metrics.pipeline_errors.labels(error=kind).inc()
                delay = ERROR_BACKOFF_SECONDS[min(failures, len(ERROR_BACKOFF_SECONDS) - 1)]
                failures += 1
                if kind == "internal":
                    log.exception("pipeline_step_crashed", retry_in=delay)
                else:
                    log.warning("pipeline_step_failed", error=str(err), retry_in=delay)
                await _sleep_unless(stop, delay)
                continue
            if done == 0:
                waiter = asyncio.ensure_future(self.store.wait_for_intake(IDLE_POLL_SECONDS))
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                for task in (waiter, stopper):
                    task.cancel()
        await self.drain(self.settings.pipeline.shutdown_timeout)

    async def drain(self, timeout: float) -> int:
        """Process pending intake until empty or ``timeout``; returns alerts left pending."""
        deadline = time.monotonic() + timeout
        while self.store.backlog() > 0 and time.monotonic() < deadline:
            try:
                if await self.step() == 0:
                    break
            except StoreUnavailable as err:
                log.warning("drain_step_failed", error=str(err))
                break
        left = self.store.backlog()
        if left:
            log.warning("drain_incomplete", pending_alerts=left, note="kept in the intake")
        return left

    async def step(self) -> int:
        """One batch: take, then load/process/commit through the store. Returns alerts taken.

        Only a batch with entries waits for the store's turn (an idle poll would cost a
        lease per poll), and it waits outside the lock: another replica's batch must not
        hold up this process's own incident actions."""
        async with self.lock:
            entries = await self.store.take(self.settings.pipeline.batch_size)
        if not entries:
            self.metrics.intake_backlog.set(self.store.backlog())
            return 0
        async with self.store.turn(), self.lock:
            t0 = time.perf_counter()
            # Asked once a batch: each debug call on a module logger costs ~1.7 us even when
            # filtered out (structlog's lazy proxy, then the arguments), for every repeat.
            self._log_duplicates = log.is_enabled_for(logging.DEBUG)
            self._log_alerts = log.is_enabled_for(logging.INFO)
            await self._refresh_silences()
            alerts = [a for e in entries for a in e.notification.alerts]
            fps = [a.fingerprint for a in alerts]
            groupings = await self._groupings_of(alerts)
            keys = list(dict.fromkeys(g.key for g in groupings.values()))

            async def apply(ws: WorkSet, pending: Sequence[IntakeEntry]) -> tuple[WorkSet, Counter[str]]:
                outcomes: Counter[str] = Counter()
                steps = self._steps(ws, [e.notification for e in pending], groupings, outcomes)
                with contextlib.suppress(StopIteration):
                    request = steps.send(None)
                    while True:
                        if request is None:
                            await asyncio.sleep(0)
                            request = steps.send(None)
                        else:
                            # A model call is one stretch of 5-20 ms in scikit-learn: in a
                            # thread, the event loop gets the GIL back every switch interval.
                            request = steps.send(await asyncio.to_thread(self._predict, request))
                return ws, outcomes

            more = _paging_keys(alerts, groupings)
            ws, outcomes = await self.store.process_batch(entries, fps, keys, apply, more)
            elapsed = time.perf_counter() - t0
        self._count(ws, outcomes, elapsed)
        if self.correlator.merges:
            merges, self.correlator.merges = self.correlator.merges, []
            for target, ids, reason in merges:
                await upkeep.merge_into(self, target, ids, reason)
        return len(alerts)

    async def _groupings_of(self, alerts: Sequence[Alert]) -> dict[str, Grouping]:
        """Every alert's grouping, letting the event loop run between slices: a new
        fingerprint costs ~50-100 us (topology, similarity), and a storm's batch is mostly new."""
        groupings: dict[str, Grouping] = {}
        slicer = Slicer()
        for alert in alerts:
            if alert.fingerprint not in groupings:
                groupings[alert.fingerprint] = self.grouping_of(alert)
                await slicer.pause()
        return groupings

    def grouping_of(self, alert: Alert) -> Grouping:
        """The alert's grouping and correlation keys, cached by fingerprint (same labels)
        while the annotations stay the same."""
        cached = self._groupings.get(alert.fingerprint)
        # ``is`` first: alerts parsed from the same earlier one share their dicts, and a
        # dict comparison has no identity shortcut of its own.
        if cached is not None and (cached[0] is alert.annotations or cached[0] == alert.annotations):
            return cached[1]
        grouping = self.grouper.group_of(alert.labels, alert.annotations)
        self._groupings.put(alert.fingerprint, (alert.annotations, grouping))
        return grouping

    async def _refresh_silences(self) -> None:
        """Re-read the stored silences at most once a second (replicas create them too)."""
        if time.monotonic() - self._silences_read < SILENCE_REFRESH_SECONDS:
            return
        docs = await self.store.list_silences()
        now = time.time()
        stored = [Silence.from_json(d) for d in docs]
        self.suppressor.set_stored([x for x in stored if x.state(now) != "expired"])
        self._silences_read = time.monotonic()

    def invalidate_silences(self) -> None:
        """A silence changed here: re-read before the next batch."""
        self._silences_read = 0.0

    def _count(self, ws: WorkSet, outcomes: Counter[str], elapsed: float) -> None:
        m = self.metrics
        m.stage_seconds.labels(stage="batch").observe(elapsed)
        for outcome, n in outcomes.items():
            m.alerts_processed.labels(outcome=outcome).inc(n)
            if Transition(outcome) in DUPLICATES:
                m.alerts_dropped.labels(reason=outcome).inc(n)
        for incident_id in ws.new_incidents:
            m.incidents_opened.labels(priority=ws.incidents[incident_id].priority).inc()
        for incident_id, event in ws.events:
            if event.kind == "resolved":
                m.incidents_resolved.labels(by="alerts").inc()
            if event.kind in TRANSITIONS:
                # One canonical line per incident transition, written once it is committed.
                incident = ws.incidents.get(incident_id)
                log.info(
                    f"incident_{event.kind}",
                    incident=incident_id,
                    priority=incident.priority if incident else None,
                    team=incident.team if incident else None,
                    **{
                        k: v for k, v in event.detail.items() if k in ("reason", "group_key", "into", "scope")
                    },
                )
        for method, n in self.correlator.methods.items():
            m.alerts_correlated.labels(method=method).inc(n)
        self.correlator.methods.clear()
        m.pipeline_batches.inc()
        m.intake_backlog.set(self.store.backlog())

    # -- the stages, over one batch ------------------------------------------------------

    def process(
        self,
        ws: WorkSet,
        notifications: Sequence[Notification],
        groupings: dict[str, Grouping] | None = None,
    ) -> Counter[str]:
        """Apply every alert of every notification to ``ws`` in arrival order, in one go.

        ``groupings`` (fingerprint -> group) is what ``step`` already computed to load the
        groups; same fingerprint, same labels, same group, so each is computed once.
        """
        outcomes: Counter[str] = Counter()
        steps = self._steps(ws, notifications, {} if groupings is None else groupings, outcomes)
        with contextlib.suppress(StopIteration):
            request = steps.send(None)
            while True:
                request = steps.send(None if request is None else self._predict(request))
        return outcomes

    def _steps(
        self,
        ws: WorkSet,
        notifications: Sequence[Notification],
        groupings: dict[str, Grouping],
        outcomes: Counter[str],
    ) -> Generator[list[Alert] | None, dict[str, PredictionLike] | None, None]:
        """``process``, as a generator of what it needs from its caller: ``None`` after
        about a slice of work (between notifications; daemon/slices.py), or alerts whose
        model predictions it needs sent back.

        The caller decides how: ``step`` lets the event loop run and calls the model in a
        thread, ``process`` does both inline. The work set belongs to this batch alone
        (the pipeline lock is held), so nothing else can see it half-applied.
        """
        t0 = time.perf_counter()
        slicer = Slicer()
        labels_of: dict[str, dict[str, str]] = {}
        blasts = self._blasts(ws, notifications, groupings)
        predictions: dict[str, PredictionLike] = {}
        scored_upto = 0
        for i, notification in enumerate(notifications):
            if i >= scored_upto:
                fresh, scored_upto = self._fresh_ahead(ws, notifications, i)
                if fresh:
                    predictions.update((yield fresh) or {})
            touched: dict[str, Incident] = {}
            for alert in notification.alerts:
                incident = self._apply_alert(ws, alert, groupings, blasts, predictions, outcomes)
                if incident is not None:
                    touched[incident.id] = incident
                    labels_of.setdefault(incident.id, alert.labels)
            _note_truncation(ws, notification, touched.values())
            if slicer.due():
                yield None
        for incident_id in ws.new_incidents:
            incident = ws.incidents[incident_id]
            self.lifecycle.assign(ws, incident, labels_of.get(incident_id, {}))
        for incident_id, event in ws.events:
            if event.kind == "reopened" and incident_id in ws.incidents:
                self.lifecycle.restart(ws.incidents[incident_id], event.at)
        self.router.route(ws, labels_of)
        self.metrics.stage_seconds.labels(stage="process").observe(time.perf_counter() - t0)

    def _apply_alert(
        self,
        ws: WorkSet,
        alert: Alert,
        groupings: dict[str, Grouping],
        blasts: dict[str, Blast],
        predictions: dict[str, PredictionLike],
        outcomes: Counter[str],
    ) -> Incident | None:
        """One alert through dedupe, suppression, scoring and correlation; its incident, if any."""
        prev = ws.alerts.get(alert.fingerprint)
        transition = classify(prev, alert)
        outcomes[transition.value] += 1
        if transition is Transition.STALE:
            if self._log_duplicates:
                log.debug("alert", fingerprint=alert.fingerprint, outcome=transition.value)
            return None
        counters_only = transition is Transition.REPEAT and _repeats(prev, alert)
        state = next_state(prev, alert, transition)
        if counters_only:
            ws.see_alert(state)
        else:
            ws.put_alert(state)
        grouping = groupings.get(alert.fingerprint)
        if grouping is None:
            grouping = groupings[alert.fingerprint] = self.grouping_of(alert)
        transition = self._suppress(ws, alert, state, transition, grouping)
        if transition is Transition.SUPPRESSED:
            outcomes[transition.value] += 1
            return None
        priority = None
        if transition in (Transition.FIRST, Transition.REFIRE):
            blast = blasts.get(grouping.key, Blast())
            priority = self.scorer.score(alert, predictions.get(alert.fingerprint), blast)
        incident = self.correlator.apply(ws, alert, state, transition, grouping, priority)
        duplicate = transition in DUPLICATES
        if not (self._log_duplicates if duplicate else self._log_alerts):
            return incident
        level = log.debug if duplicate else log.info
        level(
            "alert",
            fingerprint=alert.fingerprint,
            source=alert.source,
            alertname=alert.labels.get("alertname", ""),
            outcome=transition.value,
            incident=incident.id if incident else None,
        )
        return incident

    def _suppress(
        self, ws: WorkSet, alert: Alert, state: AlertState, transition: Transition, grouping: Grouping
    ) -> Transition:
        """Silence, maintenance or inhibition: record the alert, open nothing.

        A suppressed alert that is still firing when its silence ends opens or joins
        its incident at its next notification (senders repeat firing alerts).
        """
        may_page = transition in (Transition.FIRST, Transition.REFIRE) or (
            state.suppressed is not None and transition in (Transition.REPEAT, Transition.UPDATE)
        )
        if not may_page:
            return transition
        now = alert.received_at
        reason, by = None, ""
        silence = self.suppressor.silenced_by(alert.labels, now)
        if silence is not None:
            by = "maintenance" if silence.id.startswith("maintenance:") else "silence"
            reason = f"{by} {silence.id}" + (f": {silence.comment}" if silence.comment else "")
        else:
            for rule, key in grouping.inhibit_targets:
                source_id = ws.open_groups.get(key)
                source = ws.incidents.get(source_id) if source_id else None
                if source is None or source.status is IncidentStatus.RESOLVED or source.firing_count == 0:
                    continue
                if source.id == state.incident_id:
                    continue  # an incident never mutes its own alerts
                by, reason = "inhibition", f"inhibited by incident {source.id} (inhibit_rules[{rule}])"
                ws.add_event(
                    source.id,
                    TimelineEvent(
                        now,
                        "suppressed",
                        "triaged",
                        {
                            "fingerprint": alert.fingerprint,
                            "alertname": alert.labels.get("alertname", ""),
                            "reason": f"this incident inhibits it (inhibit_rules[{rule}])",
                        },
                    ),
                )
                break
        if reason is None:
            if state.suppressed is not None:
                state.suppressed = None
                return Transition.FIRST if state.incident_id is None else Transition.REFIRE
            return transition
        if state.suppressed is None:
            self.metrics.alerts_suppressed.labels(reason=by).inc()
        state.suppressed = reason
        return Transition.SUPPRESSED

    def _blasts(
        self, ws: WorkSet, notifications: Sequence[Notification], groupings: dict[str, Grouping]
    ) -> dict[str, Blast]:
        """Each group's blast radius: the open incident's alerts plus this batch's distinct
        hosts and services of the group (an estimate: hosts and services of earlier batches
        are not reloaded)."""
        alerts: dict[str, set[str]] = {}
        hosts: dict[str, set[str]] = {}
        services: dict[str, set[str]] = {}
        for n in notifications:
            for a in n.alerts:
                grouping = groupings.get(a.fingerprint)
                if grouping is None:
                    grouping = groupings[a.fingerprint] = self.grouping_of(a)
                key = grouping.key
                alerts.setdefault(key, set()).add(a.fingerprint)
                hosts.setdefault(key, set()).add(a.labels.get("instance", a.fingerprint))
                services.setdefault(key, set()).add(a.labels.get("service", ""))
        blasts = {}
        for key, fps in alerts.items():
            open_id = ws.open_groups.get(key)
            existing = ws.incidents[open_id].alert_count if open_id in ws.incidents else 0
            blasts[key] = Blast(
                alerts=existing + len(fps), hosts=len(hosts[key]), services=len(services[key] - {""}) or 1
            )
        return blasts

    def _fresh_ahead(
        self, ws: WorkSet, notifications: Sequence[Notification], start: int
    ) -> tuple[list[Alert], int]:
        """The new alerts of the notifications from ``start`` on, up to about ``SCORE_CHUNK``
        of them, for one model call; and the index of the first notification not covered.

        Only alerts that may open or join an incident (never seen, or seen resolved)
        reach the model: repeats, the bulk of the traffic, cost nothing here.
        """
        fresh: dict[str, Alert] = {}
        end = start
        while end < len(notifications) and len(fresh) < SCORE_CHUNK:
            for a in notifications[end].alerts:
                prev = ws.alerts.get(a.fingerprint)
                if prev is None or prev.status is not AlertStatus.FIRING or prev.suppressed:
                    fresh.setdefault(a.fingerprint, a)
            end += 1
        return list(fresh.values()), end

    def _predict(self, alerts: list[Alert]) -> dict[str, PredictionLike]:
        """One model call, timed (``step`` runs it in a worker thread)."""
        t0 = time.perf_counter()
        predictions = self.scorer.predict(alerts)
        self.metrics.stage_seconds.labels(stage="score").observe(time.perf_counter() - t0)
        return predictions

    # -- a person's actions ------------------------------------------------------------

    async def acknowledge(self, incident_id: str, actor: str, note: str = "") -> Incident:
        """Mark an open incident as being worked on; acknowledging twice changes nothing."""

        def apply(ws: WorkSet) -> tuple[Incident, bool]:
            incident = _require(ws, incident_id)
            if incident.status is IncidentStatus.RESOLVED:
                raise Conflict(f"incident {incident_id} is resolved; reopen it before acknowledging")
            if incident.status is IncidentStatus.ACKNOWLEDGED:
                return incident, False
            self.lifecycle.stop(incident)
            incident_state.acknowledge(ws, incident, time.time(), actor, _note(note))
            self.router.route(ws, {})
            return incident, True

        async with self.lock:
            incident, changed = await self.store.update_incident(incident_id, apply)
        if changed:
            self.metrics.incidents_acknowledged.inc()
            log.info("incident_acknowledged", incident=incident_id, actor=actor)
        return incident

    async def resolve(self, incident_id: str, actor: str, note: str = "") -> Incident:
        """Resolve by hand (alerts may still fire); resolving twice changes nothing."""

        def apply(ws: WorkSet) -> tuple[Incident, bool]:
            incident = _require(ws, incident_id)
            if incident.status is IncidentStatus.RESOLVED:
                return incident, False
            now = time.time()
            self.lifecycle.stop(incident)
            detail = _note(note)
            if incident.firing_count:
                detail["still_firing"] = incident.firing_count
            incident_state.resolve(ws, incident, now, now, actor, detail)
            self.router.route(ws, {})
            return incident, True

        async with self.lock:
            incident, changed = await self.store.update_incident(incident_id, apply)
        if changed:
            self.metrics.incidents_resolved.labels(by="manual").inc()
            log.info("incident_resolved", incident=incident_id, actor=actor)
        return incident

    def reload_model(self) -> tuple[bool, str | None]:
        """Swap in the model file now on disk; a refused file keeps the running model.

        Returns (swapped, running version). The swap is one assignment between batches
        (the event loop runs one step at a time), so no batch sees two models.
        """
        fresh = reload_urgency_model(self.settings.triage.model, self.settings.triage.registry)
        if fresh is None:
            log.error("model_reload_refused", kept=model_version(self.scorer.model))
            return False, model_version(self.scorer.model)
        old = model_version(self.scorer.model)
        self.scorer.model = fresh
        if old is not None:
            self.metrics.model_info.remove("active", old)
        self.metrics.model_info.labels(role="active", version=model_version(fresh)).set(1)
        log.info("model_reloaded", version=model_version(fresh), was=old)
        return True, model_version(fresh)

    async def feedback(self, incident_id: str, actor: str, fb: dict[str, Any]) -> Incident:
        """A person's correction (priority, urgency, team, noise, duplicate), kept as a
        training label in the timeline and applied to the incident where it applies."""

        def apply(ws: WorkSet) -> Incident:
            incident = _require(ws, incident_id)
            now = time.time()
            if fb.get("priority") and fb["priority"] != incident.priority:
                incident.reasons = [
                    *incident.reasons,
                    f"set to {fb['priority']} by {actor} (feedback; was {incident.priority})",
                ]
                incident.priority = fb["priority"]
            if fb.get("team"):
                incident.team = fb["team"]
            ws.touch_incident(incident)
            ws.add_event(incident_id, TimelineEvent(now, "feedback", actor, dict(fb)))
            self.router.route(ws, {})
            return incident

        async with self.lock:
            incident = await self.store.update_incident(incident_id, apply)
        log.info("incident_feedback", incident=incident_id, actor=actor, **fb)
        return incident


def _paging_keys(alerts: Sequence[Alert], groupings: Mapping[str, Grouping]) -> MoreKeys:
    """The correlation keys (topology, similarity, storm, inhibition) a batch must load.

    Only an alert that may open or join an incident reads them: one never seen, one
    not firing before (it may re-fire), one suppressed (it may be released), one without
    an incident, or one this batch also resolves (it may re-fire later in the batch).
    A firing alert that stays firing is a repeat or an update: it needs only its group,
    and its grouping's paging part is never computed. Computing the others' takes
    ~20 us each, so the event loop runs between slices, as for any batch work.
    """
    resolving = {a.fingerprint for a in alerts if a.status is not AlertStatus.FIRING}

    async def keys(states: Mapping[str, AlertState]) -> list[str]:
        out: list[str] = []
        slicer = Slicer()
        for fp, grouping in groupings.items():
            prev = states.get(fp)
            if (
                prev is None
                or prev.status is not AlertStatus.FIRING
                or prev.suppressed is not None
                or prev.incident_id is None
                or fp in resolving
            ):
                computed = grouping.computed
                out.extend(grouping.load_keys)
                if not computed:
                    await slicer.pause()
        return out

    return keys


def _repeats(prev: AlertState | None, alert: Alert) -> bool:
    """Whether a repeat changes only the counters of ``prev`` (and of its membership).

    A suppressed alert is re-examined on every repeat (its silence may have ended), and
    a sender whose fingerprints are its own keys may change the labels under one.
    """
    return (
        prev is not None
        and prev.suppressed is None
        and prev.ends_at == alert.ends_at
        and (not alert.generator_url or alert.generator_url == prev.generator_url)
        and (prev.labels is alert.labels or prev.labels == alert.labels)
    )


def _require(ws: WorkSet, incident_id: str) -> Incident:
    incident = ws.incidents.get(incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    return incident


def _note(note: str) -> dict[str, object]:
    return {"note": note} if note else {}


def _note_truncation(ws: WorkSet, n: Notification, incidents: Iterable[Incident]) -> None:
    """Record the sender's count of alerts it left out, so nobody mistakes 2 shown for 2 firing."""
    for incident in incidents:
        if incident.truncated_alerts != n.truncated_alerts:
            incident.truncated_alerts = n.truncated_alerts
            ws.touch_incident(incident)
            ws.add_event(
                incident.id,
                TimelineEvent(
                    n.received_at,
                    "truncated",
                    "triaged",
                    {
                        "truncated_alerts": n.truncated_alerts,
                        "note": f"{n.source} left out {n.truncated_alerts} alerts of this group",
                    },
                ),
            )


async def _sleep_unless(stop: asyncio.Event, delay: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), delay)
    except TimeoutError:
        return
