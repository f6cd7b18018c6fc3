"""A throwaway PostgreSQL server for tests: initdb in a temporary folder, started on 127.0.0.1 on a
free port, stopped and removed afterwards.

Uses Debian's `postgresql` package (`/usr/lib/postgresql/<version>/bin`; `.ci/run` installs it).
PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user the package
creates (`runuser`), in a folder handed over to it. Host connections need a password
(scram-sha-256), so a test can check that a spec's `${PASSWORD}` really reaches the server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PgServer:
    folder: Path
    port: int
    user: str
    password: str
    _as: list[str]
    _bin: Path

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        return (
            f"postgresql+psycopg://{self.user}:{password or self.password}@127.0.0.1:{self.port}/{database}"
        )

    def psql(self, sql: str, database: str = "postgres") -> None:
        """Run SQL as the superuser over the server's own socket (trusted, no password)."""
        subprocess.run(
            [*self._as, str(self._bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.folder),
             "-p", str(self.port), "-U", "postgres", "-d", database],
            input=sql.encode(), check=True, capture_output=True,
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run(
            [
                *self._as,
                str(self._bin / "pg_ctl"),
                "-D",
                str(self.folder / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def start(user: str = "labis", password: str = "pg-test-secret") -> PgServer:
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install -y postgresql (.ci/run does)")
    folder = Path(tempfile.mkdtemp(prefix="labis-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(folder, pg.pw_uid, pg.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "-E", "UTF8",
         "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -F"
    subprocess.run(
        [*run_as, str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-o", options, "-l",
         str(folder / "server.log"), "-w", "-t", "30", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = PgServer(folder, port, user, password, run_as, bindir)
    server.psql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'; CREATE DATABASE vdi OWNER {user};")
    return server
