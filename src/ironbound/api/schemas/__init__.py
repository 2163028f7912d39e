"""Request documents and their validation (Pydantic, strict)."""
