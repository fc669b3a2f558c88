"""The repo index: one row per repo with what listing repos needs (visibility, dates, card tags), in SQLite.

Listing models used to read every repo's repo.json, refs.json and commit tree per request (1 s at 3,000 repos,
and ``limit=1`` cost the same); a query on this index costs its page. It is derived data: HubStore keeps it in
step under each repo's lock, and rebuilds it from the repos on disk when it is missing or of another version.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

VERSION = 1


def card_tags(card: dict[str, Any]) -> list[str]:
    """The tags the Hub derives from card metadata, so that ``filter=`` finds them."""
    def as_list(v: Any) -> list[str]:
        return [str(x) for x in v] if isinstance(v, list) else ([str(v)] if v else [])

    tags = as_list(card.get("tags"))
    for key in ("library_name", "pipeline_tag"):
        tags += as_list(card.get(key))
    tags += [f"dataset:{d}" for d in as_list(card.get("datasets"))]
    tags += [f"base_model:{b}" for b in as_list(card.get("base_model"))]
    tags += [f"license:{x}" for x in as_list(card.get("license"))]
    tags += [f"language:{x}" for x in as_list(card.get("language"))]
    return list(dict.fromkeys(tags))


@dataclass
class Row:
    type: str
    id: str
    owner: str
    private: bool
    created: float
    modified: float
    sha: str
    card: dict[str, Any]

    @property
    def tags(self) -> list[str]:
        return card_tags(self.card)


class RepoIndex:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self.fresh = self._db.execute("PRAGMA user_version").fetchone()[0] != VERSION
        if self.fresh:
            self._db.executescript("""
                DROP TABLE IF EXISTS repos; DROP TABLE IF EXISTS tags;
                CREATE TABLE repos (type TEXT, id TEXT, owner TEXT, private INTEGER, created REAL, modified REAL,
                                    sha TEXT, pipeline_tag TEXT, card TEXT, PRIMARY KEY (type, id));
                CREATE INDEX repos_by_date ON repos (type, modified);
                CREATE TABLE tags (type TEXT, id TEXT, tag TEXT);
                CREATE INDEX tags_by_tag ON tags (type, tag, id);
                CREATE INDEX tags_by_repo ON tags (type, id);
            """)

    def invalidate(self) -> None:
        """Rebuilt from the disk when the store is next opened."""
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA user_version = 0")

    def mark_built(self) -> None:
        self._db.execute(f"PRAGMA user_version = {VERSION}")
        self.fresh = False

    def put(self, row: Row) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT OR REPLACE INTO repos VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (row.type, row.id, row.owner, int(row.private), row.created, row.modified, row.sha,
                                  str(row.card.get("pipeline_tag") or ""), json.dumps(row.card)))
                self._db.execute("DELETE FROM tags WHERE type = ? AND id = ?", (row.type, row.id))
                self._db.executemany("INSERT INTO tags VALUES (?, ?, ?)", [(row.type, row.id, t) for t in row.tags])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def delete(self, repo_type: str, repo_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM repos WHERE type = ? AND id = ?", (repo_type, repo_id))
            self._db.execute("DELETE FROM tags WHERE type = ? AND id = ?", (repo_type, repo_id))

    def query(self, repo_type: str, *, user: str | None, author: str | None = None, search: str = "",
              filters: Iterable[str] = (), pipeline_tag: str | None = None, newest_first: bool = True,
              offset: int = 0, limit: int = 1000) -> tuple[list[Row], bool]:
        """A page of the repos ``user`` may see (private ones only their owner's), and whether more follow."""
        where, args = ["r.type = ?", "(r.private = 0 OR r.owner = ?)"], [repo_type, user or ""]
        if author:
            where.append("r.owner = ?")
            args.append(author)
        if search:
            where.append("instr(lower(r.id), ?) > 0")
            args.append(search.lower())
        if pipeline_tag:
            where.append("r.pipeline_tag = ?")
            args.append(pipeline_tag)
        for tag in filters:
            where.append("EXISTS (SELECT 1 FROM tags t WHERE t.type = r.type AND t.id = r.id AND t.tag = ?)")
            args.append(tag)
        order = "DESC" if newest_first else "ASC"
        sql = (f"SELECT type, id, owner, private, created, modified, sha, card FROM repos r WHERE {' AND '.join(where)}"
               f" ORDER BY r.modified {order}, r.id LIMIT ? OFFSET ?")
        with self._lock:
            found = self._db.execute(sql, (*args, limit + 1, offset)).fetchall()
        rows = [Row(t, i, o, bool(p), c, m, s, json.loads(card)) for t, i, o, p, c, m, s, card in found[:limit]]
        return rows, len(found) > limit

    def close(self) -> None:
        self._db.close()
