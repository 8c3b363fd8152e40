"""Supply decisions: when to warn, disconnect and reconnect a prepaid consumer, by the policy."""
