"""``importobot fix``: from "a key is committed" to "the key is out of git, and safe to use".

One run finds the plaintext keys ``check`` reports (IOB101/IOB102, baseline and pragmas
honoured) in the work tree, and — in a git repository — the keys found only in history,
and makes a plan (D26):

* **values move out of the file** — ``--to keyring`` (default): into the OS keyring,
  service :func:`importobot.commands.run.keyring_service`, user = the variable, and the
  file gets a ``${VAR}`` reference; ``--to encrypted``: an ``importobot encrypt`` token
  under the active key (never the active key itself: that one goes to the keyring, and
  the plan calls for a new key); ``--to env-example``: a ``${VAR}`` reference, the value
  discarded (so rotation is required); ``--to wrapped`` needs the key-backends work and is
  not available yet (exit 2). Every other byte of the file is kept (comments, quotes,
  order, line endings, a byte-order mark). Only the dotenv family and compose
  ``environment:`` are rewritten; Actions ``env:``, Dockerfile ``ENV``, Kubernetes
  ``data:`` and keys in source files get a printed manual plan;
* **env files leave git** — a ``.gitignore`` rule (``.env*`` with ``!.env.example``, or the
  file's own path), ``git rm --cached``, and a ``.env.example`` whose placeholders our own
  scanner accepts and whose markers tell ``importobot run`` which variables come from the
  keyring; the plan warns that teammates' ``git pull`` deletes their ``.env`` and prints
  the command that restores it;
* **exposure is recorded** — a key that reached a commit is exposed for good: its
  fingerprint is marked compromised in the key registry (IOB204 then fires wherever it is
  still configured) and the rotation runbook is printed; a key found only in history is
  said so, history is never rewritten (``git filter-repo`` is pointed to).

Dry run by default: the plan is printed and nothing changes (exit 1 when there is
something to fix, else 0). ``--apply``: everything is checked first — no symbolic link
or hard-linked target, no file whose index and work-tree copies differ, no keyring entry
that already holds another value, every token decrypts back — and a failure exits 2
with nothing changed; then keyring entries are written and read back, files are rewritten
crash-safely (:func:`importobot.fsio.replace_file_durably`, D22) and staged, env files
untracked. Nothing printed ever holds a value: fingerprints and names only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from importobot._record import Record
from importobot._text import plural, printable
from importobot._version import DOCS_URL
from importobot.commands import Outcome
from importobot.exceptions import ConfigError, ImportobotError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from importobot.project import Project
    from importobot.scan.finding import Finding

__all__ = ["DESTINATIONS", "FixError", "FixRequest", "NotAvailableError", "run_fix"]

DESTINATIONS = ("keyring", "wrapped", "encrypted", "env-example")
#: Env-file names that are templates: committed on purpose, never untracked or ignored.
TEMPLATE_NAMES = (".env.example", ".env.sample", ".env.template", ".env.dist", ".env.defaults")
_COMPOSE_RE = re.compile(r"(?i)^(?:docker-)?compose(?:[.\-][\w.\-]*)?\.ya?ml$|\.compose\.ya?ml$")
_KEYISH_RUN = re.compile(r"[A-Za-z0-9+/_=-]{24,}")
_FILTER_REPO = "https://github.com/newren/git-filter-repo"
_PRIMARY = "IMPORTOBOT_ENCRYPTION_KEY"
_ROTATION_DOCS = f"{DOCS_URL}/Key-Rotation.md"


class FixError(ImportobotError):
    """The plan cannot be applied safely; nothing was changed (exit 2)."""


class NotAvailableError(ImportobotError):
    """A ``--to`` destination this release does not have yet (exit 2)."""


class FixRequest(Record):
    """The options of one ``fix`` run, as parsed by the CLI."""

    paths: tuple[str, ...] = ()
    apply: bool = False
    to: str = "keyring"
    config: str | None = None
    #: Also look for keys that are only in history (one ``git log -p`` over every ref).
    history: bool = True


# ------------------------------------------------------------------------------- model


class Change(Record, frozen=False):
    """One value to move out of a file. ``value`` (the secret) and ``token`` are never
    printed or repr'd. ``destination``, ``replacement`` and ``token`` are filled in when
    the plan is made."""

    #: 0-based index in the file's lines.
    line: int
    #: 0-based code-point offset of the value in that line.
    col: int
    value: str
    quote: str
    variable: str
    fingerprint: str
    key_type: str
    #: ``keyring``, ``encrypted`` or ``reference``.
    destination: str = ""
    replacement: str = ""
    token: str = ""

    def __repr__(self) -> str:
        return f"Change({self.variable!r}, line={self.line + 1}, to={self.destination!r})"


class Manual(Record):
    """A finding ``fix`` cannot rewrite: where it is and what to do by hand."""

    finding: Finding
    form: str
    advice: str


# Working state, not values: filled in step by step and compared by identity
# (``fp in plan.untrack``), so plain dataclasses rather than records.
@dataclass(eq=False)
class FilePlan:
    path: str
    shown: str
    rel: str | None
    form: str  # dotenv | compose
    old: bytes
    tracked: bool
    template: bool
    changes: list[Change] = field(default_factory=list)
    new: bytes = b""
    bom: bool = False
    lines: list[str] = field(default_factory=list)
    #: Leaves git (untracked, ignored, described in .env.example) after the rewrite.
    leaves_git: bool = False

    @property
    def env_file(self) -> bool:
        return self.form == "dotenv"


@dataclass
class Plan:
    project: Project
    service: str
    to: str
    files: list[FilePlan] = field(default_factory=list)
    manual: list[Manual] = field(default_factory=list)
    history_only: list[Finding] = field(default_factory=list)
    exposed: dict[str, str] = field(default_factory=dict)  # fingerprint -> where
    exposed_names: dict[str, str] = field(default_factory=dict)  # fingerprint -> variable
    recorded: set[str] = field(default_factory=set)  # already marked compromised
    #: The active key lives in the keyring entry fix manages (a .env.example marker).
    primary_in_keyring: bool = False
    compromised_new: list[str] = field(default_factory=list)
    registry_path: str | None = None
    registry_note: str = ""
    ignore_rules: list[str] = field(default_factory=list)
    gitignore_path: str = ""
    untrack: list[FilePlan] = field(default_factory=list)
    examples: dict[str, tuple[bytes | None, bytes]] = field(default_factory=dict)
    keyring_writes: dict[str, str] = field(default_factory=dict)  # user -> value
    keyring_same: set[str] = field(default_factory=set)
    keyring_problem: str = ""
    blockers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    active_fp: str | None = None
    active_source: str | None = None
    token_files: list[str] = field(default_factory=list)
    new_key_needed: bool = False

    def something_to_do(self) -> bool:
        return bool(
            self.files
            or self.manual
            or self.compromised_new
            or self.untrack
            or self.ignore_rules
            or (self.history_only and not self.registry_path)
        )


# --------------------------------------------------------------------------- locating


def _split_text(data: bytes) -> tuple[list[str], bool] | None:
    """The file's lines (split on ``\\n``, ``\\r`` kept) and whether it had a BOM."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    bom = text.startswith("\ufeff")
    if bom:
        text = text[1:]
    return text.split("\n"), bom


