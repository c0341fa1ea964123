"""Serving the portal: the listening socket, uvicorn in a daemon thread, the token file.

The socket is bound before the experiment starts (a port in use fails at once, with
nothing created); uvicorn then serves the Starlette app (:func:`.api.create_app`) on it
from a daemon thread of the experiment's process until :meth:`Portal.close`
(``exp.stop()``) or the process exits.

The token is ``secrets.token_urlsafe(32)``, one per experiment: created the first time
the experiment is served, kept in ``<folder>/portal.token`` (mode 0600, written to a
temp file and renamed) and read back when it is served again (``resume``).
"""
from __future__ import annotations

import errno
import os
import secrets
import socket
import stat
import threading
import time
from pathlib import Path

from ..store import ExperimentError

#: the file of an experiment's folder that holds its portal token
TOKEN_FILE = "portal.token"
#: the interface served unless told otherwise
LOOPBACK = "127.0.0.1"


class PortalStartError(ExperimentError):
    """The portal cannot be served (port in use, bad port or host); the message says why."""


def require() -> None:
    """Raise :class:`PortalStartError` saying how to install the portal's libraries when they are absent."""
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn", "plotly") if importlib.util.find_spec(m) is None]
    if missing:
        raise PortalStartError(f"the web portal needs {', '.join(missing)}: pip install 'nasbench-lab[portal]' "
                               "(or pip install -r requirements.txt)")


def bind(port: int, host: str = LOOPBACK) -> socket.socket:
    """A listening TCP socket on ``host:port``; a port in use raises :class:`PortalStartError`."""
    require()
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise PortalStartError(f"port must be an integer 0-65535 (0: any free port), got {port!r}")
    if not isinstance(host, str) or not host:
        raise PortalStartError(f"host must be an address such as {LOOPBACK!r}, got {host!r}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP: asyncio then sets TCP_NODELAY on every accepted connection (with
    # proto 0 it does not, and Nagle's algorithm holds each response body until the client's delayed ACK)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # SO_REUSEADDR: a port left in TIME_WAIT by a closed portal can be served again;
        # a port another socket listens on still fails
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise PortalStartError(f"port {port} on {host} is in use (another portal or server?); choose "
                                   "another port, or port=0 for any free one") from None
        raise PortalStartError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.setblocking(False)
    return sock


def write_token(folder: str | Path, token: str) -> Path:
    """Write ``token`` to ``<folder>/portal.token``: owner-only (0600) from its creation,
    to a temp file renamed into place."""
    folder = Path(folder)
    path = folder / TOKEN_FILE
    tmp = folder / f".{TOKEN_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)  # whatever the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_token(folder: str | Path) -> str | None:
    """The token of ``<folder>/portal.token``, None when there is none. A token file that
    others may read is refused (it is no secret any more)."""
    path = Path(folder) / TOKEN_FILE
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError(f"{path}: the token file is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
                              "delete it (a new token is made when the experiment is served again)")
    token = path.read_text().strip()
    return token or None


def ensure_token(folder: str | Path) -> str:
    """The experiment's token: the stored one, else a new one written with :func:`write_token`."""
    token = read_token(folder)
    if token is None:
        token = secrets.token_urlsafe(32)
        write_token(folder, token)
    return token


class Portal:
    """One experiment's portal: uvicorn serving :func:`.api.create_app` on a bound socket."""

    def __init__(self, experiment, sock: socket.socket, token: str | None, read_only: bool = False):
        import uvicorn

        from .api import create_app

        self.experiment = experiment
        self.sock = sock
        self.host, self.port = sock.getsockname()[:2]
        self.token = token
        self.read_only = read_only
        self.app = create_app(experiment, token=token, read_only=read_only, port=self.port,
                              loopback=_is_loopback(self.host), host=self.host)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1, server_header=False, date_header=False)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address (without the token)."""
        host = LOOPBACK if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/"

    @property
    def token_url(self) -> str:
        """The page's address with ``?token=`` (as Jupyter prints it); the plain URL when read-only."""
        return self.url if self.read_only or not self.token else f"{self.url}?token={self.token}"

    def start(self, timeout: float = 15.0) -> "Portal":
        """Serve from a daemon thread; return once it answers."""
        if not _is_loopback(self.host):
            import sys

            print(f"warning: the portal of experiment {self.experiment.id} listens on {self.host}:{self.port}, not "
                  "only on loopback: whoever reaches it can read it (changes still need the token; plain HTTP)",
                  file=sys.stderr)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                        name=f"portal-{self.experiment.id}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise PortalStartError(f"the portal on {self.url} stopped while starting")
            if time.monotonic() > deadline:
                raise PortalStartError(f"the portal on {self.url} did not start within {timeout:.0f} s")
            time.sleep(0.01)
        return self

    @property
    def serving(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self, timeout: float = 5.0) -> None:
        """Stop serving (open connections get a second to finish) and free the port."""
        self.server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        try:
            self.sock.close()
        except OSError:  # pragma: no cover
            pass

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "control"
        return f"<Portal {self.url} ({mode}) of experiment {self.experiment.id!r}>"


def _is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


__all__ = ["LOOPBACK", "Portal", "PortalStartError", "TOKEN_FILE", "bind", "ensure_token", "read_token",
           "write_token"]
