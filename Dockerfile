# syntax=docker/dockerfile:1
# The service's image: `docker compose up` (compose.yaml) is the production path.
# Stage one compiles durable-rules' C engine (it ships no wheels) and installs the
# project into a virtual environment; stage two copies that environment into a slim
# image without a compiler, and runs it as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/loyalty
ENV PATH=/opt/loyalty/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Dependencies first, in their own layer: they change less often than the code.
COPY pyproject.toml README.md LICENSE ./
RUN mkdir api app domain persistence rules \
    && pip install . \
    && pip uninstall --yes loyalty
COPY api api
COPY app app
COPY domain domain
COPY persistence persistence
COPY rules rules
RUN pip install --no-deps . \
    && loyalty rules check \
    # GraphiQL's scripts, checked against the page's hashes (the page falls back to a CDN without them)
    && (python -m api.graphiql || true)

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 loyalty \
    && useradd --system --uid 10001 --gid loyalty --home-dir /srv/loyalty --create-home loyalty
COPY --from=build /opt/loyalty /opt/loyalty
ENV PATH=/opt/loyalty/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LOYALTY_ENV=production \
    LOYALTY_LOG_FORMAT=json
USER 10001:10001
WORKDIR /srv/loyalty
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]
# Entry points: `loyalty migrate` (once per release, before new workers), `loyalty serve`.
ENTRYPOINT ["loyalty"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
