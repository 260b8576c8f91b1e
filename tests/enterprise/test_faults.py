"""Crash safety, proved: named crash points (D22), random SIGKILLs with resume, strace order.

Every kill is followed by checks (no value lost, no file half-written) and a resume;
at the end every value decrypts under the final key *alone* to its original plaintext.
The PostgreSQL variants cover client death (the rotating process is killed while the
server stays up), not a server crash. Random kills hit forked child processes (no
interpreter start-up per kill); crash points and the final resumes run as new processes.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from importobot.security import CredentialManager
from importobot_enterprise.key_rotation.faults import CRASH_POINTS
from importobot_enterprise.key_rotation.stores.files import find_tokens
from tests.conftest import require_service
from tests.enterprise.helpers import key_text, make_sqlite, only, plaintexts, sqlite_values
from tests.keygen import new_raw

DRIVER = Path(__file__).with_name("rotation_driver.py")
FILE_POINTS = ("after-temp-write", "after-temp-fsync", "after-rename")
SQL_POINTS = ("before-commit", "after-commit")
HITS = 5
DEFAULT_KILLS = 50
VALUES = 10_000


class Chain:
    """A growing chain of keys; the newest is the target, all earlier ones previous."""

    def __init__(self) -> None:
        self.keys = [new_raw(), new_raw()]

    def advance(self) -> None:
        self.keys.append(new_raw())

    def env(self, fault: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
        env["IMPORTOBOT_ENCRYPTION_KEY"] = key_text(self.keys[-1])
        env["IMPORTOBOT_PREVIOUS_KEYS"] = ",".join(key_text(k) for k in reversed(self.keys[:-1]))
        if fault:
            env["IMPORTOBOT_FAULT"] = fault
        return env

    def any_key(self) -> CredentialManager:
        return CredentialManager(self.keys[-1], previous_keys=list(reversed(self.keys[:-1])))


def driver(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> int:
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode in (0, -signal.SIGKILL), err[-2000:]
    return proc.returncode


# -- stores under test ---------------------------------------------------------------------
class SQLiteCase:
    def __init__(self, tmp: Path, chain: Chain, n: int) -> None:
        self.plains = plaintexts(n)
        self.db = make_sqlite(tmp / "c.db", CredentialManager(chain.keys[0]), self.plains)

    def args(self, batch: int) -> list[str]:
        return ["sqlite", str(self.db), str(batch)]

    def check(self, manager: CredentialManager, sample: int | None = None) -> None:
        conn = sqlite3.connect(self.db)
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        conn.close()
        items = list(sqlite_values(self.db).items())
        assert len(items) == len(self.plains)
        if sample is not None:
            items = random.sample(items, sample)
        for i, v in items:
            assert manager.decrypt_bytes(str(v)) == self.plains[i - 1]


class FilesCase:
    def __init__(self, tmp: Path, chain: Chain, n: int, files: int = 20) -> None:
        old = CredentialManager(chain.keys[0])
        self.plains = plaintexts(n)
        per = n // files
        self.paths: list[Path] = []
        for f in range(files):
            path = tmp / f"s{f:02d}.env"
            chunk = self.plains[f * per : (f + 1) * per]
            if f % 2:
                text = "".join(old.encrypt_bytes(p).decode() + "\n" for p in chunk)
            else:
                text = "# dotenv\n" + "".join(
                    f'V{j}="{old.encrypt_bytes(p).decode()}"  # c\n' for j, p in enumerate(chunk)
                )
            path.write_text(text)
            path.chmod(0o640)
            self.paths.append(path)
        self.per = per
        self.tmp = tmp

    def args(self, batch: int) -> list[str]:
        return ["files", str(batch), *map(str, self.paths)]

    def check(self, manager: CredentialManager, sample: int | None = None) -> None:
        for f, path in enumerate(self.paths):
            data = path.read_bytes()
            spans = find_tokens(data)
            assert len(spans) == self.per, f"{path.name} is half-written"
            assert (path.stat().st_mode & 0o777) == 0o640
            idx = range(len(spans)) if sample is None else random.sample(range(len(spans)), 3)
            for j in idx:
                s, e = spans[j]
                assert manager.decrypt_bytes(data[s:e]) == self.plains[f * self.per + j]

    def leftovers(self) -> list[str]:
        return [p.name for p in self.tmp.iterdir() if ".importobot-tmp-" in p.name]


class PostgresCase:
    def __init__(self, dsn: str, chain: Chain, n: int) -> None:
        import psycopg

        self.dsn = dsn
        self.table = f"kill_{uuid.uuid4().hex[:8]}"
        self.plains = plaintexts(n)
        old = CredentialManager(chain.keys[0])
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {self.table} (id int PRIMARY KEY, secret text)")
            with conn.cursor().copy(f"COPY {self.table} (id, secret) FROM STDIN") as copy:
                for i, p in enumerate(self.plains, 1):
                    copy.write_row((i, old.encrypt_bytes(p).decode()))

    def args(self, batch: int) -> list[str]:
        return ["postgres", self.dsn, self.table, str(batch)]

    def check(self, manager: CredentialManager, sample: int | None = None) -> None:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(f"SELECT id, secret FROM {self.table}").fetchall()  # noqa: S608
        assert len(rows) == len(self.plains)
        if sample is not None:
            rows = random.sample(rows, sample)
        for i, v in rows:
            assert manager.decrypt_bytes(v) == self.plains[i - 1]

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {self.table}, {self.table}_j")


def _pg_dsn() -> str:
    dsn = os.environ.get("IMPORTOBOT_TEST_PG_DSN", "")
    ok = False
    if dsn:
        try:
            import psycopg

            psycopg.connect(dsn, connect_timeout=5).close()
            ok = True
        except Exception:  # noqa: BLE001
            ok = False
    require_service("PostgreSQL", ok, "set IMPORTOBOT_TEST_PG_DSN (scripts/test does)")
    return dsn


# -- named crash points ------------------------------------------------------------------
def crash_points(case: object, chain: Chain, points: tuple[str, ...], batch: int) -> None:
    check: Callable[..., None] = case.check  # type: ignore[attr-defined]
    args: list[str] = case.args(batch)  # type: ignore[attr-defined]
    for point in points:
        for n in range(1, HITS + 1):
            rc = finish(driver(args, chain.env(f"{point}:{n}")))
            assert rc == -signal.SIGKILL, f"{point}:{n} was never reached"
            check(chain.any_key(), sample=20)
        assert finish(driver(args, chain.env())) == 0
        check(only(chain.keys[-1]))
        chain.advance()


def test_crash_points_files(tmp_path: Path) -> None:
    chain = Chain()
    case = FilesCase(tmp_path, chain, 200, files=10)
    crash_points(case, chain, FILE_POINTS, 100)
    assert case.leftovers() == []


def test_crash_points_sqlite(tmp_path: Path) -> None:
    chain = Chain()
    case = SQLiteCase(tmp_path, chain, 300)
    crash_points(case, chain, SQL_POINTS + FILE_POINTS, 10)


def test_crash_points_postgres_client_death() -> None:
    dsn = _pg_dsn()
    chain = Chain()
    case = PostgresCase(dsn, chain, 300)
    try:
        crash_points(case, chain, SQL_POINTS, 10)
    finally:
        case.drop()


def test_every_crash_point_is_exercised() -> None:
    assert set(FILE_POINTS + SQL_POINTS) == set(CRASH_POINTS)


# -- random kills --------------------------------------------------------------------------
def _store_for(args: list[str]) -> object:
    from importobot_enterprise.key_rotation import FileStore, PostgresStore, SQLiteStore

    if args[0] == "sqlite":
        return [SQLiteStore(args[1], "creds", "id", "secret")]
    if args[0] == "files":
        return [FileStore(p) for p in args[2:]]
    return [PostgresStore(args[1], args[2], "id", "secret", journal_table=args[2] + "_j")]


def forked_run(args: list[str], chain: Chain) -> tuple[int, int]:
    """A rotation in a forked child process (no interpreter start-up to wait for).

    Returns (pid, fd): the child writes one byte to fd once its stores are open.
    """
    from importobot_enterprise.key_rotation import rotate_store

    batch = int(args[2] if args[0] == "sqlite" else args[1] if args[0] == "files" else args[3])
    target = chain.any_key()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: rotate, then leave without running the parent's exit handlers
        code = 1
        try:
            os.close(r)
            stores = _store_for(args)
            os.write(w, b"r")
            complete = True
            for store in stores:  # type: ignore[attr-defined]
                with store:
                    complete &= rotate_store(store, target, target, batch_size=batch).complete
            code = 0 if complete else 3
        except BaseException:  # noqa: BLE001
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def random_kills(case: object, chain: Chain, kills: int, batch: int, window: float) -> int:
    """SIGKILL runs at random instants after start-up; resume; return kills that landed."""
    check: Callable[..., None] = case.check  # type: ignore[attr-defined]
    args: list[str] = case.args(batch)  # type: ignore[attr-defined]
    rng = random.Random()
    landed = 0
    while landed < kills:
        pid, ready = forked_run(args, chain)
        os.read(ready, 1)  # stores opened
        os.close(ready)
        time.sleep(rng.uniform(0, window))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            assert os.WTERMSIG(status) == signal.SIGKILL
            landed += 1
            check(chain.any_key(), sample=10)
        else:
            assert os.WEXITSTATUS(status) == 0, "the rotation failed (see stderr)"
            chain.advance()  # that rotation finished: rotate again towards a fresh key
    # The last, uninterrupted run is a real new process, as a user would start it.
    assert finish(driver(args, chain.env())) == 0
    check(only(chain.keys[-1]))
    return landed


# Read at import: the autouse fixture of tests/conftest.py clears IMPORTOBOT_* variables
# (all but IMPORTOBOT_TEST_*) before each test runs.
SLOW_KILLS = int(os.environ.get("IMPORTOBOT_SLOW_COUNT", "") or 1000)


def _kill_count(slow: bool) -> int:
    return SLOW_KILLS if slow else DEFAULT_KILLS


def _sqlite_kills(tmp_path: Path, slow: bool) -> None:
    chain = Chain()
    case = SQLiteCase(tmp_path, chain, VALUES)
    assert random_kills(case, chain, _kill_count(slow), 250, 0.45) >= _kill_count(slow)


def _files_kills(tmp_path: Path, slow: bool) -> None:
    chain = Chain()
    case = FilesCase(tmp_path, chain, VALUES)
    assert random_kills(case, chain, _kill_count(slow), 500, 0.45) >= _kill_count(slow)
    assert case.leftovers() == []


def _postgres_kills(slow: bool) -> None:
    dsn = _pg_dsn()
    chain = Chain()
    case = PostgresCase(dsn, chain, VALUES)
    try:
        assert random_kills(case, chain, _kill_count(slow), 250, 0.45) >= _kill_count(slow)
    finally:
        case.drop()


def test_random_kills_sqlite(tmp_path: Path) -> None:
    _sqlite_kills(tmp_path, slow=False)


def test_random_kills_files(tmp_path: Path) -> None:
    _files_kills(tmp_path, slow=False)


def test_random_kills_postgres_client_death() -> None:
    _postgres_kills(slow=False)


@pytest.mark.slow
def test_random_kills_sqlite_slow(tmp_path: Path) -> None:
    _sqlite_kills(tmp_path, slow=True)


@pytest.mark.slow
def test_random_kills_files_slow(tmp_path: Path) -> None:
    _files_kills(tmp_path, slow=True)


@pytest.mark.slow
def test_random_kills_postgres_client_death_slow() -> None:
    _postgres_kills(slow=True)


# -- disk full (files), strace order ------------------------------------------------------
def test_files_disk_full_rlimit_fsize(tmp_path: Path) -> None:
    chain = Chain()
    old = CredentialManager(chain.keys[0])
    big = tmp_path / "big.txt"
    big.write_text("".join(old.encrypt_bytes(b"v%d" % i).decode() + "\n" for i in range(400)))
    before = big.read_bytes()
    limit = len(before) // 2

    def limit_fsize() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "rotate", "files", str(big)],
        capture_output=True,
        text=True,
        env=chain.env(),
        preexec_fn=limit_fsize,  # noqa: PLW1509
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "file too large" in proc.stderr or "disk full" in proc.stderr
    assert big.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".importobot-tmp-" in p.name]


def test_strace_write_fsync_rename_fsync_dir(tmp_path: Path) -> None:
    strace = shutil.which("strace")
    require_service("strace", strace is not None, "apt-get install strace (scripts/test)")
    assert strace is not None
    chain = Chain()
    target = tmp_path / "one.env"
    target.write_text(f"K={CredentialManager(chain.keys[0]).encrypt_bytes(b'x').decode()}\n")
    log = tmp_path / "strace.log"
    proc = subprocess.run(
        [
            strace,
            "-f",
            "-qq",
            "-o",
            str(log),
            "-e",
            "trace=openat,write,fsync,rename,renameat,renameat2,close",
            sys.executable,
            str(DRIVER),
            "files",
            "10",
            str(target),
        ],
        capture_output=True,
        text=True,
        env=chain.env(),
        timeout=120,
        check=False,
    )
    if proc.returncode != 0 and "PTRACE" in (proc.stderr or ""):
        require_service("strace", False, "ptrace is not permitted here")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = log.read_text().splitlines()
    tmp_name = f".{target.name}.importobot-tmp-"
    events: list[str] = []
    tmp_fd = dir_fd = None
    for line in lines:
        m = re.search(r'openat\(AT_FDCWD, "([^"]+)", ([^)]*)\) = (\d+)', line)
        if m and tmp_name in m.group(1) and "O_EXCL" in m.group(2):
            tmp_fd = m.group(3)
            events.append("open-tmp")
        elif m and m.group(1) == str(tmp_path) and "O_DIRECTORY" in m.group(2):
            dir_fd = m.group(3)
        elif tmp_fd and re.search(rf"\bwrite\({tmp_fd},", line) and events[-1:] == ["open-tmp"]:
            events.append("write")
        elif tmp_fd and re.search(rf"\bfsync\({tmp_fd}\)", line) and events[-1:] == ["write"]:
            events.append("fsync-tmp")
        elif re.search(
            rf'rename(at2?)?\(.*{re.escape(tmp_name)}\d+", .*"{re.escape(str(target))}"', line
        ):
            events.append("rename")
        elif dir_fd and re.search(rf"\bfsync\({dir_fd}\)", line) and events[-1:] == ["rename"]:
            events.append("fsync-dir")
            break
    assert events == ["open-tmp", "write", "fsync-tmp", "rename", "fsync-dir"], events
