"""Small helpers the other packages share, torch-free and UI-free: the user-facing error family
(``common.errors``) and process checks (``common.procs``)."""
