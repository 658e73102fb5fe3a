"""运维 Operating an installation: static files, health, the worker, housekeeping, backup and restore."""
