"""``importobot-pre-receive``: the server-side gate (git's pre-receive protocol, D26).

git runs the hook once per push, in the receiving repository, with one ``OLD NEW REF``
line per updated ref on stdin, *before* any ref moves and with the pushed objects in a
quarantine directory (``GIT_QUARANTINE_PATH``, ``GIT_OBJECT_DIRECTORY``,
``GIT_ALTERNATE_OBJECT_DIRECTORIES``; every git child gets them through
:func:`importobot.git.scrubbed_environ`). A non-zero exit rejects the whole push.

What it judges: the lines *added* by the pushed commits that no existing ref reaches
(``git log -p NEW… --not --all``: one pass for every ref, so a new branch is judged only
on its own commits and a commit already on the server is never judged twice); deleted
refs are skipped.

Where its rules come from: ``--config FILE`` (the server's), else the repository's
default branch **before** the push (``HEAD``'s commit: ``.importobot.toml``, or
``pyproject.toml`` with ``[tool.importobot]``; the baseline that configuration names is
read from the same commit) — never from the pushed tip, so a push cannot bring its own
``exclude = ["**"]`` with its key. Inline ignore pragmas are not honoured and no key
checks run (``--no-inline-ignores --no-key-check`` implied). A push that changes the
configuration or baseline is said so: the change takes effect once it is on the default
branch.

Limits: ``--max-commits N`` and ``--time-budget SECONDS`` (default 4 s: GitHub Enterprise
Server stops a pre-receive hook at 5 s) bound the work of a first push of a long
history. When a limit is hit and nothing was found in what was scanned, ``--fail-open``
accepts the push with a warning; the default (fail-closed) rejects it with a message.

Exit: 0 accept, 1 reject (a key, or a limit under fail-closed), 2 usage or configuration
error (which rejects too). Output names findings by fingerprint, never by value.

Start-up (D17 style): no click, argparse, json or typing on this path; TOML, JSON and
temp files are loaded only when the server has configuration or a baseline to read.
"""

from __future__ import annotations

import os
import sys
import time

from importobot._text import printable
from importobot.hooks._common import console_script

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from importobot.config import Settings
    from importobot.scan.finding import Finding
    from importobot.scan.sources import Item

__all__ = ["DEFAULT_TIME_BUDGET", "USAGE", "main", "parse_updates", "run"]

PROG = "importobot-pre-receive"
#: Seconds; GitHub Enterprise Server kills a pre-receive hook after 5 s.
DEFAULT_TIME_BUDGET = 4.0

USAGE = """\
usage: importobot-pre-receive [--config FILE] [--baseline FILE] [--max-commits N]
                              [--time-budget SECONDS] [--fail-open]

Server-side git pre-receive hook: reads "OLD NEW REF" lines on stdin and rejects the
push when the pushed commits add a plaintext encryption key. Only commits no existing
ref reaches are judged; deleted refs are skipped.

  --config FILE          the server's configuration (default: .importobot.toml or
                         pyproject.toml [tool.importobot] on the default branch as it
                         was before this push; never the pushed one)
  --baseline FILE        the server's baseline (default: the one that configuration
                         names, read from the same commit)
  --max-commits N        judge at most N new commits per push
  --time-budget SECONDS  stop after this long (default 4; 0 = no limit)
  --fail-open            when a limit is hit and nothing was found, accept the push
                         with a warning (default: reject it)
Inline ignore pragmas are not honoured and no key checks run.
Exit: 0 accept, 1 reject, 2 usage or configuration error (rejects too).
"""

_HEX = frozenset("0123456789abcdef")
#: Paths whose change a push is told about (plus the configured baseline and registry).
_CONFIG_FILES = (".importobot.toml", "pyproject.toml")


class _OutOfTime(Exception):
    """The time budget ran out between two files."""


def _is_oid(text: str) -> bool:
    return len(text) in (40, 64) and set(text) <= _HEX


