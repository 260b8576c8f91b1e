"""docs/Key-Rotation.md, followed literally, rotates every store and retires the old key.

The test reads the ```bash blocks of the runbook's numbered sections (0. to 4.), in order,
and runs every line as written through ``bash -c``, with this environment's console
scripts first on PATH: ``importobot`` (and ``keyring``) as installed by ``uv sync``, each a
real process. Two paths, with the stores the runbook names (the files ``.env`` and
``config/tokens.txt``, the SQLite database ``app.db``, the PostgreSQL table
``public.credentials``):

* **env**: the keys live in ``IMPORTOBOT_ENCRYPTION_KEY`` and ``IMPORTOBOT_PREVIOUS_KEYS``,
  or ``IMPORTOBOT_PREVIOUS_KEYS_FILE`` (the runbook's ``# or …`` lines);
* **keyring**: ``IMPORTOBOT_KEYRING_SERVICE`` names an entry in the real Secret Service that
  ``scripts/test`` starts (gnome-keyring in a private D-Bus session).

A block is taken for one path only when the sentence leading it says so ("With the
keyring" / "With environment variables"); every other block is run on both. Where the
runbook offers two ways to retire (the fingerprint ``rotate`` printed, or the same with
``--store`` for every store), each variant below takes one of them.

What the test fills in, and nothing else (every other word is run as written):

* the DSN ``host=db.internal dbname=app user=rotator`` → the DSN of a database made for
  this test on the PostgreSQL server of ``scripts/test`` (IMPORTOBOT_TEST_PG_DSN with
  another ``dbname``); the runbook's table and journal names are used as written (the
  ``ops`` schema is made beforehand: the runbook says it must exist);
* ``iobfp1:0123456789abcdef`` → the one fingerprint the step-3 ``rotate`` runs printed
  after "retire it:" (the runbook: "A successful ``rotate`` prints the fingerprint to
  retire");
* the ``# NAME=<what>`` lines, which tell the reader to set a variable in the secret store
  (here: the environment of the lines that follow): ``<the old key>`` → the old key's
  text; ``<a file holding the old key, …>`` → a new 0600 file holding it; ``<the other
  previous keys, if any>`` → empty (there are none); ``<the same file, without the old
  key's line>`` → that file, rewritten without it;
* ``importobot key generate --format env`` prints ``IMPORTOBOT_ENCRYPTION_KEY=…``, which
  goes into the environment ("put the values straight into your secret store");
* ``pip install …`` is not run: the package under test is installed already, and the test
  never installs from the network (its form is checked instead).

Each run must end with the old key retired in the registry, every value in every store
under the new key (proved here by decrypting every token with the new key alone, outside
importobot's rotation code), every plaintext equal to the original and every other byte
of every value kept. No command but ``key generate`` may print a key.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from importobot.keys.fingerprint import fingerprint
from importobot.keys.registry import Registry
from importobot.security import CredentialManager
from importobot.security.key_validation import parse_key
from tests.conftest import require_service
from tests.enterprise.helpers import key_text
from tests.keygen import contains_key, new_raw

DOC = Path(__file__).resolve().parents[2] / "docs" / "Key-Rotation.md"
#: The console scripts of this environment (``uv sync`` installs them beside python).
BIN = Path(sys.executable).parent
#: The runbook's example DSN and fingerprint, filled in by the test (see the docstring).
DOC_DSN = "host=db.internal dbname=app user=rotator"
DOC_FINGERPRINT = "iobfp1:0123456789abcdef"
#: A Fernet token, found independently of importobot's own token finder.
TOKEN_RE = re.compile(r"gAAAAA[A-Za-z0-9_-]+={0,2}")
INSTRUCTION_RE = re.compile(r"^#\s*(or\s+)?(IMPORTOBOT_[A-Z_]+)=(<[^>]*>)?\s*(\(.*\))?$")
FP_RE = re.compile(r"iobfp1:[0-9a-f]{16}")


# -- the runbook, parsed ----------------------------------------------------------------
@dataclass
class Block:
    section: str
    lead: str
    lines: list[str]

    @property
    def only_for(self) -> str | None:
        """The path this block is for, when the sentence leading it names one."""
        if self.lead.startswith("With the keyring"):
            return "keyring"
        if self.lead.startswith("With environment variables"):
            return "env"
        return None


def runbook_blocks() -> list[Block]:
    """The ```bash blocks of sections "0." to "4.", in order, with the paragraph before each."""
    blocks: list[Block] = []
    section = ""
    paragraph: list[str] = []  # the text lines since the last blank line
    lead = ""  # the last paragraph before a block
    lines = DOC.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
            paragraph, lead = [], ""
        elif line.startswith("```"):
            end = lines.index("```", i + 1)
            if line == "```bash" and re.match(r"\d+\. ", section):
                blocks.append(Block(section, " ".join(paragraph) or lead, lines[i + 1 : end]))
            paragraph, lead = [], ""
            i = end
        elif not line.strip():
            if paragraph:
                paragraph, lead = [], " ".join(paragraph)
        else:
            paragraph.append(line.strip())
        i += 1
    return blocks


