"""``importobot-block-keys``: fail if a passed file holds a plaintext key (IOB101/IOB102).

What is scanned (D12): for each passed path with a stage-0 index entry, the index blob
(what the commit will hold — all blobs through one ``git cat-file --batch``, which
honours ``GIT_INDEX_FILE``), and the work-tree copy too when it differs, its findings
labelled ``unstaged``. Unmerged paths scan stages 2 and 3; intent-to-add entries and
paths git does not track are read from the work tree. Files with a git ``filter``
attribute (git-crypt, transcrypt) are judged by their index blob only.

Start-up is the hook's whole cost (D17): this path imports no click, argparse,
cryptography, keyring, json or typing; it reads configuration only when a byte search
finds ``[tool.importobot]``, and it calls git once, only when a passed path may be
tracked. Exit 0 clean, 1 a key was found, 2 usage error or nothing could be read.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from importobot.config import Settings
    from importobot.scan.finding import Finding

__all__ = ["HINT", "USAGE", "main", "run"]

USAGE = """\
usage: importobot-block-keys [--baseline FILE] [--no-inline-ignores] FILE...

Fail if a passed file holds a plaintext encryption key. Staged files are judged by
their index content (what the commit holds) and by their work-tree copy where it differs.

  --baseline FILE       accepted findings (default: [tool.importobot] baseline)
  --no-inline-ignores   ignore '# importobot: ignore[...]' and allowlist pragmas
