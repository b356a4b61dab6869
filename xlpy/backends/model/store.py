"""The model's state: one SQLite database (WAL) under the state directory.

Every backend operation is one IMMEDIATE transaction, so separate xlpy
processes see one host, never hand out a domid twice, and a process killed at
any moment leaves the database as it was before or after the operation.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from xlpy.domain.host import state_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS domains (
    domid INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL,
    hvm INTEGER NOT NULL, hap INTEGER NOT NULL, legacy_pvh INTEGER NOT NULL,
    emulation_flags INTEGER NOT NULL,
    max_vcpus INTEGER NOT NULL DEFAULT 0,
    max_pages INTEGER NOT NULL DEFAULT 0,
    tot_pages INTEGER NOT NULL DEFAULT 0,
    paused INTEGER NOT NULL DEFAULT 1,
    shutdown_reason INTEGER,
    dying INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    run_since REAL,
    cpu_ns INTEGER NOT NULL DEFAULT 0,
    boot_mode TEXT, entry INTEGER, booted INTEGER NOT NULL DEFAULT 0,
    memory_map TEXT NOT NULL DEFAULT '[]',
    weight INTEGER NOT NULL DEFAULT 256, cap INTEGER NOT NULL DEFAULT 0,
    settings TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS vcpus (
    domid INTEGER NOT NULL, vcpu INTEGER NOT NULL,
    up INTEGER NOT NULL DEFAULT 0, initialised INTEGER NOT NULL DEFAULT 0,
    context TEXT, hard TEXT, soft TEXT,
    PRIMARY KEY (domid, vcpu)
);
CREATE TABLE IF NOT EXISTS hvm_params (domid INTEGER NOT NULL, param INTEGER NOT NULL, value TEXT NOT NULL,
                                       PRIMARY KEY (domid, param));
CREATE TABLE IF NOT EXISTS refs (domid INTEGER NOT NULL, holder TEXT NOT NULL, count INTEGER NOT NULL,
                                 PRIMARY KEY (domid, holder));
CREATE TABLE IF NOT EXISTS xenstore (path TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS userdata (domid INTEGER NOT NULL, userid TEXT NOT NULL, data BLOB NOT NULL,
                                     PRIMARY KEY (domid, userid));
CREATE TABLE IF NOT EXISTS console (id INTEGER PRIMARY KEY AUTOINCREMENT, domid INTEGER NOT NULL, line TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hvlog (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS console_domid ON console (domid);
CREATE INDEX IF NOT EXISTS xenstore_value ON xenstore (value);
"""


class Store:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or state_dir()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        self.path = self.directory / "model.sqlite"
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.db.row_factory = sqlite3.Row  # rows read by column name
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=60000")
        self.db.executescript(SCHEMA)
        self._add_new_columns()

    def _add_new_columns(self) -> None:
        """A state directory from an older xlpy lacks the columns added since;
        they are added with their defaults, so its domains live on."""
        have = {row[1] for row in self.db.execute("PRAGMA table_info(domains)")}
        if "settings" not in have:
            try:
                self.db.execute("ALTER TABLE domains ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'")
            except sqlite3.OperationalError:  # another process added it first
                pass

    @contextmanager
    def transaction(self):
        """One atomic step: all of it lands, or none of it."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default
