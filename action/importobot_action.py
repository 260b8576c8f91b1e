"""The one script of importobot's GitHub Action (``action.yml``): decide, run, report.

Standard library only; it runs under the interpreter of the venv the action installed
importobot into, and starts ``importobot check`` beside it. Every input arrives through
the environment (``INPUT_*`` set by the step's ``env:``), never through the script text.

1. **What to scan.** ``paths`` (the work tree; default ``.``) and a history range:
   ``history: auto`` takes the pull request's commits (``BASE..HEAD`` of the event) or the
   pushed ones (``before..after``; a new branch — ``before`` all zeros — is judged against
   the default branch, a force push whose ``before`` is gone likewise, with a notice); a
   deleted branch and other events scan no history. ``all``, ``none`` or an explicit
   ``A..B`` choose otherwise. History needs a full clone (``actions/checkout`` with
   ``fetch-depth: 0``): a shallow one is an error.
2. **Rules from the base.** On ``pull_request`` the configuration and baseline are read
   from the base commit (``git show BASE:…``), never from the pull request itself, so a
   pull request cannot bring ``exclude = ["**"]`` with its key. ``config``/``baseline``
   inputs override.
3. **Report.** Each ``importobot check`` run writes SARIF 2.1.0; the runs are merged into
   one file (``sarif-file``) for ``github/codeql-action/upload-sarif``. With ``format:
   github`` the findings become workflow annotations instead — at most 10 errors and 10
   warnings per step (GitHub's limit), then one notice saying how many more there are.
   A Markdown table of every finding goes to the job summary either way.
4. **Verdict.** ``check --fail-on`` decides each run's exit code; the largest is the
   ``exit-code`` output, which the action's last step exits with (after the upload).

Outputs (``$GITHUB_OUTPUT``): ``exit-code``, ``findings``, ``sarif-file``.
"""

from __future__ import annotations

import json
import os
import posixpath
import subprocess
import sys
import tempfile
from typing import Any
from urllib.parse import unquote

ZERO = "0" * 40
ANNOTATION_LIMIT = 10  # per level and step (GitHub: 10 errors and 10 warnings per step)
FAIL_ON = ("error", "warning", "never")
FORMATS = ("sarif", "github")


class ActionError(Exception):
    """A problem with the inputs or the clone: reported as one ::error, exit code 2."""


# ------------------------------------------------------------------------------ helpers


def _input(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name.upper().replace('-', '_')}", default).strip()


def _escape(text: str, prop: bool = False) -> str:
    out = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return out.replace(":", "%3A").replace(",", "%2C") if prop else out


def _command(kind: str, message: str, **props: object) -> None:
    fields = ",".join(f"{k}={_escape(str(v), True)}" for k, v in props.items() if v is not None)
    print(f"::{kind}{' ' + fields if fields else ''}::{_escape(message)}", flush=True)


def _git(*args: str) -> tuple[int, str]:
    proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["git", *args],  # noqa: S607 - git from PATH, as every step uses it
        capture_output=True,
        text=True,
        check=False,
        errors="replace",
    )
    return proc.returncode, proc.stdout.strip()


def _exists(rev: str) -> bool:
    return bool(rev) and rev != ZERO and _git("cat-file", "-e", f"{rev}^{{commit}}")[0] == 0


def _show(rev: str, path: str) -> bytes | None:
    proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["git", "show", f"{rev}:{path}"],  # noqa: S607 - git from PATH
        capture_output=True,
        check=False,
    )
    return proc.stdout if proc.returncode == 0 else None


def _write_output(**values: object) -> None:
    target = os.environ.get("GITHUB_OUTPUT")
    lines = "".join(f"{k}={v}\n" for k, v in values.items())
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(lines)
    else:
        sys.stdout.write(lines)


# ------------------------------------------------------------------------- what to scan


def history_range(choice: str, event_name: str, event: dict[str, Any]) -> str | None:
    """The ``--rev-range`` to scan, ``""`` for every ref, or ``None`` for no history."""
    if choice in ("", "none", "false"):
        return None
    if choice == "all":
        return ""
    if choice != "auto":
        if choice.startswith("-") or "\n" in choice:
            raise ActionError(f"history: not a revision range: {choice!r}")
        return choice
    if event_name in ("pull_request", "pull_request_target"):
        pr = event.get("pull_request")
        if not isinstance(pr, dict):
            raise ActionError("the pull_request event carries no pull_request")
        base = str((pr.get("base") or {}).get("sha", ""))
        head = str((pr.get("head") or {}).get("sha", ""))
        for rev, what in ((base, "base"), (head, "head")):
            if not _exists(rev):
                raise ActionError(
                    f"the pull request's {what} commit is not in the clone: use "
                    f"actions/checkout with fetch-depth: 0"
                )
        return f"{base}..{head}"
    if event_name == "push":
        after = str(event.get("after") or os.environ.get("GITHUB_SHA", ""))
        before = str(event.get("before") or "")
        if not after or after == ZERO:
            return None  # a deleted branch or tag
        if not _exists(after):
            raise ActionError("the pushed commit is not in the clone (actions/checkout first)")
        if _exists(before):
            return f"{before}..{after}"  # a force push too: what after has and before had not
        repo = event.get("repository")
        default = str(repo.get("default_branch", "")) if isinstance(repo, dict) else ""
        ref = str(event.get("ref") or os.environ.get("GITHUB_REF", ""))
        if before and before != ZERO:
            _command(
                "notice",
                "the commit before this push is not in the clone (a force push?): judging "
                "the commits that are not on the default branch",
                title="importobot",
            )
        if default and ref != f"refs/heads/{default}" and _exists(f"origin/{default}"):
            return f"origin/{default}..{after}"
        return after  # the first push of the default branch: all of its history
    _command(
        "notice", f"history: nothing to scan on a {event_name or 'local'} event", title="importobot"
    )
    return None