def parse_updates(data: bytes) -> list[tuple[str, str, str]]:
    """``(old, new, ref)`` per stdin line; :class:`UsageError` on anything else."""
    from importobot.hooks._common import UsageError

    updates: list[tuple[str, str, str]] = []
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        parts = raw.decode("utf-8", "surrogateescape").split(" ", 2)
        if len(parts) != 3 or not _is_oid(parts[0]) or not _is_oid(parts[1]) or not parts[2]:
            raise UsageError(f"stdin line {number} is not 'OLD NEW REF' (git's pre-receive input)")
        updates.append((parts[0], parts[1], parts[2]))
    return updates


# ------------------------------------------------------------------------ configuration


# Not a record: the gate's state, filled in step by step while the push is read.
class _Rules:
    """What the gate applies: settings, baseline entries, and where they came from."""

    __slots__ = ("baseline", "baseline_rel", "origin", "settings")

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.baseline: set[tuple[str, str, str]] = set()
        self.baseline_rel: str | None = None
        self.origin = "built-in defaults"


def _load_blob_settings(data: bytes, name: str, label: str) -> Settings:
    """Settings from a configuration file's bytes (read from a commit), named ``label``."""
    import tempfile
    from pathlib import Path

    from importobot.config import load_settings
    from importobot.exceptions import ConfigError

    with tempfile.TemporaryDirectory(prefix="importobot-pre-receive-") as tmp:
        path = os.path.join(tmp, name)
        with open(path, "wb") as handle:
            handle.write(data)
        try:
            return load_settings(Path(tmp), Path(path))
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(path, label)) from None


def _load_blob_baseline(data: bytes, label: str) -> set[tuple[str, str, str]]:
    import tempfile

    from importobot.exceptions import ConfigError
    from importobot.scan.baseline import load_baseline

    with tempfile.TemporaryDirectory(prefix="importobot-pre-receive-") as tmp:
        path = os.path.join(tmp, "baseline.json")
        with open(path, "wb") as handle:
            handle.write(data)
        try:
            return load_baseline(path)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(path, label)) from None


def _rules(cwd: str, config: str | None, baseline: str | None) -> _Rules:
    """The server's configuration, else the default branch's before the push."""
    from importobot.git import head_ref, resolve_commit, show

    rules = _Rules()
    branch = head_ref(cwd)
    base = resolve_commit(cwd, branch) if branch is not None else None
    short = (branch or "HEAD").removeprefix("refs/heads/")
    if config is not None:
        from pathlib import Path

        from importobot.config import load_settings

        rules.settings = load_settings(Path(cwd), Path(config))
        rules.origin = f"the server's {config}"
    elif base is not None:
        for name in _CONFIG_FILES:
            data = show(cwd, base, name)
            if data is None or (name == "pyproject.toml" and b"tool.importobot" not in data):
                continue
            label = f"{short}:{name}"
            rules.settings = _load_blob_settings(data, name, label)
            rules.origin = f"{label} before this push"
            break
    if baseline is not None:
        from importobot.scan.baseline import load_baseline

        rules.baseline = load_baseline(baseline)
    elif rules.settings is not None and rules.settings.baseline:
        # A baseline lists repository paths: it is read from the default branch as it was
        # before the push, whichever configuration named it.
        rel = _repo_path(rules.settings.baseline)
        rules.baseline_rel = rel
        data = show(cwd, base, rel) if base is not None and rel else None
        if data is not None:
            rules.baseline = _load_blob_baseline(data, f"{short}:{rel}")
    return rules


def _repo_path(name: str) -> str | None:
    """A configured root-relative path as a tree path (``None`` when it leaves the tree)."""
    import posixpath

    rel = posixpath.normpath(name.replace(os.sep, "/")).lstrip("/")
    if rel in ("", ".") or rel == ".." or rel.startswith("../"):
        return None
    return rel


# --------------------------------------------------------------------------------- scan


def _bounded(items: Iterable[Item], deadline: float | None) -> Iterator[Item]:
    for item in items:
        if deadline is not None and time.monotonic() > deadline:
            raise _OutOfTime
        yield item


