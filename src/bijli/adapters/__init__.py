"""Adapters: databases and brokers behind the ports the domain owns."""
