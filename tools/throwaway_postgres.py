"""A throwaway PostgreSQL server on 127.0.0.1, from Debian's postgresql package, for the
tests (tests/conftest.py) and the queue benchmark (bench/job_queue.py).

    with throwaway_postgres(Path("/tmp/pg")) as server_url:   # no database part
        ...  f"{server_url}/postgres"
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from contextlib import contextmanager
from pathlib import Path


def postgres_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def available() -> bool:
    return bool(postgres_binary("initdb") and postgres_binary("pg_ctl"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_postgres(base: Path, max_connections: int = 100):
    """Start a cluster in `base` (an empty directory); yield its URL; stop it at the end."""
    initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
    data = base / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as 'postgres'
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
        base.chmod(0o755)
        for parent in base.parents:
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o005)
    port = _free_port()
    subprocess.run([*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    options = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
               f"-c max_connections={max_connections}")
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
