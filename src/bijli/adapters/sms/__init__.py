"""SMS gateways behind the `SmsSender` port."""
