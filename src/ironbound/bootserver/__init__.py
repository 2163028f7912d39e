"""The boot server: per-node iPXE scripts, rendered from the database on request."""
