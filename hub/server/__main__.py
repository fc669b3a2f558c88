"""Command line of the self-hosted hub.

    python -m hub.server serve --host 0.0.0.0 --port 8808 --data-dir DIR [--max-file-gb 50]
    python -m hub.server add-token --data-dir DIR --user NAME
    python -m hub.server tokens --data-dir DIR                      (list: id, user, created)
    python -m hub.server revoke --data-dir DIR (--id ID | --user NAME)
    python -m hub.server gc --data-dir DIR [--min-age-hours 1]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def default_data_dir() -> Path:
    from hub.client import cache_root

    return cache_root() / "hub-server"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="serve the hub over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8808)
    serve.add_argument("--data-dir", type=Path, default=None)
    serve.add_argument("--max-body-mb", type=int, default=2048, help="largest accepted request body (MiB)")
    serve.add_argument("--max-file-gb", type=float, default=50,
                       help="largest single file, uploaded through LFS or Xet (GiB; default 50)")
    serve.add_argument("--public-url", default=None, help="URL clients reach this server by (for repo URLs)")
    tok = sub.add_parser("add-token", help="print a new write token for a user (shown once, stored hashed)")
    tok.add_argument("--data-dir", type=Path, default=None)
    tok.add_argument("--user", required=True)
    lst = sub.add_parser("tokens", help="list the tokens (an id, the user, when made; never the token)")
    lst.add_argument("--data-dir", type=Path, default=None)
    rev = sub.add_parser("revoke", help="revoke a token by its id (from `tokens`), or every token of a user")
    rev.add_argument("--data-dir", type=Path, default=None)
    who = rev.add_mutually_exclusive_group(required=True)
    who.add_argument("--id")
    who.add_argument("--user")
    gc = sub.add_parser("gc", help="delete blobs no commit references")
    gc.add_argument("--data-dir", type=Path, default=None)
    gc.add_argument("--min-age-hours", type=float, default=1.0,
                    help="keep unreferenced blobs younger than this (default 1)")
    args = parser.parse_args(argv)

    from .storage import HubError, HubStore

    store = HubStore(args.data_dir or default_data_dir())
    if args.cmd == "add-token":
        try:
            token = store.add_token(args.user)
        except HubError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except OSError as e:  # a full disk: tokens.json is replaced whole or not at all, so nothing was lost
            print(f"error: could not write the token store ({e.strerror}); the existing tokens are intact",
                  file=sys.stderr)
            return 2
        # The one place a token is shown: to the admin who asked for it, on their terminal.
        print(token)
        print(f"(write token for {args.user!r}; the server keeps only its hash, so store it now)", file=sys.stderr)
        return 0
    if args.cmd == "tokens":
        for t in store.list_tokens():
            kind = " (app session)" if t["ephemeral"] else ""
            print(f"{t['id']}  {t['user']:<20}  {time.strftime('%Y-%m-%d %H:%M', time.localtime(t['created']))}{kind}")
        return 0
    if args.cmd == "revoke":
        n = store.revoke_tokens(token_id=args.id, user=args.user)
        print(f"revoked {n} token{'s' if n != 1 else ''}")
        return 0 if n else 1
    if args.cmd == "gc":
        print(f"removed {store.garbage_collect(min_age_s=args.min_age_hours * 3600)} unreferenced blobs")
        return 0

    import uvicorn

    from . import server_config
    from .app import create_app

    app = create_app(store, max_body=args.max_body_mb * 1024 * 1024, public_url=args.public_url,
                     max_file=int(args.max_file_gb * 1024**3))
    print(f"DL Playground hub serving {store.root} on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.Server(server_config(app, host=args.host, port=args.port, log_level="info")).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
