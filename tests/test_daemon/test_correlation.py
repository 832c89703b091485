"""Correlation beyond group_by: topology, similarity, storms, flapping, limits, silences, inhibition.

Every test runs the real app over loopback HTTP on both stores: the pointer keys that
correlation relies on must behave the same on SQLite and on Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from support import settle

from daemon.app import create_app
from daemon.settings import Settings

URL = "/api/v1/alerts/alertmanager"
Client = TestClient[Any, Any]
T0 = time.time()


def alert(
    name: str, status: str = "firing", starts: float = 0.0, summary: str = "", **labels: str
) -> dict[str, Any]:
    """One Alertmanager alert; ``starts`` offsets startsAt so a re-fire is a new occurrence."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 - 3600 + starts)) + "Z"
    ends = "0001-01-01T00:00:00Z" if status == "firing" else stamp
    return {
        "status": status,
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": summary} if summary else {},
        "startsAt": stamp,
        "endsAt": ends,
    }


def body(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": "triaged", "alerts": list(alerts)}


@pytest.fixture
def make_client(
    aiohttp_client: Callable[..., Awaitable[Client]],
    make_settings: Callable[..., Settings],
    store_config: dict[str, Any],
) -> Callable[..., Awaitable[Client]]:
    async def make(**overrides: Any) -> Client:
        settings = make_settings(store=store_config, **overrides)
        return await aiohttp_client(create_app(settings))

    return make


async def send(client: Client, *alerts: dict[str, Any]) -> None:
    resp = await client.post(URL, json=body(*alerts))
    assert resp.status == 202, await resp.text()
    await settle(client.app)


async def incidents(client: Client) -> list[dict[str, Any]]:
    listing = (await (await client.get("/api/v1/incidents?limit=1000")).json())["incidents"]
    return [await (await client.get(f"/api/v1/incidents/{i['id']}")).json() for i in listing]


def names(incident: dict[str, Any]) -> set[str]:
    return {a["labels"]["alertname"] for a in incident["alerts"]}


FINE = ["alertname", "cluster", "node", "pod", "service"]
CASCADE = {
    "group_by": FINE,
    "topology": {
        "depends_on": {
            "pod:shop/cart-1": ["host:node-3"],
            "pod:shop/web-1": ["host:node-5"],
            "service:cart": ["pod:shop/cart-1", "service:cart-db"],
            "service:checkout": ["service:cart"],
        }
    },
}


async def test_node_failure_cascade_is_one_incident_with_its_cause(
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    """Pods, then their node, then the services over them: one incident, the node named;
    an unrelated pod on another node in the same cluster stays apart."""
    client = await make_client(correlation=CASCADE)
    await send(client, alert("KubePodNotReady", cluster="c1", namespace="shop", pod="cart-1"))
    await send(client, alert("KubeNodeNotReady", cluster="c1", node="node-3"))
    await send(client, alert("TargetDown", cluster="c1", service="cart"))
    await send(client, alert("HighLatency", cluster="c1", service="checkout"))
    await send(client, alert("KubePodNotReady", cluster="c1", namespace="shop", pod="web-1"))
    # The same names in another cluster are another outage.
    await send(client, alert("KubeNodeNotReady", cluster="c2", node="node-3"))
    found = await incidents(client)
    by_size = sorted(found, key=lambda i: -i["alert_count"])
    assert [i["alert_count"] for i in by_size] == [4, 1, 1]
    cascade = by_size[0]
    assert names(cascade) == {"KubePodNotReady", "KubeNodeNotReady", "TargetDown", "HighLatency"}
    assert cascade["correlation"]["cause"] == "host:node-3"
    joins = [e for e in cascade["timeline"] if e["kind"] == "alert_joined"]
    assert {e["detail"]["method"] for e in joins} == {"topology"}
    assert any("node-3" in e["detail"]["reason"] for e in joins)
    metrics = await (await client.get("/metrics")).text()
    assert 'triaged_alerts_correlated_total{method="topology"} 3.0' in metrics


async def test_a_refiring_alert_joins_the_related_open_incident(
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    """A re-fire is a new occurrence: it reads the topology pointers as a new alert does.

    (Repeats of a firing alert do not read them; a store that skipped them for every
    alert it had seen before would open a third incident here.)
    """
    client = await make_client(correlation=CASCADE)
    pod = {"cluster": "c1", "namespace": "shop", "pod": "cart-1"}
    await send(client, alert("KubePodNotReady", **pod))
    await send(client, alert("KubePodNotReady", "resolved", **pod))
    await send(client, alert("KubeNodeNotReady", cluster="c1", node="node-3"))
    await send(client, alert("KubePodNotReady", starts=600, **pod))  # the pod fails again
    found = await incidents(client)
    live = [i for i in found if i["status"] != "resolved"]
    assert len(found) == 2, [(i["title"], i["status"]) for i in found]
    [outage] = live
    assert names(outage) == {"KubeNodeNotReady", "KubePodNotReady"}
    joins = [e for e in outage["timeline"] if e["kind"] == "alert_joined"]
    assert [e["detail"]["method"] for e in joins] == ["topology"]


async def test_shared_dependency_alone_does_not_merge(make_client: Callable[..., Awaitable[Client]]) -> None:
    """Two services that both use cart-db, each failing on its own: two incidents."""
    cfg = {
        "group_by": FINE,
        "topology": {"depends_on": {"service:a": ["service:db"], "service:b": ["service:db"]}},
    }
    client = await make_client(correlation=cfg)
    await send(client, alert("HighErrorRate", cluster="c1", service="a"))
    await send(client, alert("HighErrorRate", cluster="c1", service="b"))
    assert len(await incidents(client)) == 2
    # When the database itself alerts, it is the link: one outage, one incident. The
    # older incident absorbs the newer one, which says where it went.
    await send(client, alert("PostgresDown", cluster="c1", service="db"))
    for _ in range(100):  # the merge runs just after the batch's commit
        found = sorted(await incidents(client), key=lambda i: i["opened_at"])
        if found[1]["status"] == "resolved":
            break
        await asyncio.sleep(0.05)
    assert found[0]["status"] == "open"
    assert found[0]["alert_count"] == 3
    assert found[1]["status"] == "resolved"
    assert found[1]["correlation"]["merged_into"] == found[0]["id"]
    assert any(e["kind"] == "merged" for e in found[1]["timeline"])
    assert found[0]["correlation"]["cause"] == "service:db"


async def test_storm_collapses_into_one_incident(make_client: Callable[..., Awaitable[Client]]) -> None:
    client = await make_client(
        correlation={"group_by": ["alertname", "cluster"], "storm": {"threshold": 5, "window": "1m"}}
    )
    for i in range(40):
        await send(client, alert(f"Probe{i}Failed", cluster="dc1", instance=f"10.0.0.{i}:9100"))
    await send(client, alert("DiskFull", cluster="dc2"))
    for _ in range(100):  # merges run just after the batch's commit
        found = await incidents(client)
        if sum(1 for i in found if i["correlation"].get("merged_into")) == 5:
            break
        await asyncio.sleep(0.05)
    live = [i for i in found if not i["correlation"].get("merged_into")]
    storm = [i for i in live if i["correlation"].get("storm")]
    assert len(storm) == 1
    assert sorted(i["title"].split(" ")[0] for i in live if i not in storm) == ["DiskFull"]
    s = storm[0]
    merged = [i for i in found if i["correlation"].get("merged_into") == s["id"]]
    assert len(merged) == 5
    assert all(i["status"] == "resolved" for i in merged)
    assert s["alert_count"] == 40
    assert s["correlation"]["storm"]["alerts"] == 35
    assert "Alert storm (cluster=dc1)" in s["title"]
    assert any(e["kind"] == "storm_collapsed" for e in s["timeline"])
    # Later alerts of a merged incident's group join the storm too.
    await send(client, alert("Probe0Failed", cluster="dc1", instance="10.0.9.9:9100"))
    s2 = next(i for i in await incidents(client) if i["id"] == s["id"])
    assert s2["alert_count"] == 41


async def test_flapping_alert_neither_resolves_nor_renotifies(
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await make_client(correlation={"flapping": {"changes": 2, "window": "15m"}})
    labels = {"cluster": "c1", "instance": "h1:9100"}
    await send(client, alert("Flappy", starts=0, **labels))
    await send(client, alert("Flappy", "resolved", starts=0, **labels))
    await send(client, alert("Flappy", starts=60, **labels))  # reopens nothing: same outage window
    await send(client, alert("Flappy", "resolved", starts=60, **labels))  # third change: flapping
    await send(client, alert("Flappy", starts=120, **labels))
    await send(client, alert("Flappy", "resolved", starts=120, **labels))
    found = await incidents(client)
    assert len(found) == 2  # the first resolution was before it flapped
    current = max(found, key=lambda i: i["opened_at"])
    assert current["status"] == "open", "a flapping alert's resolve must not resolve its incident"
    assert "resolve_after" in current["correlation"]
    kinds = [e["kind"] for e in current["timeline"]]
    assert "flapping" in kinds
    assert "alert_refired" not in kinds[kinds.index("flapping") :]


async def test_resolve_delay_waits_then_resolves(make_client: Callable[..., Awaitable[Client]]) -> None:
    client = await make_client(correlation={"resolve_delay": "500ms"})
    await send(client, alert("Blip", cluster="c1"))
    await send(client, alert("Blip", "resolved", cluster="c1"))
    [incident] = await incidents(client)
    assert incident["status"] == "open"
    for _ in range(60):
        [incident] = await incidents(client)
        if incident["status"] == "resolved":
            break
        await asyncio.sleep(0.1)
    assert incident["status"] == "resolved"
    assert "stayed resolved" in incident["timeline"][-1]["detail"]["reason"]


async def test_limits_min_and_max_alerts(make_client: Callable[..., Awaitable[Client]]) -> None:
    client = await make_client(correlation={"min_alerts": 2, "max_alerts": 3, "group_by": ["alertname"]})
    await send(client, alert("Err", instance="a"))
    [incident] = await incidents(client)
    assert incident["correlation"]["pending"] is True
    await send(client, alert("Err", instance="b"))
    [incident] = await incidents(client)
    assert incident["correlation"]["pending"] is False
    await send(client, alert("Err", instance="c"), alert("Err", instance="d"))
    assert sorted(i["alert_count"] for i in await incidents(client)) == [1, 3]


async def test_similarity_joins_alerts_whose_labels_say_little(
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    cfg = {
        "group_by": ["alertname", "cluster", "x"],
        "similarity": {"enabled": True, "threshold": 0.5},
        "topology": {"enabled": False},
    }
    client = await make_client(correlation=cfg)
    await send(
        client, alert("DiskSpaceLow", cluster="c1", summary="Disk space on /var is almost full", x="1")
    )
    await send(
        client, alert("DiskSpaceLow", cluster="c1", summary="Disk space on /var is almost full", x="2")
    )
    await send(client, alert("CertificateExpiry", cluster="c1", summary="TLS certificate expires in 3 days"))
    found = sorted(await incidents(client), key=lambda i: -i["alert_count"])
    assert [i["alert_count"] for i in found] == [2, 1]
    joined = [e for e in found[0]["timeline"] if e["kind"] == "alert_joined"]
    assert joined[0]["detail"]["method"] == "similarity"


async def test_similarity_reads_the_summary_an_alert_fires_again_with(
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    """An alert that fires again with a new summary is compared by that summary, not by
    the one it first fired with (the grouping cache is per fingerprint)."""
    cfg = {
        "group_by": ["alertname", "cluster", "x"],
        "similarity": {"enabled": True, "threshold": 0.5},
        "topology": {"enabled": False},
    }
    client = await make_client(correlation=cfg)
    tls, disk = "TLS certificate expires in 3 days", "Disk space on /var is almost full"
    await send(client, alert("Check", cluster="c1", summary=tls, x="1"))
    await send(client, alert("Check", "resolved", cluster="c1", summary=tls, x="1"))
    await send(client, alert("Check", cluster="c1", summary=disk, x="2"))
    await send(client, alert("Check", starts=60, cluster="c1", summary=disk, x="1"))
    found = await incidents(client)
    [joined] = [i for i in found if i["alert_count"] == 2]
    assert {a["labels"]["x"] for a in joined["alerts"]} == {"1", "2"}
    methods = [e["detail"]["method"] for e in joined["timeline"] if e["kind"] == "alert_joined"]
    assert methods == ["similarity"]


async def test_silence_api_mutes_then_expires(make_client: Callable[..., Awaitable[Client]]) -> None:
    client = await make_client()
    bad = await client.post("/api/v1/silences", json={"matchers": ["alertname=~("], "duration": "1h"})
    assert bad.status == 400
    assert "matchers" in (await bad.json())["error"]
    no_end = await client.post("/api/v1/silences", json={"matchers": ['alertname="Noisy"']})
    assert no_end.status == 400
    created = await client.post(
        "/api/v1/silences",
        json={"matchers": ['alertname="Noisy"'], "duration": "1h", "created_by": "alice", "comment": "known"},
    )
    assert created.status == 201
    silence = await created.json()
    assert silence["state"] == "active"
    await send(client, alert("Noisy", cluster="c1"))
    assert await incidents(client) == []
    listed = (await (await client.get("/api/v1/silences?state=active")).json())["silences"]
    assert [s["id"] for s in listed] == [silence["id"]]
    metrics = await (await client.get("/metrics")).text()
    assert 'triaged_alerts_suppressed_total{reason="silence"} 1.0' in metrics
    expired = await client.delete(f"/api/v1/silences/{silence['id']}")
    assert (await expired.json())["state"] == "expired"
    assert (await client.delete("/api/v1/silences/sil_nope")).status == 404
    # Alertmanager repeats a firing alert: once the silence is over, it pages.
    await send(client, alert("Noisy", cluster="c1"))
    [incident] = await incidents(client)
    assert names(incident) == {"Noisy"}


async def test_maintenance_window_from_config(make_client: Callable[..., Awaitable[Client]]) -> None:
    window = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59"}
    cfg = {"maintenance": [{"name": "db-upgrade", "matchers": ['cluster="c9"'], "weekly": [window]}]}
    client = await make_client(correlation=cfg)
    await send(client, alert("PostgresDown", cluster="c9"), alert("PostgresDown", cluster="c1"))
    [incident] = await incidents(client)
    assert incident["group_labels"]["cluster"] == "c1"
    listed = (await (await client.get("/api/v1/silences")).json())["silences"]
    assert listed[0]["id"] == "maintenance:db-upgrade"
    assert (await client.delete("/api/v1/silences/maintenance:db-upgrade")).status == 409


async def test_inhibition_mutes_targets_while_the_source_fires(
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    rule = {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["cluster"],
    }
    client = await make_client(correlation={"inhibit_rules": [rule]})
    await send(client, alert("ClusterDown", cluster="c1", severity="critical"))
    await send(client, alert("HighLatency", cluster="c1", severity="warning"))
    await send(client, alert("HighLatency", cluster="c2", severity="warning"))
    found = await incidents(client)
    assert sorted(i["group_labels"]["cluster"] for i in found) == ["c1", "c2"]
    source = next(i for i in found if i["group_labels"]["cluster"] == "c1")
    muted = [e for e in source["timeline"] if e["kind"] == "suppressed"]
    assert [e["detail"]["alertname"] for e in muted] == ["HighLatency"]
    # The source resolves: the target pages at its next repeat.
    await send(client, alert("ClusterDown", "resolved", cluster="c1", severity="critical"))
    await send(client, alert("HighLatency", cluster="c1", severity="warning"))
    assert len(await incidents(client)) == 3
