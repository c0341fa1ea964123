"""Where experiments live: one SQLite database per experiment, and a registry of them.

Layout (created on first use; nothing to start by hand)::

    <root>/registry.sqlite                    every experiment: id, name, folder, status, pid
    <working dir>/<id>/experiment.sqlite      one experiment: config, trial journal, metrics,
                                              the strategy's checkpointed state

``<root>`` is ``$NASBENCH_LAB_EXPERIMENTS`` when set, else ``~/nasbench-lab-experiments``
(:func:`experiments_root`); ``experiment_working_directory`` puts an experiment's folder
elsewhere (the registry still finds it).

Durability: both databases run in WAL mode and every change is one transaction. The trial
journal and the strategy's ``state_dict`` are written in the *same* transaction, so after
a crash (``kill -9`` at any instant) the store holds a state and exactly the trials that
state has been told: a resumed experiment loses no completed trial, runs none twice and
continues the numbering.

Bad stores raise :class:`ExperimentError` naming the file and the problem: not a
database (corrupted), locked by another process, written by a newer version, missing
tables. A store is never overwritten: creating an experiment whose database exists fails.
"""
from __future__ import annotations

import json
import os
import pickle
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

#: version of the experiment database layout (``PRAGMA user_version``)
SCHEMA_VERSION = 1
#: version of the registry layout
REGISTRY_VERSION = 1
DB_NAME = "experiment.sqlite"
REGISTRY_NAME = "registry.sqlite"
_SQLITE_MAGIC = b"SQLite format 3\x00"


class ExperimentError(RuntimeError):
    """An experiment or its store cannot be used; the message names it and why."""


def experiments_root() -> Path:
    """The registry's folder: ``$NASBENCH_LAB_EXPERIMENTS``, else ``~/nasbench-lab-experiments``."""
    env = os.environ.get("NASBENCH_LAB_EXPERIMENTS")
    return Path(env).expanduser() if env else Path.home() / "nasbench-lab-experiments"


