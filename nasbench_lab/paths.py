"""Where data lives, atomic writes, and the one device helper.

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


def default_device(prefer: str | None = None) -> str:
    """``"cuda"`` when a GPU is usable (or ``prefer`` says so), else ``"cpu"``.

    torch is imported lazily; without torch the answer is ``"cpu"``.
    """
    if prefer is not None:
        return prefer
    try:
        import torch
    except ImportError:  # pragma: no cover
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def torch_threads(n: int | None = 1) -> Iterator[None]:
    """Run a block with ``n`` torch CPU threads (``None``/0: unchanged), then restore.

    Small networks and gathers run several times faster on one thread than on several
    spinning ones, and far faster when the cores are shared with other work.
    """
    if not n:
        yield
        return
    import torch

    old = torch.get_num_threads()
    if n != old:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        if n != old:
            torch.set_num_threads(old)
