"""Storage interface implementations."""
