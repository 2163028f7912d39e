"""Boot interface implementations."""
