# syntax=docker/dockerfile:1
# The kubemedic operator image: `kubemedic run` as user 65532 on a read-only root filesystem
# (charts/kubemedic runs it that way).
#
# Two stages. `build` turns the source into a wheel and installs it, with its runtime
# dependencies only (no test or lint extras), into a virtual environment. `runtime` is the same
# slim base with nothing but that environment: no compiler, no pip, no source tree.
#
#   docker build -t kubemedic:dev .
#   docker run --rm kubemedic:dev --version

# Pinned to a patch release; bump it (and rebuild) for Python security fixes.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Only what the wheel is built from (see .dockerignore): a change to tests or docs does not
# rebuild this layer.
COPY pyproject.toml README.md ./
COPY operator/ operator/
# NB: the root filesystem is read-only at run time, so the bytecode is compiled here; the
# last step proves the entry point starts.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/kubemedic \
 && /opt/kubemedic/bin/pip install /wheels/kubemedic-*.whl \
 && /opt/kubemedic/bin/pip uninstall --yes pip \
 && /opt/kubemedic/bin/python -m compileall -q -j 0 /opt/kubemedic/lib \
 && /opt/kubemedic/bin/kubemedic --version

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="kubemedic" \
      org.opencontainers.image.description="Kubernetes operator: incidents to diagnoses and safe, approved fixes" \
      org.opencontainers.image.licenses="Apache-2.0"
# Nothing installs packages at run time: drop the base image's installers.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && groupadd --system --gid 65532 kubemedic \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin kubemedic
# The venv's interpreter links to the base image's python, identical in both stages.
COPY --from=build /opt/kubemedic /opt/kubemedic
ENV PATH=/opt/kubemedic/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
USER 65532:65532
# 8080 /healthz (liveness, readiness), 9090 /metrics, 8081 the Alertmanager webhook (HTTP).
# No HEALTHCHECK: Kubernetes probes /healthz itself.
EXPOSE 8080 9090 8081
ENTRYPOINT ["kubemedic"]
CMD ["run"]
