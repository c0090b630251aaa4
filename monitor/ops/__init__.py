"""Operating the daemon: metrics, the health endpoint, logs."""
