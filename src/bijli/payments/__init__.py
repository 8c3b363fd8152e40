"""Payments from the gateway, the recharge tokens they buy, and reconciliation."""