# -- stores -------------------------------------------------------------------------------
@dataclass
class Value:
    """One stored value: where it is, its text, and the plaintexts of its tokens in order."""

    where: str
    text: str
    plains: list[bytes]


def split_tokens(text: str) -> tuple[list[str], str]:
    """(the tokens in ``text``, ``text`` with each token replaced by a marker)."""
    return TOKEN_RE.findall(text), TOKEN_RE.sub("\x00TOKEN\x00", text)


@dataclass
class Stores:
    """The runbook's stores, filled under the old key."""

    cwd: Path
    dsn: str | None
    values: list[Value] = field(default_factory=list)

    def fill(self, old: CredentialManager, *, journal_schema: bool = True) -> None:
        counter = iter(range(1_000_000))

        def tok() -> tuple[str, bytes]:
            plain = f"secret-{next(counter)}-{uuid.uuid4().hex}".encode()
            return old.encrypt_bytes(plain).decode(), plain

        def row(kind: str) -> tuple[str | None, list[bytes]]:
            if kind == "null":
                return None, []
            if kind == "json":  # a JSON document holding several tokens
                (a, pa), (b, pb), (c, pc) = tok(), tok(), tok()
                text = f'{{"user": "svc", "token": "{a}", "backup": ["{b}", "{c}"]}}'
                return text, [pa, pb, pc]
            t, p = tok()
            return t, [p]

        kinds = ["token", "json", "token", "null", "token", "token", "json", "token"]
        (self.cwd / "config").mkdir()
        db = sqlite3.connect(self.cwd / "app.db")
        db.execute("CREATE TABLE credentials (id INTEGER PRIMARY KEY, name TEXT, secret TEXT)")
        for i, kind in enumerate(kinds, 1):
            text, plains = row(kind)
            db.execute("INSERT INTO credentials VALUES (?, ?, ?)", (i, f"n{i}", text))
            if text is not None:
                self.values.append(Value(f"sqlite:{i}", text, plains))
        db.commit()
        db.close()
        (t1, p1), (t2, p2) = tok(), tok()
        env = f'# app settings\nDEBUG=1\nDB_PASSWORD={t1}\nAPI_TOKEN="{t2}"\n'
        (self.cwd / ".env").write_text(env, encoding="utf-8")
        self.values.append(Value("file:.env", env, [p1, p2]))
        made = [tok() for _ in range(3)]
        tokens = "".join(f"{t}\n" for t, _ in made)
        (self.cwd / "config" / "tokens.txt").write_text(tokens, encoding="utf-8")
        self.values.append(Value("file:config/tokens.txt", tokens, [p for _, p in made]))
        if self.dsn is not None:
            import psycopg

            with psycopg.connect(self.dsn, autocommit=True) as conn:
                if journal_schema:  # the runbook: the journal table's schema must exist
                    conn.execute("CREATE SCHEMA ops")
                conn.execute("CREATE TABLE public.credentials (id bigint PRIMARY KEY, secret text)")
                for i, kind in enumerate(kinds, 1):
                    text, plains = row(kind)
                    conn.execute("INSERT INTO public.credentials VALUES (%s, %s)", (i, text))
                    if text is not None:
                        self.values.append(Value(f"postgresql:{i}", text, plains))

    def read(self) -> dict[str, str]:
        """Every stored value now, by the same names as :attr:`values`."""
        out: dict[str, str] = {}
        db = sqlite3.connect(self.cwd / "app.db")
        try:
            for i, text in db.execute("SELECT id, secret FROM credentials ORDER BY id"):
                if text is not None:
                    out[f"sqlite:{i}"] = text
        finally:
            db.close()
        for name in (".env", "config/tokens.txt"):
            out[f"file:{name}"] = (self.cwd / name).read_text(encoding="utf-8")
        if self.dsn is not None:
            import psycopg

            with psycopg.connect(self.dsn) as conn:
                rows = conn.execute("SELECT id, secret FROM public.credentials ORDER BY id")
                for i, text in rows.fetchall():
                    if text is not None:
                        out[f"postgresql:{i}"] = text
        return out

    def snapshot(self) -> tuple[object, ...]:
        """Everything a command that changes nothing must leave as it was: the values, the
        files in the working directory, and the PostgreSQL tables."""
        files = sorted(
            (str(p.relative_to(self.cwd)), p.read_bytes())
            for p in self.cwd.rglob("*")
            if p.is_file() and ".git" not in p.parts
        )
        tables: list[tuple[str, str]] = []
        if self.dsn is not None:
            import psycopg

            with psycopg.connect(self.dsn) as conn:
                q = "SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN (%s, %s)"
                tables = sorted(conn.execute(q, ("public", "ops")).fetchall())
        return (self.read(), files, tables)

    def prove_under(self, raw: bytes, old_raw: bytes) -> None:
        """Every token opens under ``raw`` alone, to the original plaintext; every other
        byte of every value is kept; and the old key opens none of them."""
        from cryptography.fernet import Fernet, InvalidToken

        new_only, old_only = Fernet(key_text(raw)), Fernet(key_text(old_raw))
        now = self.read()
        assert sorted(now) == sorted(v.where for v in self.values)
        for value in self.values:
            tokens, rest = split_tokens(now[value.where])
            old_tokens, old_rest = split_tokens(value.text)
            assert rest == old_rest, f"{value.where}: bytes around the tokens changed"
            assert len(tokens) == len(old_tokens) == len(value.plains), value.where
            for token, plain in zip(tokens, value.plains, strict=True):
                assert new_only.decrypt(token) == plain, value.where
                with pytest.raises(InvalidToken):
                    old_only.decrypt(token)


