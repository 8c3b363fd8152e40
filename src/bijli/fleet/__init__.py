"""Fleets of meter twins on a simulated clock."""
