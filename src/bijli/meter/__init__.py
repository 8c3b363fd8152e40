"""The meter digital twin."""