# --------------------------------------------------------------------- rules from the base


def _toml(data: bytes) -> dict[str, Any]:
    import importlib

    # tomllib on 3.11+, tomli on 3.10 (importobot depends on it there).
    tomllib = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    try:
        loaded: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ActionError(f"the base commit's configuration is not valid TOML: {exc}") from None
    return loaded


def base_rules(base: str, scratch: str) -> tuple[list[str], str | None]:
    """``--config``/``--baseline`` arguments holding the base commit's files."""
    config_path = None
    table: dict[str, Any] = {}
    for name in (".importobot.toml", "pyproject.toml"):
        data = _show(base, name)
        if data is None or (name == "pyproject.toml" and b"tool.importobot" not in data):
            continue
        config_path = os.path.join(scratch, name)
        with open(config_path, "wb") as handle:
            handle.write(data)
        document = _toml(data)
        tool = document.get("tool")
        if isinstance(tool, dict) and isinstance(tool.get("importobot"), dict):
            table = tool["importobot"]
        elif name == ".importobot.toml":
            table = document
        break
    if config_path is None:  # the base has none: the pull request's must not count either
        config_path = os.path.join(scratch, ".importobot.toml")
        with open(config_path, "wb"):
            pass
    baseline = None
    named = table.get("baseline")
    if isinstance(named, str) and named:
        data = _show(base, posixpath.normpath(named).lstrip("/"))
        if data is not None:
            baseline = os.path.join(scratch, "baseline.json")
            with open(baseline, "wb") as handle:
                handle.write(data)
    if baseline is None:
        baseline = os.path.join(scratch, "empty-baseline.json")
        with open(baseline, "w", encoding="utf-8") as handle:
            handle.write('{"version": 1, "findings": []}\n')
    return ["--config", config_path], baseline


# ------------------------------------------------------------------------------- report


