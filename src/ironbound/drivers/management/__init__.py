"""Management interface implementations."""
