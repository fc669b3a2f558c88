"""One module per tab. Each exposes ``TITLE`` and ``build(ctx)``; ``app.py`` assembles them
in the order of :data:`TABS`. A tab lays out components and wires events: the work it
triggers lives in ``hub_models/`` and ``training/``.
"""
TABS: list[str] = ["classification", "detection", "segmentation", "faces", "style", "generative", "bert", "textgen", "translation", "hub", "about"]
