"""The one family of errors a user reads.

Anything the user can fix (a bad file, a bad option, a repo that does not exist, a hub that does
not answer) raises a subclass of :class:`UserError` with a one-line message. The CLI prints it,
a job ends ``failed`` with it, and every tab shows it the same way (``webui.common.show_user_errors``).
Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations


class UserError(Exception):
    """Something the user can fix; ``str(e)`` is the one line they read."""


class ConfigError(UserError, ValueError):
    """A config value out of range or of the wrong kind; ``field`` names the config field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
