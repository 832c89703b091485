"""The one way the embedded store writes a transaction: BEGIN IMMEDIATE, COMMIT, or ROLLBACK."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the file's write lock at once, committed on success.

    SQLite may have rolled back already (disk full, I/O error): a second ROLLBACK would
    raise and hide the real error from the 503 and the logs, so it is sent only when a
    transaction is still open.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
