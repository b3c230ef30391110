"""The states of an alert, in a module of their own: the CLI offers them as choices
without importing the database models."""

STATUSES = ("pending", "sent", "failed")
