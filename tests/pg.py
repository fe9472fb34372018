"""A throwaway PostgreSQL server for the test session: initdb into a temp folder, loopback port."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def find_bin_dir() -> Path | None:
    candidates = [*sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True), "/usr/local/bin"]
    for folder in candidates:
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    data_dir: Path
    port: int
    run_as: str | None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _cmd(self, *args: str) -> list[str]:
        # PostgreSQL refuses to run as root: under root, run its tools as the postgres user.
        return ["runuser", "-u", self.run_as, "--", *args] if self.run_as else list(args)

    def start(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            initdb = str(self.bin_dir / "initdb")
            subprocess.run(
                self._cmd(
                    initdb,
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ),
                check=True,
                capture_output=True,
            )
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300 -c shared_buffers=128MB"
        )
        subprocess.run(
            self._cmd(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                options,
                "-l",
                str(self.data_dir.parent / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            self._cmd(
                str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"
            ),
            capture_output=True,
        )


def start_server() -> PostgresServer:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("no PostgreSQL server binaries (initdb, pg_ctl) found")
    run_as = None
    if os.geteuid() == 0:
        run_as = "postgres"
        pwd.getpwnam(run_as)  # KeyError when there is no such user
    parent = Path(tempfile.mkdtemp(prefix="loyalty-pg-"))
    data_dir = parent / "data"
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(parent, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bin_dir, data_dir, free_port(), run_as)
    for attempt in range(3):
        try:
            server.start()
            return server
        except subprocess.CalledProcessError:
            if attempt == 2:
                raise
            server.port = free_port()
            time.sleep(0.5)
    return server


def remove(server: PostgresServer) -> None:
    server.stop()
    shutil.rmtree(server.data_dir.parent, ignore_errors=True)
