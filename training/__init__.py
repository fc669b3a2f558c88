"""Trainers. Every task is declared once in ``training.tasks`` (its config, trainer, metric, dry-run
sizes, tab); ``training.tasks.train(cfg)`` runs any of them as a generator of events, which the CLI
(``python -m training <task>``) and the UI's job runner both drive.
"""
