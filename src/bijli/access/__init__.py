"""Who may do what: staff, consumers and integrations, their roles and permissions."""
