"""Rendering resources as Ironic's wire documents."""
