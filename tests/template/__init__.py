"""Tests of template.yaml, samconfig.toml and cmk_guard_local.template."""
