"""Alerts to consumers: written with the fact that causes them, delivered once per channel."""
