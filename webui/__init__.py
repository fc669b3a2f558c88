"""One module per tab. Each exposes ``TITLE`` and ``build(ctx)``; ``app.py`` assembles them in the
order of :data:`TABS`: the task tabs as ``training.tasks`` declares them, then Foundations (lab/: computed in the
request, no jobs), the Hub and About. A
tab lays out components and wires events: the work it triggers lives in ``hub_models/`` and
``training/``.
"""
from training.tasks import TASKS

TABS: list[str] = [*(t.tab.removeprefix("webui.") for t in TASKS.values() if t.tab), "foundations", "hub", "about"]
