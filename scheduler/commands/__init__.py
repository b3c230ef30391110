"""One module per `newswatch` command (or command group)."""