def merge_sarif(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """One SARIF document with one run holding every run's results (same tool, rules)."""
    if not docs:
        raise ActionError("no SARIF was produced")
    merged: Any = json.loads(json.dumps(docs[0]))
    first = merged["runs"][0]
    for doc in docs[1:]:
        other: Any = doc["runs"]
        for run in other:
            first["results"].extend(run.get("results", []))
    return dict(merged)


def _results(doc: dict[str, Any]) -> list[dict[str, Any]]:
    runs: Any = doc["runs"]
    return [r for run in runs for r in run.get("results", []) if not r.get("suppressions")]


def _where(result: dict[str, Any]) -> tuple[str | None, int | None, int | None]:
    try:
        physical = result["locations"][0]["physicalLocation"]
        uri = unquote(physical["artifactLocation"]["uri"])
        region = physical.get("region", {})
        return uri, region.get("startLine"), region.get("startColumn")
    except (KeyError, IndexError, TypeError):
        return None, None, None


def annotate(results: list[dict[str, Any]]) -> int:
    """Workflow annotations, at most :data:`ANNOTATION_LIMIT` per level; returns how many
    findings were left out (then said in one notice)."""
    shown = {"error": 0, "warning": 0}
    left = 0
    for r in results:
        level = "error" if r.get("level") == "error" else "warning"
        if shown[level] >= ANNOTATION_LIMIT:
            left += 1
            continue
        shown[level] += 1
        path, line, col = _where(r)
        props = r.get("properties") or {}
        fp = (r.get("partialFingerprints") or {}).get("importobotKeyFingerprint/v1")
        text = str((r.get("message") or {}).get("text", ""))
        if fp:
            text += f" [{fp}]"
        _command(
            level,
            text,
            file=path,
            line=line,
            col=col,
            title=f"{r.get('ruleId')} {props.get('variable') or ''}".strip(),
        )
    if left:
        _command(
            "notice",
            f"{left} more finding(s) not annotated (GitHub shows {ANNOTATION_LIMIT} errors and "
            f"{ANNOTATION_LIMIT} warnings per step): every finding is in the job summary",
            title="importobot",
        )
    return left


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def summary(results: list[dict[str, Any]], scanned: list[str]) -> str:
    lines = ["## importobot", "", f"Scanned: {', '.join(scanned) or 'nothing'}.", ""]
    if not results:
        lines.append("No plaintext key found.")
        return "\n".join(lines) + "\n"
    lines += ["| rule | where | variable | fingerprint | commit |", "|---|---|---|---|---|"]
    for r in results:
        path, line, _col = _where(r)
        props = r.get("properties") or {}
        fp = (r.get("partialFingerprints") or {}).get("importobotKeyFingerprint/v1", "")
        commit = str(props.get("commit") or "")[:12]
        lines.append(
            f"| {_cell(r.get('ruleId'))} | {_cell(path or '')}:{line or ''} | "
            f"{_cell(props.get('variable') or '')} | {_cell(fp)} | {_cell(commit)} |"
        )
    lines += ["", "Fix: `importobot fix` (prints the plan; `--apply` does it)."]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------- main


def _check(binary: str, args: list[str], sarif: str) -> tuple[int, dict[str, Any]]:
    argv = [binary, "check", "--format", "sarif", "--output", sarif, *args]
    print(f"$ importobot {' '.join(argv[1:])}", flush=True)
    proc = subprocess.run(argv, check=False, capture_output=True, text=True)  # noqa: S603
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    if proc.returncode not in (0, 1):
        line = (proc.stderr.strip().splitlines() or ["importobot check failed"])[-1]
        raise ActionError(line)
    with open(sarif, encoding="utf-8") as handle:
        return proc.returncode, json.load(handle)


def run() -> int:
    workspace = os.environ.get("GITHUB_WORKSPACE") or os.getcwd()
    os.chdir(workspace)
    event_name = os.environ.get("GITHUB_EVENT_NAME", "")
    event: dict[str, Any] = {}
    event_path = os.environ.get("GITHUB_EVENT_PATH")
    if event_path and os.path.isfile(event_path):
        with open(event_path, encoding="utf-8") as handle:
            loaded = json.load(handle)
        event = loaded if isinstance(loaded, dict) else {}
    fail_on = _input("fail-on", "error")
    fmt = _input("format", "sarif")
    if fail_on not in FAIL_ON:
        raise ActionError(f"fail-on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")
    if fmt not in FORMATS:
        raise ActionError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    paths = _input("paths", ".").split()
    key_check = _input("key-check", "false").lower() == "true"
    binary = os.path.join(os.path.dirname(sys.executable), "importobot")

    rev_range = history_range(_input("history", "auto"), event_name, event)
    if rev_range is not None and _git("rev-parse", "--is-shallow-repository")[1] == "true":
        raise ActionError(
            "the history scan needs the whole history: use actions/checkout with fetch-depth: 0"
        )
    scratch = tempfile.mkdtemp(prefix="importobot-action-", dir=os.environ.get("RUNNER_TEMP"))
    common: list[str] = ["--fail-on", fail_on]
    config = _input("config")
    baseline = _input("baseline")
    if event_name in ("pull_request", "pull_request_target") and not config:
        base = str(((event.get("pull_request") or {}).get("base") or {}).get("sha", ""))
        if not _exists(base):
            raise ActionError(
                "the pull request's base commit is not in the clone: use actions/checkout "
                "with fetch-depth: 0"
            )
        config_args, base_baseline = base_rules(base, scratch)
        common += config_args
        if not baseline and base_baseline:
            baseline = base_baseline
    elif config:
        common += ["--config", config]
    if baseline:
        common += ["--baseline", baseline]

    codes: list[int] = []
    docs: list[dict[str, Any]] = []
    scanned: list[str] = []
    if paths:
        args = [*common, *([] if key_check else ["--no-key-check"]), "--", *paths]
        code, doc = _check(binary, args, os.path.join(scratch, "tree.sarif"))
        codes.append(code)
        docs.append(doc)
        scanned.append(f"work tree ({' '.join(paths)})")
    if rev_range is not None:
        args = [*common, "--no-key-check", "--history"]
        if rev_range:
            args += ["--rev-range", rev_range]
        code, doc = _check(binary, args, os.path.join(scratch, "history.sarif"))
        codes.append(code)
        docs.append(doc)
        scanned.append(f"history ({rev_range or 'every ref'})")
    if not docs:
        raise ActionError("nothing to scan: give paths or a history range")
    merged = merge_sarif(docs)
    results = _results(merged)
    sarif_out = ""
    if fmt == "sarif":
        sarif_out = _input("sarif-file", "importobot.sarif") or "importobot.sarif"
        with open(sarif_out, "w", encoding="utf-8") as handle:
            json.dump(merged, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        print(f"importobot: {len(results)} finding(s); SARIF written to {sarif_out}")
    else:
        annotate(results)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(summary(results, scanned))
    exit_code = max(codes)
    _write_output(**{"exit-code": exit_code, "findings": len(results), "sarif-file": sarif_out})
    return 0


def main() -> int:
    try:
        return run()
    except ActionError as exc:
        _command("error", str(exc), title="importobot")
        _write_output(**{"exit-code": 2, "findings": 0, "sarif-file": ""})
        return 0  # the verdict step fails the job (after any upload)
    except (OSError, ValueError) as exc:
        _command("error", f"importobot action: {exc}", title="importobot")
        _write_output(**{"exit-code": 2, "findings": 0, "sarif-file": ""})
        return 0


if __name__ == "__main__":
    sys.exit(main())
