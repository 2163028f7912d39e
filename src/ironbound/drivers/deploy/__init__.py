"""Deploy interface implementations."""
