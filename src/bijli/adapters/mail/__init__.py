"""E-mail providers behind the alerts' `Sender` port."""
