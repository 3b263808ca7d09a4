# syntax=docker/dockerfile:1
# The operator image: `docker build -t locust-k8s-operator:0.1.0 .`
#
# Two stages on the same pinned slim Python: the first builds the operator's wheel and the
# wheels of its dependencies, the second installs them from there (no index, no compiler,
# no wheels left behind) and runs as a non-root user.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="locust-k8s-operator" \
      org.opencontainers.image.description="Kubernetes operator for distributed Locust load tests" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
# Bytecode is compiled at install time: the root file system is read-only at run time.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links=/wheels /wheels/locust_k8s_operator-*.whl \
    && locust-operator --version
# The distroless "nonroot" UID/GID; the chart's podSecurityContext uses the same.
USER 65532:65532
# Webhooks (9443), health probes (8081), metrics (8080).
EXPOSE 9443 8081 8080
ENTRYPOINT ["locust-operator", "run"]
