# syntax=docker/dockerfile:1
# Multi-stage: dependencies are built in their own layer (rebuilt only when
# pyproject.toml changes), the app in another; the runtime image has no compiler
# and runs as a non-root user. Config is mounted at /etc/triaged, state lives in
# the /var/lib/triaged volume. Nothing else is written, so the root filesystem can be
# read-only (docs/security.md):
#   docker run --read-only --tmpfs /tmp -v triaged-data:/var/lib/triaged \
#     -v $PWD/my.yaml:/etc/triaged/triaged.yaml:ro -p 9795:9795 triaged
# The listener is 0.0.0.0 here, so the config must set api.tokens (or, explicitly,
# api.allow_unauthenticated: true): serve refuses an open API off loopback.

FROM python:3.11-slim AS deps
WORKDIR /src
COPY pyproject.toml README.md ./
# Empty packages let pip resolve and build every dependency before the code is copied.
RUN mkdir daemon classifiers connectors \
 && touch daemon/__init__.py classifiers/__init__.py connectors/__init__.py \
 && pip wheel --no-cache-dir --wheel-dir /wheels . \
 && rm /wheels/triaged-*.whl

FROM deps AS app
COPY daemon daemon
COPY classifiers classifiers
COPY connectors connectors
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /app .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TRIAGED_LISTEN=0.0.0.0:9795 \
    TRIAGED_STORE__PATH=/var/lib/triaged/triaged.db \
    TRIAGED_TRIAGE__REGISTRY=/var/lib/triaged/models \
    HOME=/var/lib/triaged \
    TMPDIR=/tmp \
    TRIAGED_LOGGING__FORMAT=json
RUN groupadd --system --gid 10001 triaged \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/triaged --shell /usr/sbin/nologin triaged \
 && mkdir -p /etc/triaged /var/lib/triaged \
 && chown triaged:triaged /var/lib/triaged
COPY --from=deps /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY --from=app /app /app
RUN pip install --no-cache-dir --no-deps /app/*.whl && rm -rf /app
COPY config/triaged.yaml config/rules.yaml /etc/triaged/
# Relative paths (e.g. triaged-data/) land in the volume, never on the read-only root.
WORKDIR /var/lib/triaged
USER 10001:10001
VOLUME ["/var/lib/triaged"]
EXPOSE 9795
# Follows the config's listen address and TLS (daemon/health_cli.py).
HEALTHCHECK --interval=30s --timeout=5s \
  CMD ["triaged", "health", "--config", "/etc/triaged/triaged.yaml"]
ENTRYPOINT ["triaged"]
CMD ["serve", "--config", "/etc/triaged/triaged.yaml"]
