"""Networks and hub I/O: ``hub`` (push/pull/browse through any Hub-compatible server),
``card`` (model cards), ``server`` (the self-hosted Hub-compatible server)."""
