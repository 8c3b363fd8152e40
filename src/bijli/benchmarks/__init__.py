"""Benchmarks that print figures (`bijli bench …`); not pass/fail tests."""
