"""Process checks shared by the job runner and the hub server's token store."""
from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Whether a process runs; a zombie (exited, not yet reaped) counts as gone."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:  # no /proc (macOS): trust kill(0)
        return True