def _locate_dotenv(lines: list[str], f: Finding) -> tuple[int, int, str, str] | None:
    """``(line index, column, value, quote)`` of the dotenv entry behind ``f``."""
    from importobot import dotenv

    for e in dotenv.parse("\n".join(lines)):
        if e.line != f.line or e.name != f.variable or e.end_line != e.line:
            continue
        idx, col = e.line - 1, e.column - 1
        if lines[idx].rstrip("\r")[col : col + len(e.value)] != e.value or not e.value:
            return None
        return idx, col, e.value, e.quote
    return None


def _locate_yaml(lines: list[str], f: Finding) -> tuple[int, int, str, str] | None:
    """The ``NAME: value`` / ``- NAME=value`` entry behind ``f`` in a YAML line."""
    from importobot.scan.readers.lines import read_line

    if not f.line or f.line > len(lines):
        return None
    idx = f.line - 1
    text = lines[idx].rstrip("\r")
    for c in read_line(text, f.line):
        start = c.column - 1
        if c.name != f.variable or not c.value:
            continue
        if not (start <= (f.column or 0) - 1 < start + len(c.value)):
            continue
        if text[start : start + len(c.value)] != c.value:
            return None
        return idx, start, c.value, c.quote
    return None


def _compose_env(lines: list[str], f: Finding, name: str) -> bool:
    from importobot.scan.readers.yaml import parents

    if not _COMPOSE_RE.search(name) or not f.line:
        return False
    found = parents(lines, f.line - 1)
    return bool(found) and found[0] == "environment" and "services" in found


def _manual_advice(f: Finding, shown: str, service: str) -> tuple[str, str]:
    """``(form, advice)`` for a key ``fix`` does not rewrite."""
    var = printable(f.variable or "the value")
    name = shown.replace("\\", "/").rsplit("/", 1)[-1].lower()
    quoted = _sh(service)
    if f.key_type in ("key-file", "pem-private-key"):
        return "key file", (
            f"keep the key out of the repository: git rm --cached {_sh(shown)}, add it to "
            f".gitignore, and load it from a path outside git (or the OS keyring)"
        )
    if "/.github/workflows/" in f"/{shown}" and name.endswith((".yml", ".yaml")):
        return "GitHub Actions env:", (
            f"store it as an Actions secret (gh secret set {var} reads the value from stdin), "
            f"then write `{var}: ${{{{ secrets.{var} }}}}` in place of the value"
        )
    if name.startswith(("dockerfile", "containerfile")) or name.endswith(".dockerfile"):
        return "Dockerfile ENV/ARG", (
            f"an ENV/ARG value is baked into every image layer: delete it, pass {var} at run "
            f"time (importobot run -- docker run -e {var} …) or as a build secret "
            f"(RUN --mount=type=secret,id={var})"
        )
    if f.note and "base64" in f.note or (f.message and "base64 data" in f.message):
        return "Kubernetes Secret data:", (
            "a Secret's data is base64, not encryption: create the Secret outside git "
            "(kubectl create secret generic … --from-env-file=FILE, never --from-literal) "
            "or commit it encrypted (sops, Sealed Secrets)"
        )
    if f.rule == "IOB101":
        return "env: block", (
            f"replace the value with a reference the tool resolves at run time, and keep "
            f"{var} in the OS keyring: keyring set {quoted} {var} (prompts; never on argv)"
        )
    if var.endswith("()"):
        # The argument of a key constructor or signing call (``Fernet()``, ``jwt.sign()``):
        # no setting names it, so the advice names one.
        setting = _setting_for_call(var)
        return "source", (
            f"pass {var} its key from the environment ({setting}, read with os.environ / "
            f"process.env) instead of the literal; keep the value in the OS keyring: "
            f"keyring set {quoted} {setting} (prompts), and start the program with "
            f"importobot run -- CMD"
        )
    return "source", (
        f"read {var} from the environment (os.environ / process.env) instead of the "
        f"literal; keep the value in the OS keyring: keyring set {quoted} {var} (prompts), "
        f"and start the program with importobot run -- CMD"
    )


