"""Thin Lambda handlers, one per workflow step."""