Exit: 0 clean, 1 key found, 2 usage error or nothing could be read.
"""

#: The one-line fix printed after findings.
HINT = (
    "importobot: fix: move the value to the OS keyring (importobot key store) or an "
    "untracked file, or commit it encrypted (importobot encrypt); then stage the file "
    "again. A known, accepted key: importobot check --baseline FILE --update-baseline."
)

#: Same default as importobot.config.DEFAULT_MAX_FILE_SIZE (a test keeps them equal).
_DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024


class _Source:
    """Bytes of one passed path to scan, with a label (``None``, ``unstaged``, …)."""

    __slots__ = ("data", "label", "shown")

    def __init__(self, shown: str, data: bytes, label: str | None) -> None:
        self.shown = shown
        self.data = data
        self.label = label


def _read_work_tree(path: str, max_size: int) -> tuple[bytes | None, str | None]:
    """``(data, None)`` or ``(None, reason)`` for the file at ``path``."""
    try:
        if os.path.isdir(path):
            return None, "is a directory (the hook takes files)"
        with open(path, "rb") as handle:
            data = handle.read(max_size + 1)
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc.__class__.__name__})"
    if len(data) > max_size:
        return None, "too-large"
    return data, None


def _collect(
    files: Sequence[str], root: str, in_git: bool, max_size: int, err: list[str]
) -> tuple[list[_Source], int]:
    """What to scan for each passed path, following D12; returns (sources, empty files)."""
    from importobot.scan.git import EMPTY_BLOB, filtered_paths

    rels: list[str] = []
    for f in files:
        rel = os.path.relpath(os.path.abspath(f), root)
        rels.append(rel.replace(os.sep, "/"))
    blobs: dict[str, list[tuple[int, str, str, bytes]]] = {}
    filtered: set[str] = set()
    if in_git:
        from importobot.scan.git import index_path, maybe_tracked, read_index_blobs

        inside = [r for r in rels if not r.startswith("../")]
        if inside and (os.environ.get("GIT_DIR") or maybe_tracked(index_path(root), inside)):
            blobs = read_index_blobs(root, inside)
            if blobs:
                filtered = filtered_paths(root, [r for r in inside if r in blobs])
    sources: list[_Source] = []
    empty = 0
    for shown, rel in zip(files, rels, strict=True):
        entries = blobs.get(rel)
        if not entries:
            data, why = _read_work_tree(shown, max_size)
            if data is None:
                err.append(f"{shown}: {why}")
            elif data:
                sources.append(_Source(shown, data, None))
            else:
                empty += 1
            continue
        stage0 = [e for e in entries if e[0] == 0]
        if not stage0:  # unmerged: ours and theirs
            for stage, _oid, _kind, data in entries:
                sources.append(_Source(shown, data, "ours" if stage == 2 else "theirs"))
            continue
        _stage, oid, kind, staged = stage0[0]
        if kind != "blob":
            err.append(f"{shown}: a submodule, not scanned")
            continue
        if len(staged) > max_size:
            err.append(f"{shown}: too-large")
            continue
        if rel in filtered:
            # git-crypt & co.: the index holds ciphertext, the work tree the plaintext.
            sources.append(_Source(shown, staged, None))
            continue
        work, _why = _read_work_tree(shown, max_size)
        if oid == EMPTY_BLOB and work:
            sources.append(_Source(shown, work, None))  # intent-to-add (or staged empty)
            continue
        if staged:
            sources.append(_Source(shown, staged, None))
        else:
            empty += 1
        if work and work != staged:
            sources.append(_Source(shown, work, "unstaged"))
    return sources, empty


def _load_baseline(
    root: str, explicit: str | None, settings: Settings | None
) -> set[tuple[str, str, str]]:
    name = explicit or (settings.baseline if settings is not None else None)
    if not name:
        return set()
    from pathlib import Path

    from importobot.scan.baseline import load_baseline

    path = Path(name)
    if not path.is_absolute() and explicit is None:
        path = Path(root) / path
    return load_baseline(path)


def _line(f: Finding, label: str | None) -> str:
    where = f"{f.path}:{f.line or 0}:{f.column or 0}"
    extra = f" [{label}]" if label else ""
    return f"{where} {f.rule} {f.variable or '-'} {f.fingerprint or '-'} {f.message}{extra}\n"


def run(files: Sequence[str], *, baseline: str | None = None, inline_ignores: bool = True) -> int:
    """Scan ``files`` as D12 says, print findings and the fix hint; return the exit code."""
    from importobot.hooks._common import repo_root, settings_for

    root = repo_root()
    in_git = bool(os.environ.get("GIT_DIR")) or os.path.exists(os.path.join(root, ".git"))
    settings = settings_for(root)
    max_size = settings.max_file_size if settings is not None else _DEFAULT_MAX_FILE_SIZE
    env_globs = tuple(settings.env_files) if settings is not None else ()
    if settings is not None and settings.exclude:
        from importobot.scan.engine import _excluded

        files = [f for f in files if not _excluded(f.replace(os.sep, "/"), settings.exclude)]
        if not files:
            sys.stdout.write("importobot: every passed file is excluded by the configuration\n")
            return 0
    errors: list[str] = []
    sources, empty = _collect(files, root, in_git, max_size, errors)
    accepted = _load_baseline(root, baseline, settings)

    from importobot.scan.rules.files import is_binary, scan_file

    scanned = 0
    shown_lines: list[str] = []
    seen: dict[str, set[tuple[str, str | None]]] = {}
    blocked = 0
    for src in sources:
        if is_binary(src.data):
            scanned += 1  # read and judged: binary content holds no text key
            continue
        scanned += 1
        found = scan_file(src.shown, src.data, env_globs=env_globs, inline_ignores=inline_ignores)
        known = seen.setdefault(src.shown, set())
        for f in found:
            if f.suppressed is not None:
                continue
            if accepted and (f.path or "", f.rule, f.fingerprint or "") in accepted:
                continue
            ident = (f.rule, f.fingerprint)
            if src.label == "unstaged" and ident in known:
                continue  # the same key is already reported from the index
            known.add(ident)
            if f.severity == "error":
                blocked += 1
            shown_lines.append(_line(f, src.label))
    out = sys.stdout
    for text in shown_lines:
        out.write(text)
    if shown_lines:
        out.write(HINT + "\n")
    for message in errors:
        sys.stderr.write(f"importobot-block-keys: error: {message}\n")
    if blocked:
        return 1
    if errors:
        return 2
    if scanned == 0 and empty == 0:
        sys.stderr.write("importobot-block-keys: error: nothing was scanned\n")
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse argv (by hand: argparse costs start-up time) and run the hook."""
    from importobot.hooks._common import UsageError, option, run_hook

    def body(opts: dict[str, str | bool], files: list[str]) -> int:
        if not files:
            raise UsageError("no files given")
        return run(
            files,
            baseline=option(opts, "--baseline"),
            inline_ignores=not opts.get("--no-inline-ignores"),
        )

    return run_hook(
        "importobot-block-keys", USAGE, argv, {"--no-inline-ignores"}, {"--baseline"}, body
    )


if __name__ == "__main__":
    raise SystemExit(main())