def _setting_for_call(call: str) -> str:
    """An environment variable's name for the key of ``call`` (``jwt.sign()`` →
    ``JWT_SIGN_KEY``, ``Fernet()`` → ``FERNET_KEY``)."""
    import re

    words = [w for w in re.split(r"[^A-Za-z0-9]+", call.removesuffix("()")) if w]
    name = "_".join(words).upper() or "SECRET"
    return name if name.endswith("KEY") else f"{name}_KEY"


def _sh(text: str) -> str:
    from importobot.report.text import shell_word

    return shell_word(text)


# ----------------------------------------------------------------------------- planning


def _scan(req: FixRequest, project: Project, cwd: str) -> tuple[list[Finding], dict[str, str]]:
    """Active IOB101/IOB102 findings in the work tree (as ``check`` sees them)."""
    from pathlib import Path

    from importobot.scan.baseline import apply_baseline, load_baseline
    from importobot.scan.engine import ScanOptions, check_paths

    options = ScanOptions(cwd=Path(cwd), root=Path(project.root))
    result = check_paths(req.paths, project.full_settings(), options)
    baseline = project.baseline_path()
    if baseline:
        apply_baseline(result, load_baseline(baseline))
    keys = [
        f
        for f in result.active
        if f.rule in ("IOB101", "IOB102") and f.path and f.fingerprint and f.line
    ]
    return keys, result.paths


def _history(project: Project, req: FixRequest, cwd: str) -> list[Finding]:
    from importobot.scan.finding import ScanResult
    from importobot.scan.sources import history_items, scan_items

    specs = [os.path.abspath(os.path.join(cwd, p)) for p in req.paths]
    result = ScanResult()
    scan_items(
        history_items(project.root, None, specs, set()),
        result,
        env_globs=project.env_globs,
        max_size=project.max_file_size,
        exclude=project.exclude,
    )
    from importobot.scan.baseline import apply_baseline, load_baseline

    baseline = project.baseline_path()
    if baseline:
        apply_baseline(result, load_baseline(baseline))
    return [f for f in result.active if f.rule in ("IOB101", "IOB102") and f.fingerprint]


def _active_key(env: Mapping[str, str] | None) -> tuple[str | None, str | None]:
    from importobot.keys.fingerprint import fingerprint
    from importobot.security.key_sources import resolve_primary_key

    try:
        key = resolve_primary_key(env=env)
    except ImportobotError:
        return None, None
    return fingerprint(key.raw), key.source.label


def _reference(c: Change) -> str:
    quote = '"' if c.quote in ("'", "`") else c.quote
    inner = f"${{{c.variable}}}"
    if quote != c.quote:
        return f"{quote}{inner}{quote}"
    return inner


def _rewrite(fp: FilePlan, lines: list[str]) -> bytes:
    out = list(lines)
    for c in sorted(fp.changes, key=lambda x: (x.line, -x.col)):
        line = out[c.line]
        start, end = c.col, c.col + len(c.value)
        if c.replacement.startswith(('"', "'")) and c.quote and c.quote != c.replacement[0]:
            start, end = start - 1, end + 1  # the quotes change too (single -> double)
        out[c.line] = line[:start] + c.replacement + line[end:]
    text = "\n".join(out)
    return (("\ufeff" if fp.bom else "") + text).encode("utf-8")


def _is_template(name: str) -> bool:
    return name.lower() in TEMPLATE_NAMES


def _ignore_rules(project: Project, fp: FilePlan) -> list[str]:
    base = os.path.basename(fp.path)
    if base.lower().startswith(".env"):
        return [".env*", "!.env.example"]
    rel = fp.rel or base
    return ["/" + rel.replace(os.sep, "/")]


def _example_text(
    old: bytes | None, variables: list[str], markers: dict[str, str], header: bool
) -> bytes:
    """``.env.example`` with every variable as ``NAME=`` and the keyring markers."""
    from importobot import dotenv
    from importobot.commands.run import MARKER_RE

    text = (old or b"").decode("utf-8", "replace")
    lines = text.split("\n") if text else []
    if lines and lines[-1] == "":
        lines.pop()
    present = {e.name for e in dotenv.parse(text) if not e.commented}
    marked = {m.group("name") for line in lines if (m := MARKER_RE.match(line.strip())) is not None}
    added: list[str] = []
    if header and not lines:
        added += [
            "# Variables the application reads; values are never committed here.",
            "# Written by `importobot fix`. A variable marked `<- OS keyring` is set by",
            "# `importobot run -- CMD` from this machine's keyring; give the others values",
            "# in your untracked .env.",
        ]
    # A marker for a variable already present goes right above it.
    for name, line in markers.items():
        if name in present and name not in marked:
            for i, existing in enumerate(lines):
                if any(e.name == name and not e.commented for e in dotenv.parse(existing)):
                    lines.insert(i, line)
                    break
    for name in variables:
        if name in present:
            continue
        if name in markers and name not in marked:
            added.append(markers[name])
        added.append(f"{name}=")
        present.add(name)
    result = lines + added
    return ("\n".join(result) + "\n").encode("utf-8") if result else b""


