"""A real PostgreSQL server for tests: Debian's server binaries, a throwaway cluster in a temporary directory.

The analyst store's promises (no concurrent write lost, a schema migrated once) rest on the server's locking,
which no stand-in has. The cluster trusts every local connection and is deleted when the session ends, so
it must never hold anything but test data; fsync is off because a crash of it loses nothing of value.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa

SUPERUSER = "spot"


def server_bindir() -> Path | None:
    """Where initdb and pg_ctl are: Debian keeps them off PATH, under /usr/lib/postgresql/<version>/bin
    (``pg_config --bindir`` names it when the server's own pg_config is installed)."""
    candidates = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(Path(found.stdout.strip()))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).resolve().parent)
    return next((d for d in candidates if (d / "initdb").is_file() and (d / "pg_ctl").is_file()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running cluster; each ``create_database`` is a new empty database, so tests never share state."""

    def __init__(self, bindir: Path, root: Path, owner: pwd.struct_passwd | None):
        self.bindir, self.root, self.owner = bindir, root, owner
        self.data = root / "data"
        self.port = _free_port()
        self._names = itertools.count()

    def _run(self, *args: str) -> None:
        # PostgreSQL refuses to run as root: as root, run it as an unprivileged user.
        as_owner = dict(user=self.owner.pw_uid, group=self.owner.pw_gid, extra_groups=[]) if self.owner else {}
        done = subprocess.run([str(self.bindir / args[0]), *args[1:]], cwd=self.root, capture_output=True,
                              text=True, env={**os.environ, "LC_ALL": "C"}, **as_owner)
        if done.returncode != 0:
            log = self.root / "server.log"
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}"
                               + (log.read_text() if log.exists() else ""))

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-locale")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"store_{next(self._names)}"
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
        finally:
            engine.dispose()
        return self.url(name)


def _unprivileged_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):  # the Debian package creates postgres; nobody is everywhere
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists to run PostgreSQL as")


@contextlib.contextmanager
def running_server(bindir: Path) -> Iterator[Server]:
    owner = _unprivileged_user()
    # Not under pytest's tmp_path: that is private to root, and the server runs as someone else.
    root = Path(tempfile.mkdtemp(prefix="spot-pg-"))
    try:
        if owner:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        server = Server(bindir, root, owner)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
