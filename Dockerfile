# monitor: the statement-monitor daemon.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
# The same install step as the README's: `pip install .`
RUN pip install . && rm -rf /src

RUN useradd --create-home --uid 10001 monitor && mkdir -p /data /config && chown monitor /data
USER monitor
WORKDIR /data

# sources.yaml is mounted at /config; the database URL comes from the environment
# (compose.yaml points it at PostgreSQL; without it, SQLite in the /data volume).
# In a container: JSON logs, and /healthz /readyz /metrics on port 8080.
ENV MONITOR_CONFIG=/config/sources.yaml \
    MONITOR_DATABASE_URL=sqlite:////data/monitor.db \
    MONITOR_HEARTBEAT_FILE=/tmp/monitor-heartbeat \
    MONITOR_HEALTH_PORT=8080 \
    MONITOR_LOG_FORMAT=json
EXPOSE 8080

# Healthy while the scheduler ticks (/healthz fails when it has not for a minute).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['MONITOR_HEALTH_PORT'], timeout=4)"

STOPSIGNAL SIGTERM
CMD ["monitor", "run"]
