"""Meters and consumers put into service and taken out of it: registrations, accounts, lifecycle."""