def _config_changes(cwd: str, revs: list[str], rules: _Rules, tips: Sequence[str]) -> list[str]:
    """The configuration and baseline files this push changes (told, never obeyed)."""
    from importobot.git import changed_paths, show

    watched = list(_CONFIG_FILES)
    if rules.baseline_rel:
        watched.append(rules.baseline_rel)
    if rules.settings is not None:
        registry = _repo_path(rules.settings.registry)
        if registry:
            watched.append(registry)
    changed = changed_paths(cwd, revs, watched)
    if "pyproject.toml" in changed and "pyproject.toml" not in rules.origin:
        # Only a pyproject.toml that (now) holds our table is configuration.
        if not any(b"tool.importobot" in (show(cwd, t, "pyproject.toml") or b"") for t in tips):
            changed.remove("pyproject.toml")
    return changed


def _line(f: Finding) -> str:
    where = f"{printable(f.path or '')}:{f.line or 0}:{f.column or 0}"
    variable = printable(f.variable) if f.variable else "-"
    return f"{where} {f.rule} {variable} {f.fingerprint or '-'} {printable(f.message)}\n"


def _emit_rejected(errors: list[Finding], cwd: str, rules: _Rules, server_config: bool) -> None:
    """``push.rejected`` security events (D23), one per finding, when a sink is configured.

    Sinks come from the operator's events configuration (``IMPORTOBOT_EVENTS_CONFIG`` or
    ``$XDG_CONFIG_HOME/importobot/events.toml``) and the server's ``--config``; never from
    the pushed repository's own configuration: its owner does not choose where a server
    sends its events.
    """
    from importobot.events import emit_findings

    settings = rules.settings if server_config else None
    emit_findings(errors, "push.rejected", root=cwd, settings=settings)


def run(
    updates: Sequence[tuple[str, str, str]],
    *,
    cwd: str = ".",
    config: str | None = None,
    baseline: str | None = None,
    max_commits: int | None = None,
    time_budget: float | None = DEFAULT_TIME_BUDGET,
    fail_open: bool = False,
    started: float | None = None,
) -> int:
    """Judge one push; print findings and the verdict; return the exit code."""
    from importobot._text import plural
    from importobot.git import GitTimeout, count_commits
    from importobot.project import DEFAULT_MAX_FILE_SIZE
    from importobot.scan.finding import ScanResult
    from importobot.scan.sources import history_items, scan_items

    start = time.monotonic() if started is None else started
    deadline = start + time_budget if time_budget else None
    out = sys.stdout
    news = list(dict.fromkeys(new for _old, new, _ref in updates if set(new) != {"0"}))
    if not news:
        return 0  # only deletions
    rules = _rules(cwd, config, baseline)
    revs = [*news, "--not", "--all"]
    limited = ""
    if max_commits is not None:
        total = count_commits(cwd, revs)
        if total > max_commits:
            if not fail_open:
                out.write(
                    f"importobot: push rejected: it adds {total} new commits, over this "
                    f"server's limit of {max_commits} that the key check judges per push; "
                    f"push in smaller parts, or ask an administrator\n"
                )
                return 1
            limited = f"only the newest {max_commits} of {total} new commits were judged"
            revs = [f"--max-count={max_commits}", *revs]

    settings = rules.settings
    result = ScanResult()
    commits: set[str] = set()
    timeout = max(deadline - time.monotonic(), 0.0) if deadline is not None else None
    items = history_items(cwd, None, (), commits, revs=revs, timeout=timeout)
    env_globs = tuple(settings.env_files) if settings is not None else ()
    vendor = None
    if settings is None or not settings.include_vendored:
        from importobot.scan.vendored import VendorJudge

        vendor = VendorJudge(cwd, env_globs=env_globs)  # manifests from each commit's tree
    try:
        scan_items(
            _bounded(items, deadline),
            result,
            env_globs=env_globs,
            max_size=settings.max_file_size if settings is not None else DEFAULT_MAX_FILE_SIZE,
            inline_ignores=False,
            exclude=tuple(settings.exclude) if settings is not None else (),
            vendor=vendor,
        )
    except (GitTimeout, _OutOfTime):
        limited = limited or (
            f"the time budget of {time_budget:g} s ran out after "
            f"{plural(len(commits), 'commit')} (the pushed commits were not all judged)"
        )
    if rules.baseline:
        from importobot.scan.baseline import apply_baseline

        apply_baseline(result, rules.baseline)
    active = [f for f in result.findings if f.suppressed is None]
    active.sort(key=lambda f: (*f.sort_key(), f.commit or ""))
    for f in active:
        out.write(_line(f))
    if vendor is not None:
        vendor.close()  # (scan_items closes it too, unless the time budget stopped it)
        from importobot.scan.vendored import vendored_note

        before = len(result.notes)
        vendored_note(result)
        for note in result.notes[before:]:
            out.write(f"importobot: note: {note}\n")
    changed = _config_changes(cwd, revs, rules, news) if not limited else []
    for rel in changed:
        out.write(
            f"importobot: note: this push changes {printable(rel)}; the gate used "
            f"{printable(rules.origin)} (a change takes effect once it is on the default branch)\n"
        )
    errors = [f for f in active if f.severity == "error"]
    if errors:
        files = sorted({f.path or "" for f in errors})
        out.write(
            f"importobot: push rejected: {plural(len(errors), 'plaintext key')} in the pushed "
            f"commits ({', '.join(printable(p) for p in files)}); nothing was stored on this "
            f"server. Take the key out of those commits (git rebase -i / git commit --amend; "
            f"`importobot fix` moves the value to the OS keyring), then push again; if it "
            f"reached any other remote, treat it as exposed and rotate it. Inline ignore "
            f"pragmas are not honoured here.\n"
        )
        _emit_rejected(errors, cwd, rules, config is not None)
        return 1
    if limited:
        if fail_open:
            out.write(f"importobot: warning: {limited}; accepted (this server fails open)\n")
            return 0
        out.write(
            f"importobot: push rejected: {limited}, and this server fails closed; push in "
            f"smaller parts, or ask an administrator\n"
        )
        return 1
    return 0


