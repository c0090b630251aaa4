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
ENV MONITOR_CONFIG=/config/sources.yaml \
    MONITOR_DATABASE_URL=sqlite:////data/monitor.db \
    MONITOR_HEARTBEAT_FILE=/tmp/monitor-heartbeat

# Healthy while the polling loop has completed a tick within the last two minutes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os,sys,time; p=os.environ['MONITOR_HEARTBEAT_FILE']; sys.exit(0 if os.path.exists(p) and time.time()-os.path.getmtime(p) < 120 else 1)"

STOPSIGNAL SIGTERM
CMD ["monitor", "run"]
