"""The one device helper: which torch device to use, and how many CPU threads.

* ``default_device(prefer)``: ``"cuda"`` when a GPU is usable, else ``"cpu"``;
* ``torch_threads(n)``: a context manager running a block on ``n`` torch CPU threads.

Both import torch lazily, so this module sits at the bottom of the package (below every
layer, like ``paths`` and ``schema``) and importing it costs nothing.

>>> default_device("cpu")
'cpu'
>>> with torch_threads(None):   # None or 0: the thread count is left as it is
...     pass
"""
from __future__ import annotations

import contextlib
from typing import Iterator


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

    Small networks and gathers run faster on one thread than on several spinning ones,
    and far faster when the cores are shared with other work.
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


__all__ = ["default_device", "torch_threads"]
