"""Hub I/O, apart from the networks: the client every tab and trainer pushes and pulls with
(``hub.client``), model cards (``hub.card``) and the self-hosted Hub-compatible server
(``hub.server``). Nothing here imports torch."""
