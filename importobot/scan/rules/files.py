"""IOB101 / IOB102: find plaintext keys in one file's bytes (D8–D10).

:func:`scan_file` is the per-file scan shared by ``importobot check`` (paths,
``--staged`` blobs, ``--history`` added lines) and the block-keys hook: give it a
path (for naming rules and messages) and the bytes, get findings. It never raises
on any input, never follows anything outside the bytes it is given, and never puts
a key value in a finding.

Most files are decided by a byte search: a file without a key-ish word (``key``,
``secret``, ``salt``, …), a PEM marker or an env-style context is done before it is
decoded. Env-style files and YAML are read structurally; everything else is read
only on the lines holding such a word.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from fnmatch import fnmatchcase, translate
from functools import lru_cache

from importobot._lazyre import lazy_compile
from importobot._record import replace
from importobot.dotenv import split_lines
from importobot.scan.filters import envelope_spans, in_spans
from importobot.scan.finding import Finding, rule_info
from importobot.scan.readers.base import Candidate
from importobot.scan.readers.bytearray import may_hold_byte_array, read_byte_arrays
from importobot.scan.readers.code import read_code
from importobot.scan.readers.dotenv import looks_like_dotenv, read_dotenv
from importobot.scan.readers.lines import read_line, read_lines
from importobot.scan.readers.pem import BEGIN_RE as PEM_BEGIN_RE
from importobot.scan.readers.pem import BOUNDARY_RE as PEM_BOUNDARY_RE
from importobot.scan.readers.pem import HINTS as PEM_HINTS
from importobot.scan.readers.pem import end_of_block as pem_end
from importobot.scan.readers.yaml import YamlContext, read_k8s_data, read_yaml_line
from importobot.scan.recognizer import (
    Match,
    key_shape,
    recognize,
    recognize_key_file,
    shown_name,
)

__all__ = [
    "ENV_FILE_GLOBS",
    "holds_secrets",
    "KEY_FILE_GLOBS",
    "is_binary",
    "is_env_file",
    "is_key_file_name",
    "names_a_secret",
    "scan_file",
    "scan_text",
    "text_bytes",
]

#: Env-style file names (IOB101), matched against the base name, case-insensitive.
ENV_FILE_GLOBS: tuple[str, ...] = (".env", ".env.*", "*.env", ".envrc", "*.envrc", "*.env.*")
#: Key file names (D10): a file holding one key and nothing else.
KEY_FILE_GLOBS: tuple[str, ...] = (
    "*.key",
    "*_key",
    "*-key",
    "*.secret",
    "*_secret",
    "*.keyfile",
    "secret",
    "key",
    "master.key",
    "*.fernet",
)
_NOT_KEY_FILES = ("*.pub", "*.pem", "*.crt", "*.cer", "*.csr", "*.asc", "*.gpg", "*.sig")

_HOT_WORDS: tuple[bytes, ...] = (
    b"key",
    b"secret",
    b"passphrase",
    b"salt",
    b"cipher",
    b"crypt",
    b"pepper",
    b"hmac",
    b"signing",
    b"-----begin",
)
_HOT_WORDS_STR = tuple(w.decode() for w in _HOT_WORDS)
_PEM_HINTS_BYTES = tuple(h.encode() for h in PEM_HINTS)


_PEM_HINTS_NO_BEGIN = tuple(h for h in _PEM_HINTS_BYTES if b"BEGIN" not in h)


def _may_hold_pem(data: bytes) -> bool:
    """``data`` holds one of the PEM hints: a file without ``BEGIN`` is scanned once
    more per hint without it (PuTTY's header), not once per hint."""
    if b"BEGIN" in data:
        return any(h in data for h in _PEM_HINTS_BYTES)
    return any(h in data for h in _PEM_HINTS_NO_BEGIN)


#: Key constructors: their argument is a key whatever the file calls it (readers/code.py).
_KEY_CALL_WORDS: tuple[bytes, ...] = (
    b"fernet",
    b"credentialmanager",
    b"aesgcm",
    b"aesccm",
    b"aessiv",
    b"aesocb",
    b"chacha20poly1305",
    b"aes128gcm",
    b"aes256gcm",
    b"aes.new",
    # Signing and MAC calls: JWT libraries (``jwt.sign(payload, "…")``), cookie and
    # token signers (``cookieParser("…")``, jjwt's ``signWith``, Go's ``SignedString``).
    b"jwt",
    b"cookieparser",
    b"signwith",
    b"signedstring",
)
#: YAML blocks whose entries are environment variables (D8: a 32-byte value there is a
#: key whatever its name), so a YAML file holding one needs no key-ish word.
_YAML_ENV_MARKERS: tuple[bytes, ...] = (b"environment:", b"env:")
_YAML_EXT = (".yml", ".yaml")
_DOCKERFILE_RE = lazy_compile(r"(?i)^(?:dockerfile|containerfile)(?:[._-].*)?$|\.dockerfile$")
_CODE_EXT = frozenset(
    ".py .js .mjs .cjs .ts .tsx .jsx .go .rs .java .kt .rb .php .c .h .cc .cpp .hpp .cs .swift"
    " .json .toml .ini .cfg .conf .xml .html .htm .css .scss .md .rst .txt .lock .sum .mod"
    " .yml .yaml .sql .csv .tsv .svg .nix .tf .hcl .gradle .properties .ipynb .lua .pl .r"
    " .scala .vue .svelte .dart .ex .exs .erl .hs .ml .clj .groovy .ps1 .bat .cmd .mk"
    " .tmpl .tpl .j2 .jinja .erb .xsd .wsdl .plist .proto .graphql .map".split()
)
#: Programming languages, where a string is quoted: unquoted text is code.
_PROGRAM_EXT = frozenset(
    ".py .js .mjs .cjs .ts .tsx .jsx .go .rs .java .kt .rb .php .c .h .cc .cpp .hpp .cs"
    " .swift .scala .vue .svelte .dart .ex .exs .erl .hs .ml .clj .groovy .lua .pl .r".split()
)
#: Documentation formats whose code samples are read like programs' text.
_DOC_EXT = frozenset((".md", ".markdown", ".rst", ".adoc", ".asciidoc"))
_PRAGMA_RE = lazy_compile(
    r"importobot:\s*ignore(?:\[(?P<codes>[A-Za-z0-9_, \-]+)\])?|pragma:\s*allowlist[ -]secret"
)
_NEXTLINE_RE = lazy_compile(r"pragma:\s*allowlist[ -]nextline[ -]secret")
_STRUCTURED_MAX = 2 * 1024 * 1024
_KEY_FILE_MAX = 4096
#: A file of bare values under a secret's name is read as such up to this size.
_KEY_LINES_MAX = 65536
_TYPE_LABEL = {
    "fernet": "Fernet key",
    "laravel": "Laravel base64: key",
    "hex": "hex key",
    "base64": "base64 key",
    "opaque": "random secret",
    "pem-private-key": "PEM private key",
    "key-file": "key file",
}


def _basename(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


_GLOB_SETS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _glob_any(name: str, globs: Iterable[str]) -> bool:
    """Case-blind ``fnmatch`` of ``name`` against any of ``globs``: one pattern per glob
    set, compiled once (a dozen separate compiles cost the hook about half a millisecond)."""
    key = tuple(globs)
    pattern = _GLOB_SETS.get(key)
    if pattern is None:
        joined = "|".join(f"(?:{translate(g.lower())})" for g in key) or "(?!)"
        pattern = _GLOB_SETS[key] = re.compile(joined)
    return pattern.match(name.lower()) is not None


def is_env_file(path: str, extra_globs: Iterable[str] = ()) -> bool:
    """True for an env-style file name (IOB101): ``.env``, ``.env.*``, ``*.env``, ``.envrc``.

    ``extra_globs`` (config ``env-files``) match the base name, or the whole path
    when they hold a ``/``.
    """
    name = _basename(path)
    if _glob_any(name, ENV_FILE_GLOBS):
        return True
    for g in extra_globs:
        target = path if "/" in g else name
        if fnmatchcase(target, g):
            return True
    return False


def is_key_file_name(path: str) -> bool:
    """True for a name like a key file's (``master.key``, ``fernet.key``, ``app_secret``)."""
    name = _basename(path)
    return _glob_any(name, KEY_FILE_GLOBS) and not _glob_any(name, _NOT_KEY_FILES)


_NAME_TOKEN_RE = lazy_compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
#: Name tokens that make a name say "not a secret" even beside ``key``/``secret``.
_NOT_SECRET_TOKENS = frozenset(
    "pub public fingerprint fingerprints known hosts authorized sums sha sha1 sha256 sha512"
    " md5 hash hashes digest digests checksum checksums id ids".split()
)


@lru_cache(maxsize=64)  # asked up to three times per file, by the prefilters and the scan
def names_a_secret(path: str) -> bool:
    """True when a path says its content is a key or a secret (D10, issue 16): the base
    name is a key file's (:func:`is_key_file_name`) or one of its words is ``key``/``keys``
    or holds ``secret`` (``tmp/development_secret.txt``, ``appSecret.txt``), or a directory
    is named ``key(s)``/``secret(s)`` — and no word says public, hash or identifier
    (``public_keys.txt``, ``key_fingerprints.txt``, ``keys/SHA256SUMS``).
    """
    low = path.lower()
    if "key" not in low and "secret" not in low:
        # Only a key file's base name can say it then (most paths: one cheap test).
        name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        if not name or name in (".", "..") or not is_key_file_name(name):
            return False
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if not parts:
        return False
    name = parts[-1]
    if _glob_any(name, _NOT_KEY_FILES):
        return False
    words = [w.lower() for w in _NAME_TOKEN_RE.findall(name)]
    if any(w in _NOT_SECRET_TOKENS for w in words):
        return False
    if is_key_file_name(name):
        return True
    if any(w in ("key", "keys") or "secret" in w for w in words):
        return True
    return any(d.lower().lstrip(".") in ("key", "keys", "secret", "secrets") for d in parts[:-1])


def is_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KiB means binary (as git decides)."""
    return b"\0" in data[:8192]


#: Byte-order marks of UTF-16 text (PowerShell's ``Out-File`` and ``>`` write UTF-16 LE).
_UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


def text_bytes(data: bytes) -> bytes | None:
    """The bytes to scan as UTF-8 text, or ``None`` for binary content.

    A file starting with a UTF-16 byte-order mark (LE or BE) is decoded (without the
    mark; a broken pair or an odd last byte becomes U+FFFD) and re-encoded as UTF-8, so
    lines and columns are those of the decoded text. It is binary when the decoded text
    holds U+0000 in its first 4,096 characters (a UTF-32 mark, or binary data that merely
    starts like one). Anything else is binary when :func:`is_binary` says so. One pass
    over the input, at most 1.5 times its size out.
    """
    codec = _UTF16_BOMS.get(data[:2])
    if codec is None:
        return None if is_binary(data) else data
    text = data[2:].decode(codec, errors="replace")
    if "\0" in text[:4096]:
        return None
    return text.encode("utf-8", errors="replace")


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _pragma_codes(text: str) -> set[str] | None:
    """Rules an inline pragma on this line suppresses (empty set: all), or ``None``."""
    m = _PRAGMA_RE.search(text)
    if m is None:
        return None
    codes = m.group("codes")
    if not codes:
        return set()
    return {c.strip().upper() for c in codes.split(",") if c.strip()}


class _FileScan:
    """Collects findings for one file; resolves rule, message and pragmas."""

    def __init__(self, path: str, env_file: bool, inline_ignores: bool) -> None:
        self.path = path
        self.env_file = env_file
        self.inline_ignores = inline_ignores
        self.findings: list[Finding] = []
        self._seen: set[tuple[int, str]] = set()
        self._pragma_cache: dict[tuple[int, bool], set[str] | None] = {}
        #: Ciphertext envelopes of each line that gave a candidate, found once per line.
        self._envelopes: dict[tuple[int, int], list[tuple[int, int]]] = {}

    def add(
        self,
        match: Match,
        *,
        line: int,
        column: int,
        variable: str | None,
        env: bool,
        line_text: str,
        prev_text: str = "",
        commented: bool = False,
        via: str | None = None,
    ) -> None:
        if (line, match.fingerprint) in self._seen:
            return
        self._seen.add((line, match.fingerprint))
        variable = shown_name(variable)  # never a value in the name position
        if match.key_type in ("pem-private-key", "key-file"):
            rule = "IOB102"
        else:
            rule = "IOB101" if (self.env_file or env) else "IOB102"
        info = rule_info(rule)
        label = _TYPE_LABEL.get(match.key_type, match.key_type)
        if match.spelling:
            label = f"{label} ({match.spelling})"
        unit = "character" if match.key_type == "opaque" and not match.spelling else "byte"
        size = f"{match.key_bytes}-{unit} " if match.key_bytes else ""
        where = f" in {variable}" if variable else ""
        message = f"plaintext {size}{label}{where}"
        if match.key_bytes == 32 and unit == "byte":
            message += " (a 32-byte key: the importobot key size)"
        if commented:
            message += ", commented out"
        if via:
            message += f", {via}"
        notes = [n for n in (match.note,) if n]
        finding = Finding(
            rule=rule,
            severity=info.severity,
            path=self.path,
            line=line,
            column=column,
            variable=variable,
            key_type=match.key_type,
            key_bytes=match.key_bytes,
            fingerprint=match.fingerprint,
            message=message + (f" ({notes[0]})" if notes else ""),
            note=notes[0] if notes else None,
        )
        if self.inline_ignores:
            codes = self._pragmas(line, line_text, prev_text)
            if codes is not None and (not codes or rule in codes):
                finding = finding.with_suppression("inline")
        self.findings.append(finding)

    def _pragmas(self, line: int, line_text: str, prev_text: str) -> set[str] | None:
        """The pragma of ``line`` (see :func:`_pragma_codes`), searched once per line."""
        key = (line, bool(prev_text))
        if key in self._pragma_cache:
            return self._pragma_cache[key]
        codes = _pragma_codes(line_text)
        if codes is None and prev_text and _NEXTLINE_RE.search(prev_text):
            codes = set()
        self._pragma_cache[key] = codes
        return codes

    def candidate(
        self,
        c: Candidate,
        *,
        line_text: str,
        prev_text: str = "",
        env: bool = False,
        program: bool = False,
    ) -> None:
        is_env = env or c.env or self.env_file
        if "${" in c.value or c.name in _PAIR_VALUE_NAMES:
            c = _as_read(c, line_text, prev_text)
        m = recognize(c.name, c.value, env_style=is_env, literal=c.quote == "'", keyed=c.keyed)
        if m is None:
            return
        if program and m.key_type == "opaque" and not c.quote and _reads_as_code(c.value):
            return
        # Asked only of a value that would be a finding (most candidates are not):
        if any(h in c.value for h in PEM_HINTS):
            return  # private-key blocks are found by _pem(), never as candidates (D10)
        where = (c.line, len(line_text))
        spans = self._envelopes.get(where)
        if spans is None:
            spans = self._envelopes[where] = envelope_spans(line_text)
        if spans and in_spans(spans, c.column - 1):
            return  # cut out of a ciphertext envelope (a sops ``iv:`` field): never a key
        self.add(
            m,
            line=c.line,
            column=c.column + m.offset,
            variable=c.name,
            env=env or c.env,
            line_text=line_text,
            prev_text=prev_text,
            commented=c.commented,
            via=c.via if c.via and c.via != "dotenv" else None,
        )


def _pem(scan: _FileScan, text: str) -> list[tuple[int, int]]:
    """Private-key blocks in ``text`` (every family :mod:`importobot.scan.readers.pem`
    knows): one IOB102 each; returns their line ranges.

    A block ends at its family's end marker if that comes before the next armored block
    starts (blocks do not nest): each byte is read for one block at most.
    """
    ranges: list[tuple[int, int]] = []
    line = 1
    counted = 0
    for m in PEM_BEGIN_RE.finditer(text):
        if m.start() < counted:
            continue  # inside the previous block
        line += text.count("\n", counted, m.start())
        counted = m.start()
        start_line = line
        boundary = PEM_BOUNDARY_RE.search(text, m.end())
        next_begin = boundary.start() if boundary is not None else -1
        stop = next_begin if next_begin >= 0 else len(text)
        end = pem_end(text, m.lastgroup or "pem", m.end(), stop)
        if end >= 0:
            eol = text.find("\n", end, stop)
            end_line = start_line + text.count("\n", m.start(), end)
            block_end = eol if eol >= 0 else stop
        else:
            end_line = start_line
            block_end = min(m.end() + 40, stop)
        ranges.append((start_line, end_line))
        found = key_shape(text[m.start() : block_end])
        if end >= 0:
            line, counted = end_line, end
        if found is None:
            continue
        line_start = text.rfind("\n", 0, m.start()) + 1
        line_end = text.find("\n", m.start())
        line_text = text[line_start : line_end if line_end >= 0 else len(text)]
        scan.add(
            found,
            line=start_line,
            column=m.start() - line_start + 1,
            variable=None,
            env=False,
            line_text=line_text,
        )
    return ranges


_BARE_VALUE_RE = lazy_compile(r"(?:base64:)?[A-Za-z0-9+/_-]+={0,2}")


def _key_lines(scan: _FileScan, text: str, name: str) -> None:
    """A file whose lines are bare values (comments and blank lines aside) under a name
    that says secret or key: each key-shaped line is a ``key-file`` finding (IOB102,
    ``variable`` = the file name). A file with any other line is left to the readers."""
    lines = split_lines(text)
    bare: list[tuple[int, str, str]] = []
    for lineno, line in enumerate(lines, 1):
        token = line.strip()
        if not token or token.startswith(("#", "//", ";")):
            continue
        if _BARE_VALUE_RE.fullmatch(token) is None:
            return
        bare.append((lineno, line, token))
    for lineno, line, token in bare:
        found = recognize_key_file(token)
        if found is not None:
            column = len(line) - len(line.lstrip()) + 1
            scan.add(found, line=lineno, column=column, variable=name, env=False, line_text=line)


def _in_ranges(line: int, ranges: list[tuple[int, int]]) -> bool:
    """``line`` is in a block of ``ranges`` (in order, apart), after its first line."""
    at = bisect_left(ranges, (line,)) - 1  # the last block starting above ``line``
    return at >= 0 and line <= ranges[at][1]


def scan_text(
    path: str,
    text: str,
    *,
    env_globs: Iterable[str] = (),
    inline_ignores: bool = True,
    _data: bytes | None = None,
) -> list[Finding]:
    """Findings (IOB101/IOB102) in ``text``, the content of ``path``. Never raises.

    ``_data`` (internal) is ``text``'s UTF-8 bytes when the caller has them.
    """
    try:
        return _scan_text(path, text, tuple(env_globs), inline_ignores, _data)
    except RecursionError:  # pragma: no cover - defensive: a reader must never crash a scan
        return []


def scan_file(
    path: str,
    data: bytes,
    *,
    env_globs: Iterable[str] = (),
    inline_ignores: bool = True,
) -> list[Finding]:
    """Findings in a file's bytes. Binary content yields nothing (callers count the skip);
    UTF-16 with a byte-order mark is decoded first (:func:`text_bytes`)."""
    text_data = text_bytes(data)
    if text_data is None:
        return []
    data = text_data
    name = _basename(path)
    env_globs = tuple(env_globs)
    if not _needs_text(path, name, data, env_globs):
        return []
    if _no_value_lines(path, name, data, env_globs):
        return []
    text = data.decode("utf-8", errors="replace")
    return scan_text(path, text, env_globs=env_globs, inline_ignores=inline_ignores, _data=data)


def _needs_text(path: str, name: str, data: bytes, env_globs: tuple[str, ...]) -> bool:
    """Byte-level prefilter: can this file hold a finding at all?"""
    if is_env_file(path, env_globs) or _DOCKERFILE_RE.search(name):
        return True
    if len(data) <= _KEY_LINES_MAX and names_a_secret(path):
        return True
    low = data.lower()
    if any(w in low for w in _HOT_WORDS) or any(w in low for w in _KEY_CALL_WORDS):
        return True
    if _suffix(name) in _YAML_EXT and (
        b"kind:" in data or any(w in data for w in _YAML_ENV_MARKERS)
    ):
        return True
    # Extension-less or unusual names may be env files under another name (sniffed).
    return _suffix(name) not in _CODE_EXT and len(data) <= _STRUCTURED_MAX and b"=" in data


def _no_value_lines(path: str, name: str, data: bytes, env_globs: tuple[str, ...]) -> bool:
    """True when the file is read line by line (no structure) and no line can hold a key.

    Decided on bytes, before decoding: :func:`_scan_text` reads such a file only on the
    lines :func:`_value_lines` finds (the generic reader, and YAML outside Kubernetes
    manifests), and finds nothing when there are none.
    """
    if data.startswith(b"\xef\xbb\xbf") or _may_hold_pem(data):
        return False
    if is_env_file(path, env_globs) or names_a_secret(path) or _DOCKERFILE_RE.search(name):
        return False
    suffix = _suffix(name)
    if suffix in _YAML_EXT:
        if len(data) > _STRUCTURED_MAX or b"kind:" in data:
            return False
        return not _has_value_line(data)
    # Small files of unknown type may be sniffed as env files: only code types and
    # files too large to sniff (more than _STRUCTURED_MAX characters) go the generic way.
    if suffix not in _CODE_EXT and not (
        len(data) > 4 * _STRUCTURED_MAX or (len(data) > _STRUCTURED_MAX and data.isascii())
    ):
        return False
    if _has_value_line(data, suffix):
        return False
    # A key may be written as byte literals (read by _byte_arrays).
    return not (suffix in _PROGRAM_EXT and may_hold_byte_array(data, suffix))


def _scan_text(
    path: str,
    text: str,
    env_globs: tuple[str, ...],
    inline: bool,
    data: bytes | None = None,
) -> list[Finding]:
    if text.startswith("\ufeff"):
        text = text[1:]
        data = None
    name = _basename(path)
    suffix = _suffix(name)
    env_file = is_env_file(path, env_globs)
    scan = _FileScan(path, env_file, inline)

    if len(text) <= _KEY_FILE_MAX and is_key_file_name(path):
        found = recognize_key_file(text)
        if found is not None:
            line = 1
            stripped = text.lstrip()
            line += text[: len(text) - len(stripped)].count("\n")
            lines = split_lines(text)
            first = lines[line - 1] if line - 1 < len(lines) else ""
            scan.add(
                found,
                line=line,
                column=len(first) - len(first.lstrip()) + 1,
                variable=name,
                env=False,
                line_text=first,
            )
            return scan.findings

    if len(text) <= _KEY_LINES_MAX and names_a_secret(path):
        _key_lines(scan, text, name)
        if scan.findings:
            return scan.findings

    pem_ranges = _pem(scan, text) if any(h in text for h in PEM_HINTS) else []
    small = len(text) <= _STRUCTURED_MAX

    if env_file or (
        small
        and suffix not in _CODE_EXT
        and not _DOCKERFILE_RE.search(name)
        and looks_like_dotenv(text)
    ):
        lines = split_lines(text)
        for c in read_dotenv(text):
            if _in_ranges(c.line, pem_ranges):
                continue
            scan.candidate(
                c,
                line_text=lines[c.line - 1],
                prev_text=lines[c.line - 2] if c.line >= 2 else "",
            )
        return scan.findings

    if small and (suffix in _YAML_EXT or _DOCKERFILE_RE.search(name)):
        lines = split_lines(text)
        is_yaml = suffix in _YAML_EXT
        raw = data if data is not None else text.encode("utf-8", errors="replace")
        if is_yaml and re.search(r"(?m)^kind:\s*(Secret|ConfigMap)\s*$", text):
            secret = re.search(r"(?m)^kind:\s*Secret\s*$", text) is not None
            for c in read_k8s_data(lines, secret=secret):
                scan.candidate(c, line_text=lines[c.line - 1])
        context = YamlContext(lines)
        for idx in _hot_indices(lines, raw) if is_yaml else range(len(lines)):
            if _in_ranges(idx + 1, pem_ranges):
                continue
            prev = lines[idx - 1] if idx else ""
            cands: list[Candidate] = list(read_line(lines[idx], idx + 1))
            if is_yaml:
                cands.extend(read_yaml_line(lines, idx, context))
            for c in cands:
                if is_yaml and not c.env:
                    # Env context (compose environment:, Actions env:) is looked up only
                    # for a value that would be a key there.
                    if "${" in c.value or c.name in _PAIR_VALUE_NAMES:
                        c = _as_read(c, lines[c.line - 1], prev)
                    if recognize(c.name, c.value, env_style=True, literal=c.quote == "'") is None:
                        continue
                    c = replace(c, env=context.is_env_context(idx))
                scan.candidate(c, line_text=lines[c.line - 1], prev_text=prev)
        return scan.findings

    # Any other text: read only the lines holding a key-ish word.
    program = suffix in _PROGRAM_EXT or suffix in _DOC_EXT
    raw_data = data if data is not None else text.encode("utf-8", errors="replace")
    value_lines = _value_lines(raw_data, suffix=suffix)
    for lineno, line_text, prev_text, spots in _hot_lines(raw_data, value_lines):
        if _in_ranges(lineno, pem_ranges):
            continue
        for c in read_lines([line_text], [0], hot={0: spots}, window_filter=_window_has_value):
            c = Candidate(c.name, c.value, lineno, c.column, c.quote, c.commented, c.env, c.via)
            scan.candidate(c, line_text=line_text, prev_text=prev_text, program=program)
    # Values code hands to configuration and keys (call arguments, list items, blocks…).
    texts: tuple[int, str, str] = (0, "", "")
    spaced = suffix in _SUFFIX_MARKERS  # salts with blanks: read where the language has them
    for c in read_code(raw_data, value_lines, _keyed_value, _CONTEXT_WORDS, spaced=spaced):
        if _in_ranges(c.line, pem_ranges):
            continue
        if texts[0] != c.line:  # decoded once per line, not per value
            texts = (c.line, *_line_texts(raw_data, value_lines, c.line - 1))
        scan.candidate(c, line_text=texts[1], prev_text=texts[2])
    if suffix in _PROGRAM_EXT and may_hold_byte_array(raw_data, suffix):
        _byte_arrays(scan, raw_data)
    return scan.findings


def _byte_arrays(scan: _FileScan, data: bytes) -> None:
    """Keys written as arrays of byte literals under a key's name (``aes_key[32] = {0x2b,
    …}``): D8's name lists and D4's key sizes and weakness, like any other spelling."""
    from importobot.keys.fingerprint import fingerprint
    from importobot.keys.material import KEY_SIZES, weakness
    from importobot.scan.filters import is_identifier_name, is_key_name
    from importobot.scan.recognizer import PUBLISHED_NOTE

    line, counted = 1, 0
    for name, raw, offset in read_byte_arrays(data):
        if len(raw) not in KEY_SIZES or not is_key_name(name) or is_identifier_name(name):
            continue
        reason = weakness(raw)
        if reason not in (None, "published"):
            continue
        line += data.count(b"\n", counted, offset)
        counted = offset
        start = data.rfind(b"\n", 0, offset) + 1
        end = data.find(b"\n", offset)
        text, prev = _texts_at(data, start, end if end >= 0 else len(data))
        column = len(data[start:offset].decode("utf-8", errors="replace")) + 1
        note = PUBLISHED_NOTE if reason == "published" else None
        match = Match("opaque", len(raw), fingerprint(raw), note, 0, "byte array")
        scan.add(
            match,
            line=line,
            column=column,
            variable=name,
            env=False,
            line_text=text,
            prev_text=prev,
        )


def _as_read(c: Candidate, line_text: str, prev_text: str) -> Candidate:
    """``c`` as it is judged: a reference's default in place of the reference, and the
    value field of a name/value pair under the pair's name (idempotent). Callers ask it
    only of a value holding ``${`` or a name in :data:`_PAIR_VALUE_NAMES` (a hot loop)."""
    if "${" in c.value:
        c = _reference_default(c)
    if c.name in _PAIR_VALUE_NAMES and not c.keyed:
        paired = _pair_name(line_text, prev_text, c.column)
        if paired is not None:
            c = replace(c, name=paired)
    return c


def _reference_default(c: Candidate) -> Candidate:
    """The default written into ``c``'s value when the value is one reference holding one
    (otherwise ``c``): named by the setting when its name says key, else by the
    variable referred to (``MERCURE_JWT_KEY: ${CADDY_MERCURE_JWT_SECRET:-…}``)."""
    from importobot.scan.filters import is_key_name, reference_default

    ref = reference_default(c.value)
    if ref is None:
        return c
    var, default, offset = ref
    name = c.name if c.name is not None and is_key_name(c.name) else var
    return replace(c, name=name, value=default, column=c.column + offset)


#: A name/value pair names its value by its name field: Kubernetes ``env:`` lists
#: (``- name: SECRET_KEY`` then ``value: …``), ECS task definitions and Azure settings
#: (``{"name": "SECRET_KEY", "value": "…"}``), on one line or the line before.
_PAIR_VALUE_FIELDS = frozenset(("value", "val"))
#: The same in the spellings met, for a set lookup per candidate without ``lower()``.
_PAIR_VALUE_NAMES = frozenset(v for f in _PAIR_VALUE_FIELDS for v in (f, f.upper(), f.capitalize()))
_PAIR_SAME_LINE_RE = lazy_compile(
    r"""["']?(?:name|key)["']?[ \t]*[:=][ \t]*["']?(?P<name>[A-Za-z_][\w.\-]{0,127})["']?"""
    r"""[ \t]*,[^{}]*\Z"""
)
_PAIR_LINE_BEFORE_RE = lazy_compile(
    r"""[ \t]*(?:-[ \t]+|\{[ \t]*)?["']?(?:name|key)["']?[ \t]*[:=][ \t]*["']?"""
    r"""(?P<name>[A-Za-z_][\w.\-]{0,127})["']?[ \t]*,?[ \t]*\Z"""
)


def _pair_name(line_text: str, prev_text: str, column: int) -> str | None:
    """The name field of the name/value pair whose value starts at ``column``."""
    before = line_text[: max(0, column - 1)]
    head = before[-512:]
    m = _PAIR_SAME_LINE_RE.search(head) if "name" in head or "key" in head else None
    if m is not None:
        return m.group("name")
    if before.strip(" \t\"'{-").lower().rstrip(":= \t\"'") not in _PAIR_VALUE_FIELDS:
        return None  # the value field is not the first thing on its line
    m = _PAIR_LINE_BEFORE_RE.match(prev_text[-512:])
    return m.group("name") if m is not None else None


_CODE_PUNCT = frozenset("?:{}[]<>,;|")


def _reads_as_code(value: str) -> bool:
    """Unquoted text in a program that is code, not an opaque secret: it holds one of
    ``? : { } [ ] < > , ; |``, an arrow ``=>``, or a member call (``.`` and ``(``:
    ``models.UUIDField(default=…``, ``n.altKey=!0:c.test(e)?…``). Key spellings never
    hold these, and Django's secret alphabet (``!@#$%^&*(-_=+)``) none of these
    combinations, so an unquoted key in a here-document inside a program is still read."""
    if not _CODE_PUNCT.isdisjoint(value) or "=>" in value:
        return True
    if "." in value and "(" in value:
        return True
    return _CODE_WORDS_RE.fullmatch(value) is not None


#: A member path (``rust_openssl.hpke.MLKEM768X25519PrivateKey``) or a call of a named
#: function (``_import_rfc5915_der(unhexlify(data_hex)``): no base64 or hex key holds
#: ``.`` or ``(``, and Django's alphabet has no ``.``.
_CODE_WORDS_RE = lazy_compile(
    r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+|[A-Za-z_$][\w$]{2,}\([\w$().]*"
)


def _keyed_value(value: str, literal: bool = False) -> bool:
    """Would ``value`` (or the default a reference in it holds) be key material under a
    key name? (Only such values are named.) ``literal``: single-quoted, as
    :meth:`_FileScan.candidate` will judge it."""
    if value.startswith("${"):
        from importobot.scan.filters import reference_default

        ref = reference_default(value)
        if ref is not None:
            value = ref[1]
    return recognize(None, value, keyed=True, literal=literal) is not None


def _line_before(data: bytes, start: int) -> bytes:
    """The line before the one starting at offset ``start`` (empty for the first)."""
    if start <= 0:
        return b""
    return data[data.rfind(b"\n", 0, start - 1) + 1 : start - 1]


def _texts_at(data: bytes, start: int, end: int) -> tuple[str, str]:
    """The text of the line ``data[start:end]`` and of the line before it (for pragmas)."""
    line = data[start:end].decode("utf-8", errors="replace")
    prev = _line_before(data, start).decode("utf-8", errors="replace")
    return line.removesuffix("\r"), prev.removesuffix("\r")


def _line_texts(data: bytes, value_lines: list[tuple[int, int, int]], idx: int) -> tuple[str, str]:
    """The text of value line ``idx`` and of the line before it (for pragmas)."""
    _, start, end = value_lines[bisect_left(value_lines, (idx,))]
    return _texts_at(data, start, end)


_LONG_RUN_RE = lazy_compile(r"[A-Za-z0-9+/_=-]{40,}")
#: A line can hold a key only if some value of >= 16 characters follows a separator,
#: a ``--flag``, or it holds byte escapes or a PEM marker. One C-level search per line.
#: The ``--flag value`` branch starts only where a run of ``[\w-]`` starts and looks
#: ahead for its ``--`` (same language as ``--[\w-]+[ \t]+…`` searched anywhere, but each
#: run is read once: a long run of dashes no longer costs its square).
_GATE = (
    r"""(?m)[=:>][ \t]*[bBrRuU]?["'`]?[^\s"'`]{16}"""
    r"""|(?<![\w-])(?=[\w-]*--[\w-])[\w-]+[ \t]+["']?[^\s"']{16}"""
    r"""|\\x[0-9a-fA-F]{2}|-----BEGIN|[:=][ \t]*[|>][+-]?[ \t]*$"""
    r"""|^[ \t]*-[ \t]+["']?[^\s"'`]{16}"""  # a YAML list item (``keys:`` then ``- …``)
    # ``setenv NAME …``, ``SetEnv``, fish ``set -x NAME …``, nginx ``fastcgi_param NAME …``
    r"""|(?i:setenv|_param|set[ \t]+-(?=[A-Za-z]*x)[A-Za-z]+)[ \t]+\w+[ \t]+["']?[^\s"']{16}"""
)
_GATE_RE = lazy_compile(_GATE)


_SECRET_NAME_RE = lazy_compile(
    r"(?i)pass(?:word|wd|phrase)?|secret|token|credential|(?:^|_)key$|_key_"
)


def holds_secrets(text: str) -> bool:
    """True when an env file assigns a non-empty literal to a secret-named variable.

    Used for IOB103: such a file should be git-ignored even when no value in it is a key.
    References (``${VAR}``), empty values and ``changeme``-style placeholders do not count.
    """
    from importobot.keys.material import is_readable_placeholder
    from importobot.scan.filters import content_filter

    for c in read_dotenv(text):
        if c.commented or not _SECRET_NAME_RE.search(c.name or ""):
            continue
        value = c.value.strip()
        if len(value) < 8 or content_filter(value) is not None:
            continue
        if is_readable_placeholder(value):
            continue
        return True
    return False


def _hot_indices(lines: list[str], data: bytes) -> Iterator[int]:
    """Lines passing the gate that hold a key-ish word or a long base64/hex run.

    Only the lines :func:`_value_lines` finds in ``data`` (the text's UTF-8 bytes)
    are inspected; the gate sees a CRLF line with its ``\\r``, as it would in the text.
    """
    gate = _GATE_RE.search
    total = len(lines)
    for idx, start, end in _value_lines(data, block_headers=True):
        if idx >= total:
            continue
        line = lines[idx]
        if gate(line + "\r" if end > start and data[end - 1] == 0x0D else line) is None:
            continue
        low = line.lower()
        if any(w in low for w in _HOT_WORDS_STR) or _LONG_RUN_RE.search(line):
            yield idx


_HOT_WORD_RE = lazy_compile(
    rb"key|secret|passphrase|salt|cipher|crypt|pepper|hmac|signing|-----begin"
)
_GATE_BYTES_RE = lazy_compile(_GATE.encode())
#: Words a key's name or constructor holds, in lower case (readers/code.py reads the
#: code before a value only when one comes shortly before it).
_CONTEXT_WORDS = tuple(w for w in _HOT_WORDS if w.isalpha()) + _KEY_CALL_WORDS

#: Byte classes for :func:`_value_lines`: base64/hex characters; non-space characters.
_B64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_=-"
_B64_TABLE = bytes(0x61 if i in _B64_CHARS else 0x20 for i in range(256))
_NONSPACE_TABLE = bytes(0x20 if i in b" \t\n\r\x0b\x0c" else 0x61 for i in range(256))
#: The shortest spellings of a key (D1, D8): base64 of 16 bytes is 22 characters (hex
#: of 16 bytes 32; a Laravel value holds base64 of 16 or more); an opaque secret is 32
#: characters without a space; a bytes literal holds ``\\x`` escapes; PEM its marker.
_B64_RUN = b"a" * 22
_NONSPACE_RUN = b"a" * 32
_VALUE_MARKERS = (b"\\x", b"-----BEGIN")
#: Markers of a language's own spelling of a key with blanks: PHP's quoted name of a
#: key or salt before its value (WordPress's ``define('AUTH_KEY', '…')``, whose salts
#: draw on an alphabet holding the blank, so no run above need be in them).
_SUFFIX_MARKERS: dict[str, tuple[bytes, ...]] = {
    ".php": (b"KEY'", b'KEY"', b"SALT'", b'SALT"', b"key'", b'key"', b"salt'", b'salt"'),
}
_PRINTABLE_RE = lazy_compile(rb"[\x21-\x7e]")
_BLOCK_LOOKBACK = 49


#: The byte-class translations of the last file asked about, while the same bytes object
#: is scanned: the prefilter (:func:`_has_value_line`) and the line finder
#: (:func:`_value_lines`) read the same ones. Replaced as a whole, so a thread that
#: races another only translates again, never reads another file's buffer.
_LAST_TRANSLATED: tuple[bytes | None, dict[int, bytes]] = (None, {})


def _translated(data: bytes, table: bytes) -> bytes:
    """``data.translate(table)``, once per file."""
    global _LAST_TRANSLATED
    last = _LAST_TRANSLATED
    if last[0] is not data:
        last = _LAST_TRANSLATED = (data, {})
    buf = last[1].get(id(table))
    if buf is None:
        buf = last[1][id(table)] = data.translate(table)
    return buf


def _value_lines(
    data: bytes, *, block_headers: bool = False, suffix: str = ""
) -> list[tuple[int, int, int]]:
    r"""(0-based index, start, end offset) of each line that can hold a key value, in order.

    A necessary condition, decided by C-level byte searches alone: a key-shaped value
    (D8) lies within one line and holds a run of >= 22 base64/hex characters, a run of
    >= 32 non-space characters, ``\\x`` escapes (a bytes literal) or a PEM marker. No
    other line can yield a finding, so no other line is decoded or parsed.
    ``block_headers`` adds, above each such line, the lines up to the nearest surely
    non-blank one: a YAML block scalar header (``key: |``) whose value that line is.
    A file ending in ``suffix`` adds the lines holding its language's markers
    (``_SUFFIX_MARKERS``).
    """
    find = data.find
    rfind = data.rfind
    starts: set[int] = set()
    searches = [
        (_translated(data, _B64_TABLE), _B64_RUN),
        (_translated(data, _NONSPACE_TABLE), _NONSPACE_RUN),
    ]
    searches.extend((data, marker) for marker in _VALUE_MARKERS)
    searches.extend((data, marker) for marker in _SUFFIX_MARKERS.get(suffix, ()))
    for buf, pattern in searches:
        pos = buf.find(pattern)
        while pos >= 0:
            starts.add(rfind(b"\n", 0, pos) + 1)
            end = find(b"\n", pos)
            if end < 0:
                break
            pos = buf.find(pattern, end + 1)
    if block_headers:
        # A header holds ``:`` and ``|``/``>``, so it is the nearest line above with
        # printable ASCII (blank lines in between), and only if it holds ``|`` or ``>``.
        for start in list(starts):
            s = start
            for _ in range(_BLOCK_LOOKBACK):
                if s == 0:
                    break
                end = s - 1
                s = rfind(b"\n", 0, end) + 1
                if _PRINTABLE_RE.search(data, s, end) is not None:
                    if find(b"|", s, end) >= 0 or find(b">", s, end) >= 0:
                        starts.add(s)
                    break
    out: list[tuple[int, int, int]] = []
    lineno = 0
    last = 0
    n = len(data)
    for start in sorted(starts):
        lineno += data.count(b"\n", last, start)
        last = start
        end = find(b"\n", start)
        out.append((lineno, start, n if end < 0 else end))
    return out


def _has_value_line(data: bytes, suffix: str = "") -> bool:
    """True when :func:`_value_lines` would find a line (without locating it)."""
    if _B64_RUN in _translated(data, _B64_TABLE):
        return True
    if _NONSPACE_RUN in _translated(data, _NONSPACE_TABLE):
        return True
    if any(marker in data for marker in _VALUE_MARKERS):
        return True
    return any(marker in data for marker in _SUFFIX_MARKERS.get(suffix, ()))


def _window_has_value(window: str) -> bool:
    """A window of a very long line can yield a finding only around a value run."""
    return _has_value_line(window.encode("utf-8", errors="replace"))


def _hot_lines(
    data: bytes, value_lines: list[tuple[int, int, int]] | None = None
) -> Iterator[tuple[int, str, str, list[int]]]:
    """(line number, line, previous line, hot offsets) for lines holding a key-ish word
    (or a ``value`` field below a line holding one: a name/value pair).

    Works on bytes: only the lines :func:`_value_lines` finds are looked at; of those,
    the ones holding a key-ish word (ASCII case-insensitive) and passing the gate are
    decoded. Offsets matter only for very long lines (read in windows).
    """
    hot = _HOT_WORD_RE.search
    gate = _GATE_BYTES_RE.search
    for idx, start, end in _value_lines(data) if value_lines is None else value_lines:
        raw = data[start:end]
        low = raw.lower()
        if hot(low) is None:
            # The value field of a name/value pair: the name (a key's) is the line before.
            if b"value" not in low:
                continue
            before = _line_before(data, start)
            if not before or len(before) > 1024 or hot(before.lower()) is None:
                continue
        if gate(raw) is None:
            continue
        line = raw.decode("utf-8", errors="replace")
        if line.endswith("\r"):
            line = line[:-1]
        prev = _line_before(data, start).decode("utf-8", errors="replace")
        spots: list[int] = [0]
        if len(line) > 16384:
            lowline = line.lower()
            spots = []
            for word in _HOT_WORDS_STR:
                at = lowline.find(word)
                while at >= 0:
                    spots.append(at)
                    at = lowline.find(word, at + len(word))
        yield idx + 1, line, prev, spots
