"""The browser UI, REST API (/api/v1) and feeds out, served by `newswatch serve` or by
the daemon when `[web] enabled = true`. Every change goes through the same config editor
and reload as the CLI; see app.py for how the pieces fit."""
