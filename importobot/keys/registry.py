"""The key registry (D19): a committed file of fingerprints with created / retired dates.

``.importobot-keys.toml`` at the repository root holds one ``[[key]]`` table per key::

    version = 2

    [[key]]
    fingerprint = "iobfp1:0123456789abcdef"
    created = 2026-08-01T09:30:00Z
    retired = 2026-11-01T00:00:00Z       # optional
    compromised = 2026-10-02T08:00:00Z   # optional (version 2): the key was exposed
    note = "production"                  # optional

``created`` may be left out only for a retired or compromised key whose creation date is
unknown (a key that was never registered while it was active, recorded by ``importobot
key retire`` or ``importobot fix``). A file without ``version`` is a version 1 registry
and loads as before; the next write adds ``version = 2``. A compromised key makes IOB204
fire wherever it is still configured, until it is rotated out and retired.

Tables are sorted by fingerprint so diffs and merges stay clean. Only fingerprints
are stored, never keys: a registry holding anything key-shaped is refused. Every
error names the file and line (exit 2).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from importobot._record import Record, replace
from importobot._version import DOCS_URL
from importobot.config import line_of
from importobot.exceptions import ConfigError
from importobot.keys.age import parse_timestamp
from importobot.keys.fingerprint import is_fingerprint
from importobot.keys.material import (
    KEY_SIZES,
    decode_key_text,
    find_key_material,
    is_random_opaque,
    weakness,
)

__all__ = ["REGISTRY_FILE", "REGISTRY_VERSION", "KeyRecord", "Registry"]

REGISTRY_FILE = ".importobot-keys.toml"
#: The version this code writes; version 1 files (no ``version`` line) still load.
REGISTRY_VERSION = 2
_FIELDS = ("fingerprint", "created", "retired", "compromised", "note")
_HEADER = (
    "# importobot key registry: fingerprints and dates only, never keys (safe to commit).\n"
    "# Written by `importobot key register` / `key retire` / `fix`; see\n"
    f"# {DOCS_URL}/registry.md\n"
)
_KEYISH_RE = re.compile(r"[A-Za-z0-9+/_=:-]{32,}")
#: Largest registry read (about 10,000 keys).
_MAX_BYTES = 1024 * 1024


class KeyRecord(Record):
    """One registered key: fingerprint, created, retired, compromised (or ``None``), note.

    ``created`` is ``None`` only for a retired or compromised key whose creation date is
    unknown. Frozen: :class:`Registry` replaces a record to change it.
    """

    fingerprint: str
    created: datetime | None
    retired: datetime | None = None
    note: str | None = None
    compromised: datetime | None = None

    def __repr__(self) -> str:
        created = self.created.isoformat() if self.created else None
        return f"KeyRecord({self.fingerprint!r}, created={created})"

    def to_dict(self) -> dict[str, str | None]:
        """JSON-ready form."""
        return {
            "fingerprint": self.fingerprint,
            "created": _fmt(self.created) if self.created else None,
            "retired": _fmt(self.retired) if self.retired else None,
            "compromised": _fmt(self.compromised) if self.compromised else None,
            "note": self.note,
        }


def _fmt(stamp: datetime) -> str:
    return stamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _toml_string(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    out = "".join(c if c >= " " or c == "\t" else f"\\u{ord(c):04x}" for c in out)
    return f'"{out}"'


def _load_toml(path: str, text: str) -> dict[str, object]:
    from importobot._toml import TomlError, loads

    try:
        return loads(text)
    except TomlError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


class Registry:
    """The registry file of one repository, loaded and validated."""

    def __init__(self, path: str, records: dict[str, KeyRecord] | None = None) -> None:
        self.path = path
        self.records: dict[str, KeyRecord] = dict(records or {})

    # -- loading -------------------------------------------------------------------
    @classmethod
    def load(cls, path: str, *, now: datetime | None = None, missing_ok: bool = True) -> Registry:
        """Read and validate ``path``; a missing file is an empty registry if ``missing_ok``.

        The registry is repository content: read through :func:`importobot.fsio.read_content`
        (a symbolic link, a FIFO or a device is refused, at most ``_MAX_BYTES`` read).
        """
        from importobot.fsio import FileRefused, read_content

        try:
            text = read_content(path, _MAX_BYTES).decode("utf-8")
        except FileRefused as exc:
            if exc.reason == "missing":
                if missing_ok:
                    return cls(path)
                raise ConfigError(
                    f"{path}: no key registry (run `importobot key register`)"
                ) from None
            raise ConfigError(f"cannot read the key registry: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: cannot read the key registry: not UTF-8 text") from None
        return cls.parse(path, text, now=now)

    @classmethod
    def parse(cls, path: str, text: str, *, now: datetime | None = None) -> Registry:
        """Validate registry text (D19); errors name ``path`` and the line."""
        lines = text.splitlines()
        for number, line in enumerate(lines, 1):
            body = line.split("#", 1)[0]
            for m in _KEYISH_RE.finditer(body):
                if _key_shaped(m.group(0)):
                    raise ConfigError(
                        f"{path}:{number}: holds a long key-shaped value; the registry "
                        f"stores fingerprints only (`importobot key status` shows them)"
                    )
        document = _load_toml(path, text)
        starts = [n for n, line in enumerate(lines, 1) if line.strip().startswith("[[key]]")]
        version = document.get("version", 1)
        if isinstance(version, bool) or version not in (1, REGISTRY_VERSION):
            where = line_of(lines, "version", 1, len(lines))
            raise ConfigError(
                f"{path}:{where}: unsupported registry version {_shown(version)} (this importobot "
                f"reads versions 1 and {REGISTRY_VERSION}; upgrade importobot)"
            )
        extra = set(document) - {"key", "version"}
        if extra:
            name = sorted(extra)[0]
            where = line_of(lines, name, 1, len(lines))
            raise ConfigError(f"{path}:{where}: unknown entry {_shown(name, name=True)}")
        tables = document.get("key", [])
        if not isinstance(tables, list):
            raise ConfigError(f"{path}: `key` must be an array of tables ([[key]])")
        records: dict[str, KeyRecord] = {}
        current = now or datetime.now(timezone.utc)
        for index, table in enumerate(tables):
            start = starts[index] if index < len(starts) else 1
            end = starts[index + 1] - 1 if index + 1 < len(starts) else len(lines)
            record = _record(path, lines, start, end, table, current)
            previous = records.get(record.fingerprint)
            if previous is not None and previous != record:
                raise ConfigError(
                    f"{path}:{start}: fingerprint {record.fingerprint} is listed twice "
                    f"with different data"
                )
            records[record.fingerprint] = record
        return cls(path, records)

    # -- queries -------------------------------------------------------------------
    def get(self, fingerprint: str) -> KeyRecord | None:
        """The record of ``fingerprint`` or ``None``."""
        return self.records.get(fingerprint)

    # -- changes -------------------------------------------------------------------
    def register(self, fingerprint: str, created: datetime, note: str | None = None) -> bool:
        """Add a key; ``False`` when it is already registered with the same date."""
        if not is_fingerprint(fingerprint):
            raise ConfigError(f"not an importobot fingerprint: {_shown(fingerprint)}")
        record = self.records.get(fingerprint)
        if record is not None:
            if record.created == created:
                return False
            known = f"created {_fmt(record.created)}" if record.created else "retired"
            raise ConfigError(
                f"{self.path}: {fingerprint} is already registered ({known}); "
                f"edit the file to change its date"
            )
        self.records[fingerprint] = KeyRecord(fingerprint, created, None, note)
        return True

    def retire(self, fingerprint: str, when: datetime) -> None:
        """Mark a key retired at ``when``."""
        record = self.records.get(fingerprint)
        if record is None:
            raise ConfigError(f"{self.path}: {_shown(fingerprint, quoted=False)} is not registered")
        if record.created is not None and when < record.created:
            raise ConfigError(f"{self.path}: {fingerprint} cannot retire before it was created")
        self.records[fingerprint] = replace(record, retired=when)

    def mark_compromised(self, fingerprint: str, when: datetime, note: str | None = None) -> bool:
        """Record that a key was exposed at ``when`` (added, creation unknown, if new).

        Returns ``False`` when it was already marked compromised (the first date stays).
        """
        if not is_fingerprint(fingerprint):
            raise ConfigError(f"not an importobot fingerprint: {_shown(fingerprint)}")
        record = self.records.get(fingerprint)
        if record is None:
            self.records[fingerprint] = KeyRecord(fingerprint, None, None, note, when)
            return True
        if record.compromised is not None:
            return False
        if record.created is not None and when < record.created:
            when = record.created
        if note and not record.note:
            record = replace(record, note=note)
        self.records[fingerprint] = replace(record, compromised=when)
        return True

    def add_retired(self, fingerprint: str, when: datetime, note: str) -> None:
        """Record a key that was never registered as retired at ``when``, creation unknown."""
        if not is_fingerprint(fingerprint):
            raise ConfigError(f"not an importobot fingerprint: {_shown(fingerprint)}")
        if fingerprint in self.records:
            raise ConfigError(f"{self.path}: {fingerprint} is already registered")
        self.records[fingerprint] = KeyRecord(fingerprint, None, when, note)

    def dumps(self) -> str:
        """The file text: header, then one ``[[key]]`` table per key, sorted by fingerprint."""
        parts = [_HEADER, f"\nversion = {REGISTRY_VERSION}\n"]
        for fp in sorted(self.records):
            rec = self.records[fp]
            parts.append("\n[[key]]\n")
            parts.append(f"fingerprint = {_toml_string(rec.fingerprint)}\n")
            if rec.created is not None:
                parts.append(f"created = {_fmt(rec.created)}\n")
            if rec.retired is not None:
                parts.append(f"retired = {_fmt(rec.retired)}\n")
            if rec.compromised is not None:
                parts.append(f"compromised = {_fmt(rec.compromised)}\n")
            if rec.note:
                parts.append(f"note = {_toml_string(rec.note)}\n")
        return "".join(parts)

    def save(self) -> None:
        """Write crash-safely (D22: temp file, fsync, rename, fsync of the directory)."""
        from importobot.fsio import replace_file_durably

        replace_file_durably(self.path, self.dumps().encode("utf-8"))


def _shown(value: object, *, quoted: bool = True, name: bool = False) -> str:
    """``value`` for an error message: never key material (a key pasted into a field
    name, a date or a fingerprint argument, whole or split over lines). ``name``: an
    identifier (see :func:`find_key_material`)."""
    if isinstance(value, str):
        fp = find_key_material(value, name=name)
        if fp is not None:
            return f"<key-shaped value {fp}>"
        return repr(value) if quoted else value
    return repr(value)


def _key_shaped(text: str) -> bool:
    if is_fingerprint(text):
        return False
    decoded = decode_key_text(text)
    if decoded is not None and len(decoded.key_bytes) in KEY_SIZES:
        return weakness(decoded.key_bytes) is None
    return is_random_opaque(text)


def _record(
    path: str, lines: list[str], start: int, end: int, table: object, now: datetime
) -> KeyRecord:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}:{start}: each [[key]] must be a table")
    for name in table:
        if name not in _FIELDS:
            where = line_of(lines, name, start, end)
            raise ConfigError(
                f"{path}:{where}: unknown field {_shown(name, name=True)} "
                f"(allowed: {', '.join(_FIELDS)})"
            )
    fp = table.get("fingerprint")
    if not isinstance(fp, str) or not is_fingerprint(fp):
        where = line_of(lines, "fingerprint", start, end)
        raise ConfigError(
            f"{path}:{where}: `fingerprint` must be an iobfp1: fingerprint "
            f"(iobfp1: and 16 hex digits)"
        )
    stamps: dict[str, datetime] = {}
    for name in ("created", "retired", "compromised"):
        if name not in table:
            if name == "created" and "retired" not in table and "compromised" not in table:
                raise ConfigError(
                    f"{path}:{start}: {fp} has no `created` date (only a retired or "
                    f"compromised key may leave it out)"
                )
            continue
        where = line_of(lines, name, start, end)
        try:
            stamps[name] = parse_timestamp(table[name])
        except ValueError as exc:
            shown = _shown(table[name])
            if shown.startswith("<key-shaped"):  # the parser's message would echo it
                raise ConfigError(
                    f"{path}:{where}: `{name}` holds a {shown[1:-1]}, not a timestamp; the "
                    f"registry stores fingerprints only"
                ) from None
            raise ConfigError(f"{path}:{where}: `{name}`: {exc}") from None
        if stamps[name] > now:
            raise ConfigError(f"{path}:{where}: `{name}` is in the future ({_fmt(stamps[name])})")
    for later in ("retired", "compromised"):
        if later in stamps and "created" in stamps and stamps[later] < stamps["created"]:
            where = line_of(lines, later, start, end)
            raise ConfigError(f"{path}:{where}: `{later}` is before `created`")
    note = table.get("note")
    if note is not None and not isinstance(note, str):
        raise ConfigError(f"{path}:{line_of(lines, 'note', start, end)}: `note` must be text")
    return KeyRecord(
        fp, stamps.get("created"), stamps.get("retired"), note, stamps.get("compromised")
    )
