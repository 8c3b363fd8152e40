"""Prepaid: tariff, ledger, recharge."""
