"""Source adapters, one module per kind; the registry maps a config to its adapter."""
