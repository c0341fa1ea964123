"""Where data lives, atomic writes, and the optional extras.

The torch device helpers (``default_device``, ``torch_threads``) live in
``nasbench_lab.device``.

* ``data_dir()``: the project's ``data/`` folder (or ``$NASBENCH_LAB_DATA``); bundled
  tables are committed there, downloads and caches go to ``data_dir()/"cache"`` (git-ignored).
* ``shared_data_dir()``: the real public benchmark samples beside the project
  (``../shared/data`` or ``$NASBENCH_LAB_SHARED``); ``None`` when absent.
* ``atomic_write(path)``: a context manager yielding a temporary path in the same
  folder; it is renamed over ``path`` only when the block finishes without error, so a
  crash or an interrupt never leaves a half-written cache or result behind.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The data folder: ``$NASBENCH_LAB_DATA`` if set, else ``<project>/data``."""
    env = os.environ.get("NASBENCH_LAB_DATA")
    p = Path(env) if env else PROJECT_ROOT / "data"
    p.mkdir(parents=True, exist_ok=True)
    return p


def cache_dir() -> Path:
    """Git-ignored folder for downloads and built caches."""
    p = data_dir() / "cache"
    p.mkdir(parents=True, exist_ok=True)
    return p


def bundled_dir() -> Path:
    """Committed small tables (NAS-Bench-Moons, published baselines)."""
    return PROJECT_ROOT / "data"


def figures_dir() -> Path:
    env = os.environ.get("NASBENCH_LAB_FIGURES")
    p = Path(env) if env else PROJECT_ROOT / "figures"
    p.mkdir(parents=True, exist_ok=True)
    return p


def shared_data_dir() -> Path | None:
    """The folder of real public samples (``../shared/data``), or ``None`` if absent."""
    env = os.environ.get("NASBENCH_LAB_SHARED")
    candidates = [Path(env)] if env else []
    candidates += [PROJECT_ROOT.parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c
    return None


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path next to ``path``; rename it over ``path`` on success only.

    >>> with atomic_write("out.csv") as tmp:      # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_dir():  # pragma: no cover - we only create files
            raise IsADirectoryError(tmp_path)
        # mkstemp creates 0600; give the result the ordinary permissions (umask applies)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


class UnreadableFile(ValueError):
    """A cache or data file is truncated, corrupt or not in its expected layout; names the file."""


def read_npz(path: str | os.PathLike, required: tuple[str, ...] = (), what: str = "cache") -> dict:
    """Every array of an ``.npz`` file (no pickles), or one :class:`UnreadableFile` naming it.

    A truncated or bit-flipped file (the zip CRC catches flipped bits), a file that is not
    an ``.npz`` at all, or one without the ``required`` arrays, all raise the same error
    type with the file's path, so callers can rebuild a derived cache or refuse cleanly.
    """
    import numpy as np

    path = Path(path)
    with open(path, "rb") as f:  # FileNotFoundError passes through
        head = f.read(4)
    if head != b"PK\x03\x04":  # np.load would try it as a pickle and suggest allow_pickle
        got = "it is empty" if not head else f"it starts with {head!r}"
        raise UnreadableFile(f"{what} {path} is not an .npz archive ({got}: truncated, overwritten or another file)")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in required if k not in z.files]
            if missing:
                raise UnreadableFile(f"{what} {path} lacks {', '.join(missing)} (an old or foreign file)")
            return {k: z[k] for k in z.files}
    except UnreadableFile:
        raise
    except FileNotFoundError:
        raise
    except Exception as e:  # BadZipFile, EOFError, ValueError, OSError, zlib.error, ...
        raise UnreadableFile(f"{what} {path} is unreadable (truncated or corrupt: "
                             f"{type(e).__name__}: {e})") from None


#: optional packages -> the ``pyproject.toml`` extra that installs them
EXTRAS = {"xgboost": "surrogate", "ipywidgets": "notebooks", "ray": "ray", "ConfigSpace": "nb301",
          "jupyterlab": "notebooks"}


class MissingExtra(ModuleNotFoundError):
    """An optional package is not installed; the message names the extra that installs it."""


def require(module: str, what: str = ""):
    """``import module`` (an optional dependency), or :class:`MissingExtra` saying which
    ``pip install 'nasbench-lab[extra]'`` provides it.

    >>> xgb = require("xgboost", "NAS-Bench-301")   # doctest: +SKIP
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = module.split(".")[0]
        if e.name not in (None, top, module):  # a different module is missing: not ours to explain
            raise
        extra = EXTRAS.get(top)
        how = f"pip install 'nasbench-lab[{extra}]'" if extra else f"pip install {top}"
        raise MissingExtra(f"{what + ' needs' if what else 'this needs'} the optional package {top!r}, "
                           f"which is not installed: {how}", name=top) from None