def _number(text: str | None, name: str, *, integer: bool) -> float | None:
    from importobot.hooks._common import UsageError

    if text is None:
        return None
    raw = text.strip().lower()
    scale = 1.0
    if not integer:
        if raw.endswith("ms"):
            raw, scale = raw[:-2], 0.001
        elif raw.endswith("s"):
            raw = raw[:-1]
    try:
        value = int(raw) if integer else float(raw) * scale
    except ValueError:
        raise UsageError(f"{name} needs a number, got {text!r}") from None
    if value < 0 or value != value:
        raise UsageError(f"{name} must not be negative")
    return value


def main(argv: Sequence[str] | None = None, stdin: bytes | None = None) -> int:
    """Parse argv (by hand, as the other hooks), read stdin, judge the push."""
    from importobot.hooks._common import option, run_hook

    started = time.monotonic()

    def body(opts: dict[str, str | bool], positional: list[str]) -> int:
        from importobot.hooks._common import UsageError

        if positional:
            raise UsageError("no arguments expected (the refs come on stdin)")
        max_commits = _number(option(opts, "--max-commits"), "--max-commits", integer=True)
        budget = _number(option(opts, "--time-budget"), "--time-budget", integer=False)
        data = stdin if stdin is not None else sys.stdin.buffer.read(16 * 1024 * 1024)
        return run(
            parse_updates(data),
            cwd=os.getcwd(),
            config=option(opts, "--config"),
            baseline=option(opts, "--baseline"),
            max_commits=int(max_commits) if max_commits is not None else None,
            time_budget=DEFAULT_TIME_BUDGET if budget is None else budget,
            fail_open=bool(opts.get("--fail-open")),
            started=started,
        )

    return run_hook(
        PROG,
        USAGE,
        argv,
        {"--fail-open"},
        {"--config", "--baseline", "--max-commits", "--time-budget"},
        body,
    )


console = console_script(main)


if __name__ == "__main__":
    raise SystemExit(main())
