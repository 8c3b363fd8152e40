"""The web layer: REST API v1, the operations dashboard and the consumer page."""
