# syntax=docker/dockerfile:1
# firstin's three images from one file: one target per service, built from the repo root (the uv workspace):
#   docker build --target api       --build-arg SERVICE=api       -t firstin-api .
#   docker build --target processor --build-arg SERVICE=processor -t firstin-processor .
#   docker build --target notifier  --build-arg SERVICE=notifier  -t firstin-notifier .
# (docker compose passes both.) Multi-stage, as in astral-sh/uv-docker-example: the builder resolves the service's
# locked dependencies into /app/.venv, the runtime stage gets that venv only (no uv, no build tools, no dev
# dependencies). SERVICE picks the package the builder installs; each target checks it got its own.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ARG SERVICE
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=0 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# 1. Dependencies only: every workspace manifest and the lock (uv needs all members to read the
#    workspace), no source. This layer is rebuilt only when a manifest or uv.lock changes.
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/serving/pyproject.toml libs/serving/
COPY libs/stack/pyproject.toml libs/stack/
COPY bench/pyproject.toml bench/
COPY services/api/pyproject.toml services/api/
COPY services/processor/pyproject.toml services/processor/
COPY services/notifier/pyproject.toml services/notifier/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "firstin-${SERVICE:?set --build-arg SERVICE}" --no-install-workspace

# 2. Source: the service and the libraries it shares (contracts, serving), installed as wheels (not editable)
#    so the venv stands alone.
COPY libs/contracts/src libs/contracts/src
COPY libs/serving/src libs/serving/src
COPY services/${SERVICE}/src services/${SERVICE}/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "firstin-${SERVICE}" --no-editable

FROM ${PYTHON_IMAGE} AS runtime
# A fixed numeric uid, so Kubernetes can check runAsNonRoot without a user database.
RUN groupadd --system --gid 10001 firstin \
    && useradd --system --uid 10001 --gid firstin --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin firstin
COPY --from=builder /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER 10001:10001

# Each target: the service listens on every interface inside a container (the port stays the settings default);
# the healthcheck is liveness only (the process answers), readiness (/readyz: Redis reachable) is for compose
# and Kubernetes. The RUN fails the build when SERVICE named another service than the target.

FROM runtime AS api
RUN ["python", "-c", "import firstin_api"]
ENV FIRSTIN_API_HOST=0.0.0.0
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('FIRSTIN_API_PORT', '8000') + '/livez', timeout=2)"]
CMD ["python", "-m", "firstin_api"]

FROM runtime AS processor
RUN ["python", "-c", "import firstin_processor"]
ENV FIRSTIN_PROCESSOR_HOST=0.0.0.0
EXPOSE 8002
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('FIRSTIN_PROCESSOR_PORT', '8002') + '/livez', timeout=2)"]
CMD ["python", "-m", "firstin_processor"]

FROM runtime AS notifier
RUN ["python", "-c", "import firstin_notifier"]
ENV FIRSTIN_NOTIFIER_HOST=0.0.0.0
EXPOSE 8001
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('FIRSTIN_NOTIFIER_PORT', '8001') + '/livez', timeout=2)"]
CMD ["python", "-m", "firstin_notifier"]
