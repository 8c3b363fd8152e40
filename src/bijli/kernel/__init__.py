"""Shared building blocks: units, time, clocks."""
