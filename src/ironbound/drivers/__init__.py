"""Hardware types and the interface implementations they combine."""
