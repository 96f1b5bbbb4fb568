# Tunesmith: one image, one volume (/data), one env file. Build: docker build -t tunesmith .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TUNESMITH_DATA_DIR=/data

WORKDIR /app
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# System packages: the same script CI and `make setup` run, so CI proves this step.
COPY scripts/install-system-deps scripts/install-system-deps
RUN ./scripts/install-system-deps && rm -rf /var/lib/apt/lists/*

# CPU-only torch (the default PyPI wheel on Linux pulls GBs of CUDA libraries).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"

COPY pyproject.toml README.md ./
COPY bot/ bot/
COPY model/ model/
COPY soundfonts/ soundfonts/
RUN pip install . \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin tunesmith \
    && mkdir -p /data && chown tunesmith:tunesmith /data

USER 10001:10001
VOLUME ["/data"]

# Healthy while the bot's gateway heartbeat file in /data is fresh.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD ["tunesmith", "doctor", "--health"]

ENTRYPOINT ["tunesmith"]
CMD ["run"]
