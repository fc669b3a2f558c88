"""A tiny task, added the way docs/ARCHITECTURE.md ("Adding a task") says, used only by tests/test_tasks.py:
fitting y = a x + b to noisy points. Its three files: declaration.py (config + Task), trainer.py
(build_task), tab.py (the tab); the registration line is the DLP_TASKS entry the test sets."""
