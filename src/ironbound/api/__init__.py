"""HTTP only: Ironic's v1 REST API on FastAPI. Never imports drivers."""
