"""Meter data management: validation, estimation and editing; aggregates; collection reports."""
