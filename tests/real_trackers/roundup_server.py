"""A real Roundup tracker for tests: the ``classic`` template on ``anydbm``, served on loopback.

Installs nothing: it needs the ``roundup`` package (a dev extra) in this interpreter. It
creates a tracker in a temporary directory with ``roundup-admin install classic anydbm``
(web URL set to the chosen port, REST on, outgoing mail written to a file instead of sent),
``initialise`` with an admin password, adds a REST user with the ordinary ``User`` role,
then starts ``roundup-server`` on a free 127.0.0.1 port and waits until it answers.

Root: ``roundup-server`` refuses to run as root unless told to switch user (``-u``). Switching
does not work on machines where the interpreter lives in a directory other users cannot read
(``/root/.pyenv`` here, mode 0700): the server then fails on its first lazy import ("no dbm
clone found"). So as root the same ``roundup_server.run()`` is started through a three-line
launcher that lifts only that refusal; the server binds 127.0.0.1 and serves a throwaway
tracker. As any other user the stock ``python -m roundup.scripts.roundup_server`` runs.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from support import free_port

TRACKER = "triaged"  # the tracker's name in the URL: http://127.0.0.1:<port>/triaged/
ADMIN_PASSWORD = "admin-pass-123"
USER = "triaged-bot"
PASSWORD = "bot-pass-123"

# roundup-server's run(), with its "Can't run as root!" refusal lifted (see module docstring).
_ROOT_LAUNCHER = """
import os, sys
import roundup.scripts.roundup_server as server
_setuid = server.setuid
server.setuid = lambda user: None if user is None and os.getuid() == 0 else _setuid(user)
sys.argv[0] = "roundup-server"
sys.exit(server.run())
"""


def roundup_installed() -> bool:
    """Whether the ``roundup`` package is importable by this interpreter."""
    return importlib.util.find_spec("roundup") is not None


class RoundupServer:
    """A running tracker; ``url`` is its web URL (the connector's ``endpoint``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/{TRACKER}/"
        self.user, self.password = USER, PASSWORD
        self.admin_password = ADMIN_PASSWORD
        self.root = Path(tempfile.mkdtemp(prefix="triaged-roundup-"))
        self.home = self.root / TRACKER
        self.log = self.root / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> RoundupServer:
        """Install, initialise and serve the tracker; returns once its REST root answers."""
        options = ",".join(
            [
                f"tracker_web={self.url}",
                "web_enable_rest=yes",
                "mail_domain=localhost",
                f"mail_debug={self.root / 'mail.log'}",
            ]
        )
        self._admin("install", "classic", "anydbm", options)
        self._admin("initialise", self.admin_password)
        self._admin(
            "create",
            "user",
            f"username={USER}",
            f"password={PASSWORD}",
            "roles=User",
            "address=bot@localhost",
        )
        self.serve(timeout)
        return self

    def serve(self, timeout: float = 20.0) -> None:
        """Start the server process on the tracker as installed (again after ``pause``)."""
        args = ["-t", "thread", "-n", "127.0.0.1", "-p", str(self.port), f"{TRACKER}={self.home}"]
        if hasattr(os, "getuid") and os.getuid() == 0:
            command = [sys.executable, "-c", _ROOT_LAUNCHER, *args]
        else:
            command = [sys.executable, "-m", "roundup.scripts.roundup_server", *args]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        self._wait(timeout)

    def pause(self) -> None:
        """Take the tracker down (its data stays), as an outage would."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def stop(self) -> None:
        """Stop the server (its own process only) and remove the tracker."""
        self.pause()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> RoundupServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _admin(self, *args: str) -> None:
        command = [sys.executable, "-m", "roundup.scripts.roundup_admin", "-i", str(self.home), *args]
        done = subprocess.run(command, capture_output=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
            raise RuntimeError(f"roundup-admin {args[0]} failed ({done.returncode}): {output}")

    def _wait(self, timeout: float) -> None:
        """Poll the REST root until it answers (401 without credentials is an answer)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"roundup-server exited ({self.process.returncode}): {self._log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}rest/", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answered
            except OSError:
                pass
            if time.monotonic() > deadline:
                tail = self._log_tail()
                self.stop()
                raise RuntimeError(f"roundup-server did not answer within {timeout:g}s: {tail}")
            time.sleep(0.1)

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"
