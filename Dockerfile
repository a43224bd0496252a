# syntax=docker/dockerfile:1
# The Assay server image: `docker build -t assay .` at the repository root.
#
# Two stages on one base: the first builds the package into a virtual environment (a wheel,
# as a release would ship it, with its dependencies as published wheels); the second copies
# only that environment onto a clean base and drops pip. The result runs as an unprivileged
# numeric user on a read-only root filesystem: everything it writes goes to /var/lib/assay
# (the SQLite database, HOME) and /tmp, which the Deployment mounts as volumes
# (deploy/base/deployment.yaml). tests/unit/test_deploy.py holds this file to that shape.
#
# The base, pinned by the digest of its multi-platform index so that a rebuild never picks
# up a moved tag. To refresh it, read the current digest and replace it here:
#   docker buildx imagetools inspect python:3.11-slim-bookworm --format '{{.Manifest.Digest}}'
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# What the wheel is built from, and nothing else (.dockerignore keeps caches out).
COPY pyproject.toml README.md ./
COPY generated/ generated/
COPY server/ server/
COPY client/ client/
# Dependencies only as binary wheels: the build needs no compiler, and a dependency that
# would need one fails here instead of compiling something unreviewed. pip, setuptools and
# wheel leave the environment once it is built; pip compiles the bytecode at install, so
# nothing needs writing next to the code at run time.
RUN python -m venv /opt/assay \
 && /opt/assay/bin/pip wheel --no-deps --wheel-dir /tmp/wheels . \
 && /opt/assay/bin/pip install --only-binary=:all: /tmp/wheels/assay-*.whl \
 && /opt/assay/bin/pip uninstall --yes pip setuptools wheel \
 && /opt/assay/bin/assay serve --help >/dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="assay" \
      org.opencontainers.image.description="Assay: Well-Architected assessments and remediation workflows for Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
# No package manager of Python's at run time, and a numeric user with no shell.
RUN python -m pip uninstall --yes pip setuptools wheel \
 && groupadd --system --gid 10001 assay \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/assay \
      --no-create-home --shell /usr/sbin/nologin assay \
 && install --directory --owner 10001 --group 10001 --mode 0750 /var/lib/assay
COPY --from=build /opt/assay /opt/assay
# Every path the server writes is configurable and points at a mounted volume:
# ASSAY_DATABASE_URL (the SQLite default; a PostgreSQL URL replaces it), HOME, TMPDIR.
ENV PATH=/opt/assay/bin:$PATH \
    HOME=/var/lib/assay \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ASSAY_DATABASE_URL=sqlite:////var/lib/assay/assay.db
VOLUME ["/var/lib/assay"]
WORKDIR /var/lib/assay
USER 10001:10001
# gRPC, /healthz and /readyz (ASSAY_HEALTH_PORT), /metrics (ASSAY_METRICS_PORT).
EXPOSE 50051 8081 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["/opt/assay/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('ASSAY_HEALTH_PORT', '8081'), timeout=2)"]
# Every interface: the server refuses that unless callers authenticate (ASSAY_TOKEN_REVIEW,
# ASSAY_TOKEN_FILE or ASSAY_TLS_CERT), so the image never serves an open port by accident.
ENTRYPOINT ["/opt/assay/bin/assay", "serve", "--listen", "0.0.0.0:50051"]