def _stores(project: Project, cwd: str, req: FixRequest) -> list[str]:
    """Files in the work tree that hold Fernet tokens: the stores a rotation re-encrypts."""
    from pathlib import Path

    from importobot.fsio import FileRefused, read_content
    from importobot.scan.engine import ScanOptions, collect_files
    from importobot.scan.finding import ScanResult

    options = ScanOptions(cwd=Path(cwd), root=Path(project.root))
    out: list[str] = []
    token = re.compile(rb"gAAAAA[A-Za-z0-9_-]{92,}")
    for path, shown, _rel in collect_files(
        req.paths, project.full_settings(), options, ScanResult()
    ):
        try:
            data = read_content(path, project.max_file_size)
        except FileRefused:
            continue
        if b"gAAAAA" in data and token.search(data):
            out.append(shown)
    return out


def build_plan(
    req: FixRequest,
    *,
    start: str | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Plan:
    """Everything ``fix`` would do, computed without changing anything."""
    from importobot.commands.run import keyring_service
    from importobot.project import load_project

    if req.to not in DESTINATIONS:
        raise ConfigError(f"--to must be one of {', '.join(DESTINATIONS)}")
    if req.to == "wrapped":
        raise NotAvailableError(
            "--to wrapped is not available yet: it needs the key-backends work (a data key "
            "wrapped by an HSM, Vault/OpenBao or KMS key-encrypting key, D24); use "
            "--to keyring for now (docs/fix.md)"
        )
    cwd = start or os.getcwd()
    first = req.paths[0] if req.paths else "."
    project = load_project(os.path.join(cwd, first), req.config)
    plan = Plan(project=project, service=keyring_service(project.root), to=req.to)
    plan.active_fp, plan.active_source = _active_key(env)
    findings, _paths = _scan(req, project, cwd)
    in_git = project.in_git and os.path.isdir(project.root)

    history: list[Finding] = []
    if in_git and req.history:
        try:
            history = _history(project, req, cwd)
        except ImportobotError as exc:
            plan.notes.append(f"history not scanned: {exc}")
    committed_fps = {f.fingerprint for f in history if f.fingerprint}

    # Index state of every file with findings (tracked? index == work tree?).
    by_file: dict[str, list[Finding]] = {}
    for f in findings:
        by_file.setdefault(f.path or "", []).append(f)
    index: dict[str, list[tuple[int, str, str, bytes]]] = {}
    if in_git and by_file:
        from importobot.git import read_index_blobs

        rels = [r for r in (project.rel(os.path.join(cwd, s)) for s in by_file) if r]
        try:
            index = read_index_blobs(project.root, rels)
        except ImportobotError as exc:
            plan.notes.append(f"the index could not be read: {exc}")

    for shown, items in by_file.items():
        path = shown if os.path.isabs(shown) else os.path.join(cwd, shown)
        rel = project.rel(path)
        name = os.path.basename(path)
        entries = index.get(rel or "", [])
        tracked = bool(entries)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        import stat

        if stat.S_ISLNK(st.st_mode):
            plan.blockers.append(
                f"{printable(shown)} is a symbolic link: fix the file it points to"
            )
            for f in items:
                plan.manual.append(Manual(f, "symbolic link", "edit the target file by hand"))
            continue
        from importobot.fsio import FileRefused, read_content

        try:
            data = read_content(path, project.max_file_size)
        except FileRefused as exc:
            plan.notes.append(str(exc))
            continue
        split = _split_text(data)
        from importobot.scan.rules.files import is_env_file

        dotenv_form = is_env_file(rel or shown, project.env_globs)
        fplan = FilePlan(
            path,
            shown,
            rel,
            "dotenv" if dotenv_form else "compose",
            data,
            tracked,
            _is_template(name),
        )
        if split is not None:
            lines, fplan.bom = split
        else:
            lines = []
        for f in items:
            located = None
            if split is not None:
                if dotenv_form:
                    located = _locate_dotenv(lines, f)
                elif _compose_env(lines, f, name):
                    located = _locate_yaml(lines, f)
            if located is None:
                form, advice = _manual_advice(f, shown, plan.service)
                if split is None:
                    form, advice = "not UTF-8", "edit the file by hand"
                elif dotenv_form or _compose_env(lines, f, name):
                    form, advice = "unusual value", "move the value by hand (multi-line or quoted)"
                plan.manual.append(Manual(f, form, advice))
                continue
            idx, col, value, quote = located
            fplan.changes.append(
                Change(
                    idx,
                    col,
                    value,
                    quote,
                    variable=f.variable or "",
                    fingerprint=f.fingerprint or "",
                    key_type=f.key_type or "",
                )
            )
            exposed = f.fingerprint in committed_fps or (not req.history and tracked)
            if exposed and f.fingerprint:
                plan.exposed.setdefault(f.fingerprint, f"{shown}:{f.line}")
                plan.exposed_names.setdefault(f.fingerprint, f.variable or "")
        if fplan.changes:
            stage0 = [e for e in entries if e[0] == 0]
            if tracked and (not stage0 or stage0[0][3] != data):
                plan.blockers.append(
                    f"{printable(shown)}: its index and work-tree copies differ; commit, stage "
                    f"or discard the changes first (git diff {_sh(shown)})"
                )
            if st.st_nlink > 1:
                plan.blockers.append(f"{printable(shown)} has other hard links: not rewritten")
            plan.files.append(fplan)
            fplan.lines = lines

    # History: keys found only in commits.
    tree_fps = {f.fingerprint for f in findings}
    seen: set[str] = set()
    for f in history:
        if f.fingerprint in tree_fps or f.fingerprint in seen:
            continue
        seen.add(f.fingerprint or "")
        plan.history_only.append(f)
        plan.exposed.setdefault(f.fingerprint or "", f"{f.path} (commit {(f.commit or '')[:12]})")
        plan.exposed_names.setdefault(f.fingerprint or "", f.variable or "")

    _destinations(plan, env)
    if in_git:
        _git_steps(plan)
    plan.primary_in_keyring = _primary_marked(project.root)
    _registry_step(plan, env, now)
    if any(fp == plan.active_fp for fp in plan.exposed):
        plan.token_files = _stores(project, cwd, req)
    return plan


def _primary_marked(root: str) -> bool:
    """The root ``.env.example`` says the keyring holds ``IMPORTOBOT_ENCRYPTION_KEY``."""
    from importobot.commands.run import EXAMPLE_FILE, read_markers
    from importobot.fsio import FileRefused, read_content

    try:
        text = read_content(os.path.join(root, EXAMPLE_FILE), 1024 * 1024)
    except FileRefused:
        return False
    return _PRIMARY in read_markers(text.decode("utf-8", "replace"))


def _destinations(plan: Plan, env: Mapping[str, str] | None) -> None:
    """Where each value goes; the new file bytes; the keyring writes (pre-flighted)."""
    manager = None
    for fp in plan.files:
        for c in fp.changes:
            dest = {"keyring": "keyring", "env-example": "reference"}.get(plan.to, "encrypted")
            if dest == "encrypted" and c.fingerprint == plan.active_fp:
                dest = "keyring"  # never encrypt the active key with itself
                plan.new_key_needed = True
            if dest == "encrypted":
                if manager is None:
                    if plan.active_fp is None:
                        raise FixError(
                            "--to encrypted needs the active key (IMPORTOBOT_ENCRYPTION_KEY "
                            "or the keyring); set one up, or use --to keyring"
                        )
                    from importobot.security.credential_manager import CredentialManager

                    manager = CredentialManager(env=env)
                token = manager.encrypt_credential(c.value).token
                if manager.decrypt_credential(token) != c.value:  # pragma: no cover
                    raise FixError(f"{c.variable}: the token does not decrypt back")
                c.token = token
                c.replacement = token
            else:
                c.replacement = _reference(c)
            c.destination = dest
            if dest == "keyring":
                known = plan.keyring_writes.get(c.variable)
                if known is not None and known != c.value:
                    plan.blockers.append(
                        f"{printable(c.variable)} holds different values in different places: "
                        f"one keyring entry per variable; fix the files one at a time, or use "
                        f"--to env-example for one of them"
                    )
                plan.keyring_writes[c.variable] = c.value
            if c.fingerprint == plan.active_fp:
                plan.new_key_needed = True
        fp.new = _rewrite(fp, fp.lines)
        # An env file leaves git unless it is a template, or --to encrypted made it safe
        # to commit (tokens and references only).
        fp.leaves_git = fp.env_file and not fp.template and plan.to != "encrypted"
    # Pre-flight the keyring: an existing entry with another value stops everything.
    if plan.keyring_writes:
        from importobot.security.key_sources import keyring_get

        for user, value in plan.keyring_writes.items():
            try:
                existing = keyring_get(plan.service, user, env)
            except ImportobotError as exc:
                plan.keyring_problem = str(exc)
                break
            if existing is None:
                continue
            if existing == value:
                plan.keyring_same.add(user)
            else:
                plan.blockers.append(
                    f"the keyring entry {printable(plan.service)} / {printable(user)} already "
                    f"holds another value; nothing is overwritten (look at it with "
                    f"`keyring get {_sh(plan.service)} {_sh(user)}`, remove it with "
                    f"`keyring del …`, then run fix again)"
                )


def _git_steps(plan: Plan) -> None:
    """Ignore rules, untracking and ``.env.example`` for the env files being fixed."""
    from importobot.commands.run import EXAMPLE_FILE, marker_line
    from importobot.git import not_ignored

    root = plan.project.root
    rules: list[str] = []
    for fp in plan.files:
        if not fp.leaves_git:
            continue
        if fp.rel is not None and not_ignored(root, [fp.rel]):
            for rule in _ignore_rules(plan.project, fp):
                if rule not in rules:
                    rules.append(rule)
        if fp.tracked:
            plan.untrack.append(fp)
    gitignore = os.path.join(root, ".gitignore")
    plan.gitignore_path = gitignore
    if rules:
        try:
            with open(gitignore, "rb") as handle:
                current = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            current = []
        plan.ignore_rules = [r for r in rules if r not in (line.strip() for line in current)]
    # .env.example beside each fixed env file: every variable of a file that leaves git,
    # and a marker for each value moved to the keyring (read by `importobot run`).
    by_dir: dict[str, list[FilePlan]] = {}
    for fp in plan.files:
        to_keyring = any(c.destination == "keyring" for c in fp.changes)
        if fp.env_file and (fp.leaves_git or to_keyring):
            by_dir.setdefault(os.path.dirname(fp.path), []).append(fp)
    from importobot import dotenv

    for directory, plans in by_dir.items():
        target = os.path.join(directory, EXAMPLE_FILE)
        variables: list[str] = []
        markers: dict[str, str] = {}
        for fp in plans:
            if fp.leaves_git:
                for e in dotenv.parse(fp.old.decode("utf-8", "replace")):
                    if not e.commented and e.name not in variables:
                        variables.append(e.name)
            for c in fp.changes:
                if c.destination == "keyring":
                    markers[c.variable] = marker_line(c.variable, plan.service)
                    if c.variable not in variables:
                        variables.append(c.variable)
        same = next((fp for fp in plan.files if fp.path == target), None)
        old: bytes | None
        if same is not None:
            old, base = same.old, same.new  # the template itself is being rewritten
        elif os.path.islink(target):
            plan.blockers.append(f"{printable(target)} is a symbolic link: not rewritten")
            continue
        else:
            try:
                with open(target, "rb") as handle:
                    old = handle.read(1024 * 1024)
            except FileNotFoundError:
                old = None
            except OSError as exc:
                plan.blockers.append(f"{printable(target)}: cannot be read ({exc.strerror})")
                continue
            base = old or b""
        new = _example_text(base or None, variables, markers, header=old is None)
        if same is not None:
            same.new = new
            plan.examples[target] = (old, new)
        elif new != base:
            plan.examples[target] = (old, new)


def _registry_step(plan: Plan, env: Mapping[str, str] | None, now: datetime | None) -> None:
    """Exposed fingerprints not yet marked compromised, when the registry is in use."""
    from importobot.keys.fingerprint import is_fingerprint
    from importobot.keys.registry import Registry

    if not plan.exposed:
        return
    path = plan.project.registry_path()
    in_use = (
        os.path.isfile(path)
        or plan.project.key_checks_on(env)
        or (plan.active_fp is not None and plan.active_fp in plan.exposed)
    )
    if not in_use:
        plan.registry_note = (
            "not recorded as compromised: this repository has no key registry (key checks "
            "are not configured); `importobot key register` creates one"
        )
        return
    registry = Registry.load(path, now=now)
    plan.registry_path = path
    for fp in plan.exposed:
        record = registry.get(fp)
        if record is not None and record.compromised is not None:
            plan.recorded.add(fp)
        elif is_fingerprint(fp):
            plan.compromised_new.append(fp)


# ----------------------------------------------------------------------------- applying


def _apply(plan: Plan, env: Mapping[str, str] | None, now: datetime | None) -> list[str]:
    """Do the plan: keyring entries (read back), files (crash-safely), registry, then git.

    A failure up to the registry undoes what was done (files put back, entries created
    deleted) and raises :class:`FixError`; a git failure after that says what is left.
    """
    from importobot.fsio import replace_file_durably
    from importobot.keys.age import utc_now
    from importobot.security.key_sources import keyring_delete, keyring_get, keyring_set

    done: list[str] = []
    created: list[str] = []
    written: list[tuple[str, bytes | None]] = []
    try:
        for user, value in plan.keyring_writes.items():
            if user in plan.keyring_same:
                continue
            keyring_set(plan.service, user, value, env)
            created.append(user)
            if keyring_get(plan.service, user, env) != value:
                raise FixError(f"the keyring entry for {printable(user)} did not read back")
        if created:
            done.append(f"stored {plural(len(created), 'value')} in the OS keyring")
        for target, (old, new) in plan.examples.items():
            replace_file_durably(target, new)
            written.append((target, old))
        if plan.ignore_rules:
            try:
                with open(plan.gitignore_path, "rb") as handle:
                    old_ignore: bytes | None = handle.read()
            except FileNotFoundError:
                old_ignore = None
            base = old_ignore or b""
            if base and not base.endswith(b"\n"):
                base += b"\n"
            block = "# importobot fix: env files hold secrets; keep them out of git\n"
            block += "".join(f"{rule}\n" for rule in plan.ignore_rules)
            replace_file_durably(plan.gitignore_path, base + block.encode())
            written.append((plan.gitignore_path, old_ignore))
        for fp in plan.files:
            if fp.path not in plan.examples:  # a template was written with the examples
                replace_file_durably(fp.path, fp.new)
                written.append((fp.path, fp.old))
        if plan.compromised_new and plan.registry_path:
            from importobot.keys.registry import Registry

            moment = (now or utc_now()).replace(microsecond=0)
            try:
                with open(plan.registry_path, "rb") as handle:
                    old_registry: bytes | None = handle.read()
            except FileNotFoundError:
                old_registry = None
            registry = Registry.load(plan.registry_path, now=moment)
            for fingerprint in plan.compromised_new:
                where = plan.exposed.get(fingerprint, "")
                safe = not _KEYISH_RUN.search(where)
                registry.mark_compromised(
                    fingerprint, moment, f"exposed: committed in {where}" if safe else None
                )
            registry.save()
            written.append((plan.registry_path, old_registry))
    except (ImportobotError, OSError) as exc:
        for path, old in reversed(written):
            try:
                if old is None:
                    os.unlink(path)
                else:
                    replace_file_durably(path, old)
            except (ImportobotError, OSError):  # pragma: no cover - best effort
                pass
        for user in created:
            try:
                keyring_delete(plan.service, user, env)
            except ImportobotError:  # pragma: no cover - best effort
                pass
        raise FixError(f"{exc}; nothing was changed") from None
    if plan.files:
        done.append(f"rewrote {plural(len(plan.files), 'file')}")
    if plan.compromised_new and plan.registry_path:
        done.append(
            f"marked {plural(len(plan.compromised_new), 'key')} compromised in "
            f"{printable(os.path.relpath(plan.registry_path, plan.project.root))}"
        )
    if plan.project.in_git:
        from importobot.git import stage, untrack

        root = plan.project.root
        untracked = [fp.rel for fp in plan.untrack if fp.rel]
        try:
            untrack(root, untracked)
        except ImportobotError as exc:
            words = " ".join(_sh(r) for r in untracked)
            raise FixError(
                f"the files were rewritten, but {exc}: run git rm --cached {words} and "
                f"git add the rest yourself"
            ) from None
        if untracked:
            done.append(f"untracked {', '.join(printable(r) for r in untracked)}")
        to_stage: list[str] = []
        for fp in plan.files:
            if fp.tracked and not fp.leaves_git and fp.rel and fp.path not in plan.examples:
                to_stage.append(fp.rel)
        for path in [*plan.examples, plan.gitignore_path if plan.ignore_rules else ""]:
            rel = plan.project.rel(path) if path else None
            if rel:
                to_stage.append(rel)
        if plan.compromised_new and plan.registry_path:
            rel = plan.project.rel(plan.registry_path)
            if rel:
                to_stage.append(rel)
        try:
            stage(root, to_stage)
        except ImportobotError as exc:
            raise FixError(f"the files were rewritten, but {exc}: git add them yourself") from None
        if to_stage:
            done.append(f"staged {', '.join(printable(r) for r in to_stage)}")
    _emit_applied(plan)
    return done


def _emit_applied(plan: Plan) -> None:
    """One ``fix.applied`` security event (D23) when a sink is configured: counts, the
    destination and the fingerprints marked compromised — never a value."""
    from importobot.events import configured, emit_event

    project = plan.project
    if not configured(project.root, project.settings):
        return
    moved = [c for fp in plan.files for c in fp.changes]
    fields: dict[str, object] = {
        "severity": "notice",
        "counts": {
            "moved": len(moved),
            "files": len(plan.files),
            "untracked": len(plan.untrack),
            "compromised": len(plan.compromised_new),
            "manual": len(plan.manual),
        },
        "payload": {
            "to": plan.to,
            "compromised_fps": tuple(plan.compromised_new),
        },
    }
    if plan.active_fp is not None and plan.active_fp in plan.exposed:
        fields["fingerprint"] = plan.active_fp
    repository = project.origin_url()
    if repository:
        fields["repository"] = repository
    emit_event("fix.applied", root=project.root, settings=project.settings, **fields)


# ----------------------------------------------------------------------------- printing


def _dest_text(plan: Plan, c: Change) -> str:
    if c.destination == "keyring":
        extra = " (already there)" if c.variable in plan.keyring_same else ""
        why = (
            " — the active key is never encrypted with itself"
            if (plan.to == "encrypted" and c.fingerprint == plan.active_fp)
            else ""
        )
        return (
            f"to the OS keyring {printable(plan.service)} / {printable(c.variable)}{extra}; "
            f"the file gets {printable(c.replacement)}{why}"
        )
    if c.destination == "encrypted":
        return "replaced by an importobot encrypt token under the active key"
    return f"replaced by {printable(c.replacement)}; the value is discarded: rotate it"


def _render(plan: Plan, applied: list[str] | None) -> str:
    out: list[str] = []
    say = out.append
    root = plan.project.root
    if applied is None:
        say("importobot fix: the plan (a dry run: nothing changed; --apply does it)")
    else:
        say("importobot fix: applied")
    for fp in plan.files:
        kind = "env file" if fp.env_file else "compose environment:"
        state = "tracked" if fp.tracked else "not tracked"
        say("")
        say(f"{printable(fp.shown)} ({kind}, {state})")
        for c in fp.changes:
            say(
                f"  line {c.line + 1} {printable(c.variable)} {c.fingerprint}: "
                f"{_dest_text(plan, c)}"
            )
        if fp in plan.untrack:
            say(f"  untrack: git rm --cached {_sh(fp.rel or fp.shown)}")
        elif fp.tracked:
            say(f"  stage the rewritten file (git add {_sh(fp.rel or fp.shown)})")
        if fp.env_file and not fp.leaves_git and not fp.template:
            say("  stays in git: it now holds only tokens and references")
    if plan.ignore_rules:
        say("")
        say(f".gitignore gets: {'  '.join(plan.ignore_rules)}")
    for target, (old, _new) in plan.examples.items():
        verb = "updated" if old is not None else "written"
        shown = os.path.relpath(target, root)
        say(f"{printable(shown)} {verb}: placeholders (and keyring markers for importobot run)")
    if plan.manual:
        say("")
        say("by hand (fix does not rewrite these):")
        for m in plan.manual:
            f = m.finding
            say(
                f"  {printable(f.path or '')}:{f.line} {printable(f.variable or '-')} "
                f"{f.fingerprint} [{m.form}]: {m.advice}"
            )
    if plan.history_only:
        say("")
        say("found only in history (a committed key is exposed for good):")
        for f in plan.history_only:
            known = " (recorded as compromised)" if f.fingerprint in plan.recorded else ""
            say(
                f"  {printable(f.path or '')}:{f.line} {printable(f.variable or '-')} "
                f"{f.fingerprint} (commit {(f.commit or '')[:12]}){known}"
            )
        say(
            "  importobot does not rewrite history: rotate these keys (below). To purge them "
            f"from history too, use git filter-repo --replace-text ({_FILTER_REPO}) and "
            "force-push; every clone keeps the old commits until it is re-cloned"
        )
    if plan.exposed:
        say("")
        if plan.compromised_new and plan.registry_path:
            rel = os.path.relpath(plan.registry_path, root)
            verb = "marked" if applied is not None else "to mark"
            say(
                f"exposed keys {verb} compromised in {printable(rel)} (IOB204 fires wherever "
                f"one is still configured): {', '.join(plan.compromised_new)}"
            )
        elif plan.registry_note:
            say(plan.registry_note)
        say(_runbook(plan))
    if plan.untrack:
        say("")
        say(
            "teammates: once this is pushed, their next `git pull` deletes their working "
            "copy of the untracked file(s). Before pulling they can keep it (cp FILE "
            "FILE.keep); after, they restore it with:"
        )
        for fp in plan.untrack:
            rel = fp.rel or fp.shown
            if _sh(rel) == rel:
                say(f'  git show "$(git rev-list -n 1 HEAD -- {rel})^:{rel}" > {rel}')
            else:
                say(
                    f"  git show COMMIT^:PATH > PATH, COMMIT = git rev-list -n 1 HEAD -- {_sh(rel)}"
                )
    if plan.files and applied is not None:
        say("")
        say("start the application with `importobot run -- CMD` (it sets the keyring values)")
        if plan.project.in_git:
            say('then commit: git commit -m "Move keys out of git (importobot fix)"')
    if applied:
        say("")
        say("done: " + "; ".join(applied))
    if not plan.something_to_do() and not plan.exposed:
        say("nothing to fix: no plaintext key in the files scanned")
    return "\n".join(out) + "\n"


def _runbook(plan: Plan) -> str:
    """The rotation the exposed keys call for, as commands."""
    lines = ["rotation (the old values stay exposed until they are replaced):"]
    service = _sh(plan.service)
    moved = {
        c.fingerprint: c for fp in plan.files for c in fp.changes if c.destination == "keyring"
    }
    for fp in plan.exposed:
        if fp != plan.active_fp:
            where = plan.exposed[fp]
            name = _sh(plan.exposed_names.get(fp) or "VARIABLE")
            lines.append(
                f"  {fp} ({printable(where)}): replace it where it was issued, then store the "
                f"new value: keyring set {service} {name} (prompts; never on argv)"
            )
            continue
        c = moved.get(fp)
        managed = (c is not None and c.variable == _PRIMARY) or plan.primary_in_keyring
        lines.append(f"  the active key {fp} ({_ROTATION_DOCS}):")
        if managed:
            # fix put it in the keyring and `importobot run` hands it to importobot itself.
            prefix = "importobot run -- "
            lines.append(
                f"    importobot key store --generate --overwrite --service {service} "
                f"--username {_PRIMARY}   # the new primary; the old one stays readable as "
                f"{_PRIMARY}.previous (importobot run passes it as IMPORTOBOT_PREVIOUS_KEYS)"
            )
        else:
            prefix = ""
            source = printable(plan.active_source or "the key")
            lines.append(
                f"    importobot key generate   # the new primary: set it where {source} is "
                f"set, and put the old key in IMPORTOBOT_PREVIOUS_KEYS (decrypt only)"
            )
            if c is not None:
                lines.append(
                    f"    keyring set {service} {_sh(c.variable)}   # the new key for the "
                    f"application too (prompts)"
                )
        lines.append(f"    {prefix}importobot key register")
        if plan.token_files:
            files = " ".join(_sh(f) for f in plan.token_files)
            lines.append(f"    {prefix}importobot rotate files {files}")
        else:
            lines.append(
                f"    # no file here holds Fernet tokens; rotate every other store the key "
                f"encrypts: {prefix}importobot rotate sqlite|postgresql|files …"
            )
        lines.append(f"    {prefix}importobot key retire {fp}")
        if managed:
            lines.append(
                f"    keyring del {service} {_PRIMARY}.previous   "
                f"# then nothing configures the old key"
            )
        else:
            lines.append("    # then remove the old key from IMPORTOBOT_PREVIOUS_KEYS")
    if plan.new_key_needed and plan.to == "encrypted":
        lines.append(
            "  the active key was in the file: it went to the keyring, never encrypted with "
            "itself; the values encrypted now use it, so the rotation above re-encrypts them"
        )
    return "\n".join(lines)


# -------------------------------------------------------------------------------- entry


def run_fix(
    req: FixRequest,
    *,
    start: str | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Plan (and with ``req.apply`` do) the fix; the outcome holds the text and exit code."""
    plan = build_plan(req, start=start, env=env, now=now)
    notes = "".join(f"importobot: {printable(n)}\n" for n in plan.notes)
    if not req.apply:
        text = _render(plan, None)
        problems = list(plan.blockers)
        if plan.keyring_problem:
            problems.append(f"the keyring cannot be read: {plan.keyring_problem}")
        text += "".join(f"--apply would stop here: {p}\n" for p in problems)
        return Outcome(text, 1 if plan.something_to_do() else 0, notes)
    if plan.blockers:
        raise FixError("; ".join(plan.blockers) + "; nothing was changed")
    if plan.keyring_problem:
        raise FixError(f"{plan.keyring_problem}; nothing was changed")
    if not plan.something_to_do():
        return Outcome(_render(plan, []), 0, notes)
    applied = _apply(plan, env, now)
    return Outcome(_render(plan, applied), 0, notes)
