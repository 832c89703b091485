"""The HTML report in a real headless browser (Debian's chromium): loads cleanly, charts render."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support import fixture_raw, settle, triaged_executable, write_config

from daemon.app import create_app
from daemon.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]
CHARTS_JS = """JSON.stringify([...document.querySelectorAll('figure.chart')].map(f => {
  const svg = f.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  return {id: f.id, width: box.width, height: box.height,
          shapes: svg ? svg.querySelectorAll('path, rect, use').length : 0,
          text: svg ? svg.textContent : ''};
}))"""


class Page:
    """One tab driven over the DevTools protocol; records errors and requests as they happen."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.loaded = asyncio.Event()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and return its result, handling the events that arrive meanwhile."""
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send_json({"id": my_id, "method": method, "params": params})
        while True:
            msg = await self.ws.receive_json(timeout=30)
            if msg.get("id") == my_id:
                assert "error" not in msg, msg
                result: dict[str, Any] = msg["result"]
                return result
            self.event(msg)

    def event(self, msg: dict[str, Any]) -> None:
        """Keep what the test checks: exceptions, console errors, log errors, requests, load."""
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params["exceptionDetails"]))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(json.dumps(params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"]["text"])
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            self.errors.append(f"loading failed: {params.get('errorText')}")
        elif method == "Page.loadEventFired":
            self.loaded.set()

    async def until_loaded(self, timeout: float = 30.0) -> None:
        """Pump events until the load event."""
        deadline = time.monotonic() + timeout
        while not self.loaded.is_set():
            assert time.monotonic() < deadline, "page did not load"
            self.event(await self.ws.receive_json(timeout=timeout))


@contextlib.asynccontextmanager
async def browser(tmp_path: Path) -> AsyncIterator[Page]:
    """A headless chromium with its own profile; yields its first tab; killed at the end."""
    profile = tmp_path / "profile"
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.returncode is None, "chromium exited"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as session:
            targets = await (await session.get(f"http://127.0.0.1:{port}/json/list")).json()
            [tab] = [t for t in targets if t["type"] == "page"]
            async with session.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                for domain in ("Page", "Runtime", "Log", "Network"):
                    await page.call(f"{domain}.enable")
                yield page
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is installed by `make test`")
async def test_html_report_renders_in_chromium(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """The report from real incidents loads with no error and no request, and its three charts draw."""
    settings = make_settings()
    client = await aiohttp_client(create_app(settings))
    for name in ("firing_grouped", "firing_grouped_other_alertname", "firing_grouped_single_alert"):
        resp = await client.post(
            "/api/v1/alerts/alertmanager",
            data=fixture_raw(name),
            headers={"Content-Type": "application/json"},
        )
        assert resp.status == 202
    await settle(client.app)
    listed = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    assert (
        await client.post(f"/api/v1/incidents/{listed[0]['id']}/resolve", json={"actor": "a"})
    ).status == 200
    config = write_config(tmp_path / "r.yaml", {"store": {"path": str(settings.store.path)}})  # type: ignore[union-attr]
    out = tmp_path / "report.html"
    proc = await asyncio.create_subprocess_exec(
        triaged_executable(), "report", "--since", "1d", "--config", str(config), "--format", "html",
        "--out", str(out), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()

    async with browser(tmp_path) as page:
        await page.call("Page.navigate", url=out.as_uri())
        await page.until_loaded()
        result = await page.call("Runtime.evaluate", expression=CHARTS_JS, returnByValue=True)
        title = await page.call("Runtime.evaluate", expression="document.title", returnByValue=True)
    charts = {c["id"]: c for c in json.loads(result["result"]["value"])}
    assert page.errors == []
    assert page.requests == [out.as_uri()]  # self-contained: nothing fetched but the file itself
    assert title["result"]["value"].startswith("Incident report ")
    assert set(charts) == {"chart-incidents", "chart-mttr", "chart-noise"}
    for chart in charts.values():
        assert chart["width"] > 200, chart["id"]
        assert chart["height"] > 100, chart["id"]
        assert chart["shapes"] > 10, chart["id"]
    # Drawn from the data: the legend names the priorities, the MTTR chart marks a median.
    priorities = {i["priority"] for i in listed}
    for p in priorities:
        assert p in charts["chart-incidents"]["text"]
    assert "p50 = " in charts["chart-mttr"]["text"]
    assert "no resolved incidents" not in charts["chart-mttr"]["text"]