# -- one literal run -------------------------------------------------------------------
def _safe(text: str, *raws: bytes) -> str:
    """``text`` for an assertion message, unless it holds a key."""
    return "<output withheld: it holds a key>" if any(contains_key(text, r) for r in raws) else text


class Hidden:
    """Output that may hold a key: its repr (in a failing test's traceback) hides it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return "<hidden>"


@dataclass(repr=False)
class Run:
    path: str  # "env" or "keyring"
    previous_via: str | None  # env path: IMPORTOBOT_PREVIOUS_KEYS or IMPORTOBOT_PREVIOUS_KEYS_FILE
    retire_with: str  # "fingerprint" or "stores"
    cwd: Path
    env: dict[str, str]
    old_raw: bytes
    stores: Stores
    dsn: str | None
    service: str | None = None
    new_raw: bytes | None = None
    retire_fps: set[str] = field(default_factory=set)
    ran: list[str] = field(default_factory=list)
    status_calls: int = 0
    before: tuple[object, ...] = ()

    def __repr__(self) -> str:  # never the environment (it holds the keys)
        return f"Run({self.path}, {self.previous_via}, retire with {self.retire_with})"

    @property
    def old_fp(self) -> str:
        return fingerprint(self.old_raw)

    @property
    def new_fp(self) -> str:
        assert self.new_raw is not None, "no new key yet: the runbook has not made one"
        return fingerprint(self.new_raw)

    def keys(self) -> tuple[bytes, ...]:
        return (self.old_raw,) if self.new_raw is None else (self.old_raw, self.new_raw)

    # -- the runbook's lines ------------------------------------------------------------
    def follow(self, blocks: list[Block]) -> None:
        for block in blocks:
            if block.only_for not in (None, self.path):
                continue
            commands = [ln.strip() for ln in block.lines if ln.strip()]
            if any(c.startswith("importobot key retire ") for c in commands):
                form = "stores" if any("--store" in c for c in commands) else "fingerprint"
                if form != self.retire_with:
                    continue  # the other way to retire: a reader takes one of the two
            self.instructions([c for c in commands if c.startswith("#")])
            for line in commands:
                if line.startswith("#"):
                    continue
                if line.startswith("pip install "):
                    self.check_install(line)
                    continue
                self.command(line)

    def instructions(self, lines: list[str]) -> None:
        """``# NAME=<what>`` lines, ``# or NAME=<what>`` giving another way: set one."""
        if not lines:
            return
        parsed = []
        for line in lines:
            m = INSTRUCTION_RE.match(line)
            assert m, f"the test does not know what the runbook line {line!r} asks the reader"
            parsed.append((m.group(2), m.group(3) or ""))
        assert self.path == "env", f"a keyring-path block holds {lines}"
        chosen = [(name, what) for name, what in parsed if name == self.previous_via]
        assert len(chosen) == 1, (lines, self.previous_via)
        name, what = chosen[0]
        self.fill_variable(name, what)
        self.ran.append(f"# {name}={what}")

    def fill_variable(self, name: str, what: str) -> None:
        keys_file = self.cwd.parent / "secrets" / "previous-keys"
        if what == "<the old key>":
            self.env[name] = key_text(self.old_raw)
        elif what.startswith("<a file holding the old key"):
            keys_file.parent.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(key_text(self.old_raw) + "\n")
            self.env[name] = str(keys_file)
        elif what == "<the other previous keys, if any>":
            self.env[name] = ""  # the old key was the only one
        elif what == "<the same file, without the old key's line>":
            kept = [
                ln
                for ln in keys_file.read_text(encoding="utf-8").splitlines()
                if ln.strip() != key_text(self.old_raw)
            ]
            keys_file.write_text("".join(f"{ln}\n" for ln in kept), encoding="utf-8")
            self.env[name] = str(keys_file)
        else:
            raise AssertionError(f"the test does not know how to fill {name}={what}")

    def check_install(self, line: str) -> None:
        # Not run (see the docstring); but it must not send the reader to the public
        # index's unrelated 0.1.x `importobot`.
        assert "importobot" in line and ("@ git+" in line or "'.[" in line), line
        self.ran.append(f"(not run) {line}")

    def fill(self, line: str) -> str:
        filled = line.replace(DOC_DSN, self.dsn or DOC_DSN)
        if DOC_FINGERPRINT in filled:
            assert len(self.retire_fps) == 1, (
                f"rotate printed {sorted(self.retire_fps)} to retire; the runbook names one key"
            )
            filled = filled.replace(DOC_FINGERPRINT, next(iter(self.retire_fps)))
        assert "<" not in filled and "db.internal" not in filled, f"unfilled: {line}"
        return filled

    def command(self, line: str) -> None:
        filled = self.fill(line)
        self.before = self.stores.snapshot()  # for the commands that must change nothing
        proc = subprocess.run(
            ["bash", "-c", filled],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.ran.append(filled)
        out = proc.stdout + proc.stderr
        shown = f"`{line}` exited {proc.returncode}:\n{_safe(out, *self.keys())}"
        assert "Traceback" not in out, shown
        bare = filled.split(" #", 1)[0].rstrip()  # bash drops the comment too
        rc = proc.returncode
        if bare.startswith("importobot key generate"):
            ok = rc == 0 and not proc.stderr.strip()
            assert ok, shown
            self.took_generated_key(bare, Hidden(proc.stdout))
            return
        leaked = any(contains_key(out, raw) for raw in self.keys())
        assert not leaked, f"`{line}` printed a key"
        if rc == 1 and bare == "importobot key status" and self.new_raw is None:
            # Step 0 with a key past its rotation date (the reason to rotate): exit 1.
            assert "IOB301 key-rotation-due" in proc.stdout, shown
        else:
            assert rc == 0, shown
        self.expect(bare, proc.stdout, shown)

    def took_generated_key(self, line: str, stdout: Hidden) -> None:
        assert line == "importobot key generate --format env", line
        out = stdout.text.splitlines()
        one = len(out) == 1 and out[0].startswith("IMPORTOBOT_ENCRYPTION_KEY=")
        assert one, "key generate --format env printed something other than one assignment"
        name, _, value = out[0].partition("=")
        self.new_raw = parse_key(value)
        self.env[name] = value  # "put the values straight into your secret store"

    def expect(self, line: str, stdout: str, shown: str) -> None:
        """What each runbook command must have done, beyond exit 0 and no key printed."""
        expectations: list[tuple[str, Callable[[str, str, str], None]]] = [
            (r"importobot key status$", self.after_status),
            (r"importobot key store --generate --overwrite$", self.after_store),
            (r"importobot key register$", self.after_register),
            (r"importobot rotate .* --dry-run$", self.after_dry_run),
            (r"importobot rotate .* --verify$", self.after_verify),
            (r"importobot rotate (sqlite|postgresql|files) ", self.after_rotate),
            (r"importobot key retire ", self.after_retire),
            (r"keyring del ", self.after_keyring_del),
        ]
        for pattern, check in expectations:
            if re.match(pattern, line):
                check(line, stdout, shown)
                return
        raise AssertionError(f"the test does not know what `{line}` should do: teach it")

    def after_status(self, line: str, stdout: str, shown: str) -> None:
        self.status_calls += 1
        if self.new_raw is None:  # step 0: the old key is the active key
            assert f"fingerprint  {self.old_fp}" in stdout, shown
            return
        # The last check: the new key alone, nothing retired still configured.
        assert f"fingerprint  {self.new_fp}" in stdout, shown
        assert "previous " not in stdout and "IOB305" not in stdout, shown

    def after_store(self, line: str, stdout: str, shown: str) -> None:
        from importobot.security.key_sources import keyring_get

        assert self.service is not None
        stored = keyring_get(self.service, "importobot")
        assert stored is not None
        self.new_raw = parse_key(stored)
        assert self.new_raw != self.old_raw
        assert f"stored key {self.new_fp} in keyring {self.service}/importobot" in stdout, shown
        assert f"stays readable in {self.service}/importobot.previous" in stdout, shown
        assert keyring_get(self.service, "importobot.previous") == key_text(self.old_raw)

    def after_register(self, line: str, stdout: str, shown: str) -> None:
        assert f"registered {self.new_fp}" in stdout, shown

    def after_dry_run(self, line: str, stdout: str, shown: str) -> None:
        assert "plan for " in stdout and f"from {self.old_fp}:" in stdout, shown
        assert self.stores.snapshot() == self.before, f"`{line}` changed something"

    def after_verify(self, line: str, stdout: str, shown: str) -> None:
        assert f"verified: every value is under {self.new_fp}." in stdout, shown
        assert self.stores.snapshot() == self.before, f"`{line}` changed something"

    def after_rotate(self, line: str, stdout: str, shown: str) -> None:
        assert f"verified: every value is under {self.new_fp}." in stdout, shown
        printed = set(re.findall(r"^  importobot key retire (iobfp1:[0-9a-f]{16})$", stdout, re.M))
        assert printed == {self.old_fp}, shown
        self.retire_fps |= printed

    def after_retire(self, line: str, stdout: str, shown: str) -> None:
        assert re.search(rf"^retired {self.old_fp} in ", stdout, re.M), shown

    def after_keyring_del(self, line: str, stdout: str, shown: str) -> None:
        from importobot.security.key_sources import keyring_get

        assert self.service is not None
        assert keyring_get(self.service, "importobot.previous") is None
        active = keyring_get(self.service, "importobot")
        assert active is not None and parse_key(active) == self.new_raw


# -- fixtures -------------------------------------------------------------------------
@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A database of its own on the scripts/test server (the runbook's names, as written)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    base = os.environ.get("IMPORTOBOT_TEST_PG_DSN", "")
    why = "set IMPORTOBOT_TEST_PG_DSN (scripts/test does)"
    try:
        if base:
            psycopg.connect(base, connect_timeout=5).close()
    except psycopg.Error as exc:
        why = f"{type(exc).__name__}"
        base = ""
    require_service("PostgreSQL", bool(base), why)
    name = f"iob_runbook_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(base, dbname=name)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def keyring_service() -> Iterator[str]:
    from importobot.security.key_sources import keyring_delete
    from tests.security.test_keyring import _secret_service_ready

    ok, why = _secret_service_ready()
    require_service("Secret Service", ok, why)
    name = f"importobot-runbook-{uuid.uuid4().hex[:8]}"
    yield name
    for user in ("importobot", "importobot.previous"):
        keyring_delete(name, user)


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    for script in ("importobot", "keyring"):
        found = shutil.which(script, path=env["PATH"])
        assert found == str(BIN / script), f"{script} is not installed in {BIN}: uv sync first"
    return env


#: Both paths and both ways to retire run by default (about 4 s for the env path and 8 s for
#: the keyring path on 2 busy cores); the other two pairings in the slow run.
VARIANTS = [
    pytest.param("env", "IMPORTOBOT_PREVIOUS_KEYS", "fingerprint", id="env-variable"),
    pytest.param("keyring", None, "stores", id="keyring-retire-stores"),
    pytest.param(
        "env",
        "IMPORTOBOT_PREVIOUS_KEYS_FILE",
        "stores",
        id="env-file-retire-stores",
        marks=pytest.mark.slow,
    ),
    pytest.param("keyring", None, "fingerprint", id="keyring", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("path", "previous_via", "retire_with"), VARIANTS)
def test_the_runbook_followed_literally(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    pg_dsn: str,
    path: str,
    previous_via: str | None,
    retire_with: str,
) -> None:
    cwd = tmp_path / "project"
    cwd.mkdir()
    (cwd / ".git").mkdir()  # the repository root: the key registry lives here
    env = _base_env()
    old_raw = new_raw()
    service: str | None = None
    if path == "keyring":
        from importobot.security import store_key_in_keyring

        service = request.getfixturevalue("keyring_service")
        store_key_in_keyring(service=service, key=key_text(old_raw))
        env["IMPORTOBOT_KEYRING_SERVICE"] = service
        # This operator registered the old key when it was made; the env-path ones did not
        # (retiring must record it then).
        reg = Registry(str(cwd / ".importobot-keys.toml"))
        reg.register(fingerprint(old_raw), datetime.now(timezone.utc) - timedelta(days=100))
        reg.save()
    else:
        env["IMPORTOBOT_ENCRYPTION_KEY"] = key_text(old_raw)
    stores = Stores(cwd, pg_dsn)
    stores.fill(CredentialManager(old_raw, previous_keys=[]))
    run = Run(path, previous_via, retire_with, cwd, env, old_raw, stores, pg_dsn, service)
    run.follow(runbook_blocks())

    # Every step of the runbook ran: a status before and after, three dry runs, three
    # rotations, three verifications, one retirement.
    ran = [c for c in run.ran if c.startswith("importobot ")]
    assert run.status_calls == 2, run.ran
    for mode, count in (("--dry-run", 3), ("--verify", 3)):
        assert sum(c.startswith("importobot rotate ") and c.endswith(mode) for c in ran) == count
    assert sum(c.startswith("importobot key retire ") for c in ran) == 1
    for kind in ("sqlite", "postgresql", "files"):
        assert any(c.startswith(f"importobot rotate {kind} ") for c in ran), kind

    # The old key is retired in the registry; the new key is registered and active.
    assert run.new_raw is not None
    registry = Registry.load(str(cwd / ".importobot-keys.toml"))
    old_record = registry.get(run.old_fp)
    assert old_record is not None and old_record.retired is not None
    new_record = registry.get(run.new_fp)
    assert new_record is not None and new_record.created is not None
    assert new_record.retired is None
    # Every value is under the new key alone, nothing lost, every other byte kept.
    stores.prove_under(run.new_raw, old_raw)


def test_the_runbook_blocks_are_all_understood() -> None:
    """Each block of sections 0-4 is for both paths or names one; the retire alternatives
    and the environment instructions are where the literal run expects them."""
    blocks = runbook_blocks()
    assert [b.section[:2] for b in blocks][0] == "0."
    assert {b.only_for for b in blocks} == {None, "env", "keyring"}
    retires = [b for b in blocks if any("key retire" in ln for ln in b.lines)]
    assert len(retires) == 2 and sum("--store" in " ".join(b.lines) for b in retires) == 1
    for b in blocks:
        for ln in b.lines:
            if ln.strip().startswith("#"):
                assert b.only_for == "env" and INSTRUCTION_RE.match(ln.strip()), ln


def test_the_runbook_cites_no_internal_design_number() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert not re.findall(r"\bD\d{1,2}\b", text)
    assert "DESIGN" not in text


def test_a_missing_journal_schema_is_one_line(tmp_path: Path, pg_dsn: str) -> None:
    """The runbook's PostgreSQL `rotate` line on a database without the `ops` schema (which
    the runbook says must exist): exit 2, one line naming the schema, nothing changed."""
    (line,) = [
        ln
        for b in runbook_blocks()
        if b.section.startswith("3.")
        for ln in b.lines
        if ln.startswith("importobot rotate postgresql ")
    ]
    assert "--journal-table ops." in line
    cwd = tmp_path / "project"
    cwd.mkdir()
    old, new = new_raw(), new_raw()
    stores = Stores(cwd, pg_dsn)
    stores.fill(CredentialManager(old, previous_keys=[]), journal_schema=False)
    before = stores.snapshot()
    env = _base_env()
    env.update(IMPORTOBOT_ENCRYPTION_KEY=key_text(new), IMPORTOBOT_PREVIOUS_KEYS=key_text(old))
    proc = subprocess.run(
        ["bash", "-c", line.replace(DOC_DSN, pg_dsn)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == "" and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert 'schema "ops" does not exist' in proc.stderr and "ops.importobot_rotation" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert stores.snapshot() == before


def test_the_runbook_checks_are_not_fooled_by_the_keyrings_previous_entry(
    tmp_path: Path, pg_dsn: str, keyring_service: str
) -> None:
    """Step 4 for keyring users, before any rotation: the old key sits in the keyring's
    `.previous` entry and opens every value, yet each `--verify` line exits 1 and the
    `key retire … --store …` line refuses (exit 2, nothing recorded)."""
    from importobot.security import store_key_in_keyring

    cwd = tmp_path / "project"
    cwd.mkdir()
    (cwd / ".git").mkdir()
    old, new = new_raw(), new_raw()
    store_key_in_keyring(service=keyring_service, key=key_text(old))
    store_key_in_keyring(service=keyring_service, key=key_text(new), overwrite=True)
    stores = Stores(cwd, pg_dsn)
    stores.fill(CredentialManager(old, previous_keys=[]))
    before = stores.snapshot()
    env = _base_env()
    env["IMPORTOBOT_KEYRING_SERVICE"] = keyring_service
    step4 = [ln for b in runbook_blocks() if b.section.startswith("4.") for ln in b.lines]
    verify = [ln for ln in step4 if ln.startswith("importobot rotate ") and "--verify" in ln]
    (retire,) = [ln for ln in step4 if ln.startswith("importobot key retire ") and "--store" in ln]
    assert len(verify) == 3
    for line in [*verify, retire]:
        filled = line.replace(DOC_DSN, pg_dsn).replace(DOC_FINGERPRINT, fingerprint(old))
        proc = subprocess.run(
            ["bash", "-c", filled],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        out = proc.stdout + proc.stderr
        assert not contains_key(out, old) and not contains_key(out, new), line
        if line is retire:
            assert proc.returncode == 2 and "still encrypts values" in proc.stderr, out
        else:
            assert proc.returncode == 1 and f"NOT under {fingerprint(new)}" in proc.stdout, out
    assert stores.snapshot() == before
    assert not (cwd / ".importobot-keys.toml").exists()