def _check_file(path: Path) -> None:
    """Refuse a file that is not an SQLite database before SQLite touches it."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise ExperimentError(f"{path}: cannot be read ({e})") from None
    if head and head != _SQLITE_MAGIC:
        raise ExperimentError(f"{path}: not an SQLite database (corrupted or overwritten); "
                              "restore it from a copy or remove its folder")


@contextmanager
def _errors(path: Path) -> Iterator[None]:
    """Turn SQLite errors into :class:`ExperimentError` naming ``path``."""
    try:
        yield
    except sqlite3.OperationalError as e:
        msg = str(e)
        if "locked" in msg or "busy" in msg:
            raise ExperimentError(f"{path}: the database is locked by another process ({msg}); "
                                  "wait for it or stop that process") from None
        raise ExperimentError(f"{path}: {msg}") from None
    except sqlite3.DatabaseError as e:
        raise ExperimentError(f"{path}: corrupted database ({e}); restore it from a copy or "
                              "remove its folder") from None


def _connect(path: Path, timeout: float) -> sqlite3.Connection:
    _check_file(path) if path.exists() else None
    with _errors(path):
        con = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
    return con


class Registry:
    """The table of every experiment under ``root`` (see the module docstring)."""

    def __init__(self, root: str | Path | None = None, timeout: float = 10.0):
        self.root = Path(root).expanduser() if root is not None else experiments_root()
        self.path = self.root / REGISTRY_NAME
        self.timeout = timeout

    @contextmanager
    def _con(self) -> Iterator[sqlite3.Connection]:
        self.root.mkdir(parents=True, exist_ok=True)
        con = _connect(self.path, self.timeout)
        try:
            with _errors(self.path):
                version = con.execute("PRAGMA user_version").fetchone()[0]
                if version > REGISTRY_VERSION:
                    raise ExperimentError(f"{self.path}: written by a newer nasbench_lab (registry version "
                                          f"{version} > {REGISTRY_VERSION}); upgrade to read it")
                if version == 0:
                    con.execute("BEGIN IMMEDIATE")
                    con.execute("CREATE TABLE IF NOT EXISTS experiments (id TEXT PRIMARY KEY, name TEXT, "
                                "folder TEXT NOT NULL, created REAL, updated REAL, status TEXT, pid INTEGER)")
                    con.execute(f"PRAGMA user_version={REGISTRY_VERSION}")
                    con.execute("COMMIT")
                yield con
        finally:
            con.close()

    def add(self, exp_id: str, name: str | None, folder: Path, status: str) -> None:
        now = time.time()
        with self._con() as con, _errors(self.path):
            try:
                con.execute("INSERT INTO experiments VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (exp_id, name, str(Path(folder).resolve()), now, now, status, os.getpid()))
            except sqlite3.IntegrityError:
                raise ExperimentError(f"an experiment with id {exp_id!r} exists already; choose another id "
                                      f"or resume it with Experiment.resume({exp_id!r})") from None

    def update(self, exp_id: str, **fields: Any) -> None:
        if not fields:
            return
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._con() as con, _errors(self.path):
            con.execute(f"UPDATE experiments SET {cols}, updated = ? WHERE id = ?",
                        (*fields.values(), time.time(), exp_id))

    def get(self, exp_id: str) -> dict | None:
        with self._con() as con, _errors(self.path):
            row = con.execute("SELECT id, name, folder, created, updated, status, pid FROM experiments "
                              "WHERE id = ?", (exp_id,)).fetchone()
        return None if row is None else dict(zip(("id", "name", "folder", "created", "updated", "status", "pid"), row))

    def all(self) -> list[dict]:
        with self._con() as con, _errors(self.path):
            rows = con.execute("SELECT id, name, folder, created, updated, status, pid FROM experiments "
                               "ORDER BY created").fetchall()
        return [dict(zip(("id", "name", "folder", "created", "updated", "status", "pid"), r)) for r in rows]

    def find(self, exp_id: str) -> dict:
        """The registry entry of ``exp_id``; an unknown id raises naming the known ones."""
        entry = self.get(exp_id)
        if entry is None:
            known = [e["id"] for e in self.all()]
            hint = f"known: {', '.join(known[-10:])}" if known else "the registry is empty"
            raise ExperimentError(f"no experiment {exp_id!r} in {self.path} ({hint})")
        return entry


#: columns of the trial journal, in order
TRIAL_COLUMNS = ("trial", "query", "status", "key", "arch", "validation", "test", "told", "start_time",
                 "end_time", "error")


class ExperimentStore:
    """One experiment's database (see the module docstring). Thread-safe: one connection
    behind a lock, so the running loop and readers (widgets, the notebook) share it."""

    def __init__(self, folder: str | Path, create: bool = False, timeout: float = 10.0):
        self.folder = Path(folder)
        self.path = self.folder / DB_NAME
        self._lock = threading.RLock()
        if create:
            if self.path.exists():
                raise ExperimentError(f"{self.path} exists already: an experiment store is never overwritten; "
                                      "choose another id or working directory")
            self.folder.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise ExperimentError(f"{self.path}: no experiment database here (moved or deleted?)")
        self.con = _connect(self.path, timeout)
        with self._lock, _errors(self.path):
            version = self.con.execute("PRAGMA user_version").fetchone()[0]
            if create:
                self._create()
            elif version > SCHEMA_VERSION:
                raise ExperimentError(f"{self.path}: written by a newer nasbench_lab (schema version {version} > "
                                      f"{SCHEMA_VERSION}); upgrade nasbench_lab to read it")
            elif version < 1:
                raise ExperimentError(f"{self.path}: not an experiment database (schema version {version})")
            tables = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = {"meta", "trials", "metrics", "state"} - tables
            if missing:
                raise ExperimentError(f"{self.path}: damaged experiment database (tables {sorted(missing)} missing)")

    def _create(self) -> None:
        c = self.con
        c.execute("BEGIN IMMEDIATE")
        c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        c.execute("CREATE TABLE trials (trial INTEGER PRIMARY KEY, query INTEGER, status TEXT NOT NULL, key TEXT, "
                  "arch BLOB, validation REAL, test REAL, told REAL, start_time REAL, end_time REAL, error TEXT)")
        c.execute("CREATE TABLE metrics (trial INTEGER, type TEXT, sequence INTEGER, value REAL, timestamp REAL)")
        c.execute("CREATE INDEX metrics_trial ON metrics (trial)")
        c.execute("CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), blob BLOB, trials INTEGER, "
                  "updated REAL)")
        c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        c.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write (``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on error)."""
        with self._lock, _errors(self.path):
            self.con.execute("BEGIN IMMEDIATE")
            try:
                yield self.con
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")

    def check_writable(self, timeout: float = 2.0) -> None:
        """Raise :class:`ExperimentError` at once when another process holds the write lock."""
        with self._lock:
            old = self.con.execute("PRAGMA busy_timeout").fetchone()[0]
            self.con.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            try:
                with _errors(self.path):
                    self.con.execute("BEGIN IMMEDIATE")
                    self.con.execute("ROLLBACK")
            finally:
                self.con.execute(f"PRAGMA busy_timeout={int(old)}")

    def read(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock, _errors(self.path):
            return self.con.execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        with self._lock:
            self.con.close()

    # -- meta ---------------------------------------------------------------------------
    def set_meta(self, con: sqlite3.Connection | None = None, **values: Any) -> None:
        rows = [(k, json.dumps(v)) for k, v in values.items()]
        if con is not None:
            con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)
            return
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)

    def meta(self) -> dict:
        return {k: json.loads(v) for k, v in self.read("SELECT key, value FROM meta")}

    # -- journal ------------------------------------------------------------------------
    def journal(self, rows: list[tuple], state: Any = None, con: sqlite3.Connection | None = None,
                **meta: Any) -> None:
        """Write trial rows (``TRIAL_COLUMNS`` order; a row replaces the same trial's) and,
        in the same transaction, the strategy's state and meta values."""
        def write(c):
            if rows:
                c.executemany("INSERT OR REPLACE INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            if state is not None:
                blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
                c.execute("INSERT OR REPLACE INTO state VALUES (1, ?, ?, ?)", (blob, self._count(c), time.time()))
            if meta:
                self.set_meta(c, **meta)
        if con is not None:
            write(con)
        else:
            with self.transaction() as c:
                write(c)

    @staticmethod
    def _count(c) -> int:
        """The highest trial number journalled (an index lookup, not a scan)."""
        return c.execute("SELECT COALESCE(MAX(trial), 0) FROM trials").fetchone()[0]

    def state(self) -> Any:
        """The last checkpointed state (None before the first)."""
        rows = self.read("SELECT blob FROM state WHERE id = 1")
        if not rows or rows[0][0] is None:
            return None
        try:
            return pickle.loads(rows[0][0])
        except Exception as e:  # noqa: BLE001 - any unpickling failure is a damaged store
            raise ExperimentError(f"{self.path}: the strategy checkpoint cannot be read ({type(e).__name__}: {e})") \
                from None

    def add_metrics(self, rows: list[tuple]) -> None:
        """``(trial, type, sequence, value, timestamp)`` rows."""
        if rows:
            with self.transaction() as c:
                c.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", rows)

    def replace_metrics(self, rows: list[tuple]) -> None:
        """``(trial, type, sequence, value, timestamp)`` rows, each replacing any row with
        the same (trial, type, sequence): writing an epoch twice (a resumed search repeats
        the epoch a kill interrupted) keeps one row."""
        if rows:
            with self.transaction() as c:
                c.executemany("DELETE FROM metrics WHERE trial = ? AND type = ? AND sequence = ?",
                              [r[:3] for r in rows])
                c.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", rows)

    def trial_rows(self, where: str = "", params: Iterable = ()) -> list[dict]:
        cols = ", ".join(c for c in TRIAL_COLUMNS if c != "arch")
        rows = self.read(f"SELECT {cols} FROM trials {where} ORDER BY trial", params)
        names = [c for c in TRIAL_COLUMNS if c != "arch"]
        return [dict(zip(names, r)) for r in rows]

    def pending(self) -> list[tuple[int, int, str, Any]]:
        """``(trial, query, key, arch)`` of trials that were asked but never finished."""
        rows = self.read("SELECT trial, query, key, arch FROM trials WHERE status IN ('WAITING', 'RUNNING') "
                         "ORDER BY trial")
        return [(t, q, k, pickle.loads(a) if a is not None else None) for t, q, k, a in rows]

    def counts(self) -> dict[str, int]:
        return dict(self.read("SELECT status, COUNT(*) FROM trials GROUP BY status"))

    def n_trials(self) -> int:
        return int(self.read("SELECT COUNT(*) FROM trials")[0][0])

    def last_trial(self) -> int:
        return int(self.read("SELECT COALESCE(MAX(trial), 0) FROM trials")[0][0])

    def metrics(self, trial: int | None = None) -> list[tuple]:
        if trial is None:
            return self.read("SELECT trial, type, sequence, value, timestamp FROM metrics ORDER BY trial, rowid")
        return self.read("SELECT trial, type, sequence, value, timestamp FROM metrics WHERE trial = ? ORDER BY rowid",
                         (int(trial),))


def dumps_arch(arch: Any) -> bytes:
    return pickle.dumps(arch, protocol=pickle.HIGHEST_PROTOCOL)


__all__ = ["DB_NAME", "ExperimentError", "ExperimentStore", "Registry", "SCHEMA_VERSION", "TRIAL_COLUMNS",
           "dumps_arch", "experiments_root"]
