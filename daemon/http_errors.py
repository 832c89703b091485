"""One JSON error shape for every failure, so senders and scripts never parse HTML or a traceback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from daemon.errors import (
    AuthError,
    Conflict,
    NotFound,
    PayloadError,
    PayloadTooLarge,
    StoreUnavailable,
)
from daemon.keys import SETTINGS

log = structlog.get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str, **extra: object) -> web.Response:
    """``{"error": message}`` with the given status."""
    return web.json_response({"error": message, **extra}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map daemon errors to statuses; anything unexpected is logged and answered 500 in JSON."""
    try:
        return await handler(request)
    except PayloadTooLarge as err:
        return json_error(413, str(err))
    except PayloadError as err:
        return json_error(400, str(err))
    except AuthError:
        resp = json_error(401, "unauthorized")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="triaged"'
        return resp
    except NotFound as err:
        return json_error(404, str(err))
    except Conflict as err:
        return json_error(409, str(err))
    except StoreUnavailable:
        retry = str(max(1, round(request.app[SETTINGS].intake.retry_after)))
        resp = json_error(503, "cannot store alerts right now; retry later")
        resp.headers["Retry-After"] = retry
        return resp
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(exc.status, exc.reason)
    except Exception:
        log.exception("unhandled_error", path=request.path)
        return json_error(500, "internal error; see the daemon's log")
