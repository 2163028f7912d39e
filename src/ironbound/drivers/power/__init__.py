"""Power interface implementations."""
