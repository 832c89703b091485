"""Read a YAML config plus ``TRIAGED_*`` overrides into ``Settings``, reporting every error at once.

Each message names where the value came from (the file, or the environment variable),
the dotted key, and what was expected, because the person reading it is fixing a
config at 3 a.m. and should not have to iterate one error at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError

from classifiers import strict_yaml
from daemon.errors import ConfigError
from daemon.settings import RedisStoreSettings, Settings, SourceSettings

ENV_PREFIX = "TRIAGED_"
# TRIAGED_* variables that are not config overrides: which file to read, and the token
# the operator commands (`triaged incidents`, `triaged silences`) send.
NOT_CONFIG = frozenset({"TRIAGED_CONFIG", "TRIAGED_API_TOKEN"})
_STORE_KINDS = ("sqlite", "redis")
_ENV_NESTING = "__"


def load_settings(
    path: Path | None, env: Mapping[str, str] | None = None, *, read_secrets: bool = True
) -> Settings:
    """Load and validate; raises ``ConfigError`` listing every problem.

    ``read_secrets=False`` checks the shape only, for configs written for another
    machine (the shipped examples point at /etc/triaged/...).
    """
    env = {} if env is None else env
    origin = str(path) if path is not None else "<defaults>"
    data = _read_yaml(path) if path is not None else {}
    env_origins = _apply_env(data, env)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, origin, env_origins)) from None
    return _resolve_secrets(settings, origin) if read_secrets else settings


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([f"{path}: cannot read config file: {err.strerror}"]) from None
    try:
        data = strict_yaml.load(text)
    except yaml.YAMLError as err:
        raise ConfigError([f"{path}: {strict_yaml.describe(err)}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of sections at the top level"])
    return data


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Overlay ``TRIAGED_STORE__PATH=x`` as ``store.path: x``; returns dotted key -> variable."""
    origins: dict[str, str] = {}
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name in NOT_CONFIG:
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split(_ENV_NESTING) if k]
        if not keys:
            continue
        node = data
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        # YAML scalar parsing gives env values the same types as the file would.
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw
        # Tokens and secrets stay strings even when they look like numbers.
        node[keys[-1]] = raw if any(w in keys[-1] for w in _SECRET_KEYS) else value
        origins[".".join(keys)] = name
    return origins


def _describe(err: ValidationError, origin: str, env_origins: Mapping[str, str]) -> list[str]:
    problems = []
    for e in err.errors(include_url=False):
        loc = [str(p) for p in e["loc"]]
        if loc[:1] == ["store"] and len(loc) > 1 and loc[1] in _STORE_KINDS:
            del loc[1]  # pydantic names the union member; users know the key path only
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "union_tag_invalid":
            loc.append("kind")
            msg = f"expected one of {', '.join(repr(k) for k in _STORE_KINDS)}"
        key = ".".join(loc) or "<top level>"
        source = next(
            (var for dotted, var in env_origins.items() if key == dotted or key.startswith(dotted + ".")),
            origin,
        )
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling and section)"
        shown = e.get("input")
        if e["type"] == "union_tag_invalid" and isinstance(shown, dict):
            shown = shown.get("kind")
        secret = any(w in key.lower() for w in _SECRET_KEYS)
        quiet = e["type"] in ("extra_forbidden", "missing") or secret
        got = "" if quiet else f" (got {_short(shown)})"
        problems.append(f"{source}: {key}: {msg}{got}")
    return problems


_SECRET_KEYS = ("token", "password", "secret", "credentials", "key", "webhook")


def _redact(value: Any) -> Any:
    """Hide secret-looking values anywhere in an offending input before it is printed."""
    if isinstance(value, SecretStr):
        return "<secret>"
    if isinstance(value, dict):
        return {
            k: "<secret>" if any(w in str(k).lower() for w in _SECRET_KEYS) and v else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _short(value: Any) -> str:
    text = repr(_redact(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _read_secret(path: Path, origin: str, key: str, problems: list[str]) -> SecretStr | None:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        problems.append(f"{origin}: {key}: cannot read secret file: {err.strerror}")
        return None
    if not value:
        problems.append(f"{origin}: {key}: the secret file is empty")
        return None
    return SecretStr(value)


def _resolve_secrets(settings: Settings, origin: str) -> Settings:
    """Read ``*_file`` secrets into their fields so the rest of the daemon sees one field."""
    problems: list[str] = []
    updates: dict[str, SourceSettings] = {}
    for name, source in settings.sources:
        if source.token_file is None:
            continue
        token = _read_secret(source.token_file, origin, f"sources.{name}.token_file", problems)
        if token is not None:
            updates[name] = source.model_copy(update={"token": token, "token_file": None})
    store = settings.store
    if isinstance(store, RedisStoreSettings) and store.password_file is not None:
        password = _read_secret(store.password_file, origin, "store.password_file", problems)
        store = store.model_copy(update={"password": password, "password_file": None})
    if problems:
        raise ConfigError(problems)
    sources = settings.sources.model_copy(update=updates) if updates else settings.sources
    return settings.model_copy(update={"sources": sources, "store": store})
