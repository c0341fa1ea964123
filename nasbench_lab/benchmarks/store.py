"""A crash-safe SQLite cache of training results: (arch key, seed, config) -> metrics.

Every live evaluator (the HalfMoons trainer, the cell trainers) keeps its finished
results here so that an interrupted run loses nothing and a repeated query costs
nothing. The database runs in WAL mode and every ``put`` is its own committed
transaction (``put_many`` commits its rows together), so a process killed at any
moment leaves every earlier result readable and the file uncorrupted.

>>> store = ResultStore(tmp_path / "results.sqlite")           # doctest: +SKIP
>>> cfg = config_hash({"trainer": "moons", "steps": 300})      # doctest: +SKIP
>>> store.put("8-Tanh", 0, cfg, {"validation_accuracy": 0.9})  # doctest: +SKIP
>>> store.get("8-Tanh", 0, cfg)                                # doctest: +SKIP
{'validation_accuracy': 0.9}
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Mapping

from .. import paths

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    arch_key TEXT NOT NULL,
    seed     INTEGER NOT NULL,
    config   TEXT NOT NULL,
    metrics  TEXT NOT NULL,
    created  REAL NOT NULL,
    PRIMARY KEY (arch_key, seed, config)
) WITHOUT ROWID
"""


def config_hash(config: Mapping) -> str:
    """Stable short hash (16 hex) of a JSON-serialisable training configuration."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2s(blob.encode(), digest_size=8).hexdigest()


def _clean(value):
    """JSON cannot hold NaN portably: store it as null and read it back as NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class ResultStore:
    """SQLite cache of results keyed by ``(arch_key, seed, config)``.

    ``path`` defaults to ``paths.cache_dir()/"live_results.sqlite"``. One connection per
    instance and per process (instances are not shared across ``fork``).
    """

    def __init__(self, path: str | os.PathLike | None = None, timeout: float = 60.0) -> None:
        self.path = Path(path) if path is not None else paths.cache_dir() / "live_results.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._pid = None
        self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                # NORMAL is durable against a killed process in WAL mode (only power loss
                # can drop the last transactions); FULL would fsync every commit.
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(_SCHEMA)
            except sqlite3.DatabaseError as e:
                conn.close()
                raise sqlite3.DatabaseError(f"result store {self.path} is not a usable SQLite database: {e}") from e
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    # -- reading ----------------------------------------------------------------------
    def get(self, arch_key: str, seed: int, config: str) -> dict | None:
        """The stored metrics dict, or ``None`` when absent."""
        row = self._connect().execute(
            "SELECT metrics FROM results WHERE arch_key=? AND seed=? AND config=?", (arch_key, int(seed), config)
        ).fetchone()
        return None if row is None else _decode(row[0])

    def get_config(self, config: str) -> dict[tuple[str, int], dict]:
        """Every result of one configuration: ``{(arch_key, seed): metrics}``."""
        rows = self._connect().execute("SELECT arch_key, seed, metrics FROM results WHERE config=?", (config,))
        return {(k, s): _decode(m) for k, s, m in rows}

    def keys(self, config: str) -> set[tuple[str, int]]:
        """The ``(arch_key, seed)`` pairs stored for ``config``."""
        rows = self._connect().execute("SELECT arch_key, seed FROM results WHERE config=?", (config,))
        return {(k, s) for k, s in rows}

    def __len__(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def __bool__(self) -> bool:  # an empty store is still a store (``if store:`` stays True)
        return True

    # -- writing ----------------------------------------------------------------------
    def put(self, arch_key: str, seed: int, config: str, metrics: Mapping) -> None:
        """Store one result (replacing an earlier one) and commit at once."""
        self.put_many([(arch_key, seed, metrics)], config)

    def put_many(self, rows: Iterable[tuple[str, int, Mapping]], config: str) -> None:
        """Store ``(arch_key, seed, metrics)`` rows in one committed transaction."""
        now = time.time()
        data = [(k, int(s), config, json.dumps({n: _clean(v) for n, v in m.items()}), now) for k, s, m in rows]
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)", data)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ResultStore {str(self.path)!r}>"


def _decode(blob: str) -> dict:
    return {k: (math.nan if v is None else v) for k, v in json.loads(blob).items()}


__all__ = ["ResultStore", "config_hash"]
