"""``triaged health``: the container's liveness probe, following the daemon's own config.

Why a command: the image's HEALTHCHECK fetched ``http://127.0.0.1:9795/healthz``, which
fails as soon as the daemon serves TLS or listens on another port. This reads the same
config (file and ``TRIAGED_*`` variables) as ``serve``, so the probe follows it. Like
Kubernetes' HTTPS probes it does not verify the certificate: it asks the daemon on this
machine whether it is alive, it does not authenticate it.
"""

from __future__ import annotations

import ssl
import sys
import urllib.error
import urllib.request

from daemon.cli_http import base_url
from daemon.settings import Settings


def probe(settings: Settings, url: str | None, timeout: float) -> int:
    """0 when ``/healthz`` answers 200 within ``timeout``; 1, with one line saying why, otherwise."""
    target = f"{base_url(url, settings)}/healthz"
    context = None
    if target.startswith("https:"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(target, timeout=timeout, context=context) as resp:
            status = resp.status
    except urllib.error.HTTPError as err:
        status = err.code
    except (urllib.error.URLError, OSError) as err:
        print(f"triaged: {target}: no answer: {getattr(err, 'reason', err)}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"triaged: {target}: answered {status}", file=sys.stderr)
        return 1
    return 0
