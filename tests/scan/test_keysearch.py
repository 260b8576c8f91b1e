"""IOB204 matches the key itself, in any spelling and under any name (issue 16, item 5).

Keys are generated at test time; no report may hold one (tests/keygen.py contains_key).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from importobot.commands.check import CheckRequest, run_check
from importobot.keys.fingerprint import fingerprint
from importobot.scan.keysearch import KeyNeedles
from tests.gitrepo import commit, git, init_repo
from tests.keygen import contains_key, new_raw


def _raw_with_both_signs() -> bytes:
    """A key whose standard base64 holds both ``+`` and ``/`` (so every escape is tried)."""
    while True:
        raw = new_raw()
        text = base64.b64encode(raw).decode()
        if "+" in text and "/" in text:
            return raw


def _forms(raw: bytes) -> dict[str, tuple[str, str]]:
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    json_esc = std.replace("/", "\\/").replace("+", "\\u002b")
    json_upper = std.replace("+", "\\u002B")
    yaml_esc = std.replace("/", "\\x2f")
    return {
        "std padded": (f"value: {std}\n", "base64"),
        "std bare": (f"{std.rstrip('=')}\n", "base64"),
        "url padded": (f"x = '{url}'\n", "fernet"),
        "url bare": (f"x = {url.rstrip('=')}\n", "fernet"),
        "hex lower": (f"{raw.hex()}\n", "hex"),
        "hex upper": (f"{raw.hex().upper()}\n", "hex"),
        "laravel": (f"APP_THING=base64:{std}\n", "laravel"),
        "json escapes": (f'{{"opaque": "{json_esc}"}}\n', "base64"),
        "json upper escapes": (f'{{"o": "{json_upper}"}}\n', "base64"),
        "yaml escapes": (f'o: "{yaml_esc}"\n', "base64"),
    }


@pytest.mark.parametrize(
    "form",
    [
        "std padded",
        "std bare",
        "url padded",
        "url bare",
        "hex lower",
        "hex upper",
        "laravel",
        "json escapes",
        "json upper escapes",
        "yaml escapes",
    ],
)
def test_every_spelling_is_found_at_its_line(form):
    raw = _raw_with_both_signs()
    text, kind = _forms(raw)[form]
    data = b"intro line\n\n" + text.encode()
    found = KeyNeedles([(raw, "the set-up key (env:X)")]).findings("notes.txt", data)
    assert [(f.rule, f.line, f.key_type, f.fingerprint) for f in found] == [
        ("IOB204", 3, kind, fingerprint(raw))
    ]
    assert not contains_key(repr(found), raw) and "the set-up key (env:X)" in found[0].message


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_utf16_file_is_searched_as_its_text(codec):
    # PowerShell saves .env as UTF-16 with a BOM; the scanner decodes it, so does the search.
    raw = _raw_with_both_signs()
    bom = b"\xff\xfe" if codec == "utf-16-le" else b"\xfe\xff"
    for form in ("std padded", "url bare", "hex upper", "laravel"):
        text, kind = _forms(raw)[form]
        data = bom + ("# notes\r\n" + text).encode(codec)
        found = KeyNeedles([(raw, "the set-up key (env:X)")]).findings(".env", data)
        assert [(f.line, f.key_type) for f in found] == [(2, kind)], form


def test_raw_bytes_and_a_name_from_the_line():
    raw = new_raw()
    found = KeyNeedles([(raw, "k")]).findings("k.bin", b"\0\1" + raw)
    assert [(f.line, f.key_type) for f in found] == [(1, "key-file")]
    std = base64.b64encode(raw).decode()
    found = KeyNeedles([(raw, "k")]).findings("a.txt", f'  "harmless": "{std}"\n'.encode())
    assert found[0].variable == "harmless" and found[0].column == 16


def test_other_keys_and_near_misses_are_not_found():
    raw = _raw_with_both_signs()
    std = base64.b64encode(raw).decode()
    other = base64.b64encode(new_raw()).decode()
    broken = std[:20] + ("A" if std[20] != "A" else "B") + std[21:]
    data = f"{other}\n{broken}\n{raw.hex()[:-2]}\n".encode()
    assert KeyNeedles([(raw, "k")]).findings("a.txt", data) == []
    assert not KeyNeedles([])
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(KeyNeedles([(raw, "k")]))


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("IMPORTOBOT_"):
            monkeypatch.delenv(name)
    root = init_repo(tmp_path / "repo")
    monkeypatch.chdir(root)
    return root


def test_history_reports_the_set_up_key_under_a_neutral_name_in_a_txt_file(repo):
    """The acceptance test: `check --history`, the key under a neutral name in a .txt."""
    raw = new_raw()
    (repo / "README").write_text("x\n")
    git(repo, "add", ".")
    commit(repo, "init")
    (repo / "docs").mkdir()
    (repo / "docs" / "notes.txt").write_text(f"Notes\n\nvalue = {raw.hex()}\n")
    git(repo, "add", ".")
    leaked = commit(repo, "notes")
    git(repo, "rm", "-q", "docs/notes.txt")
    commit(repo, "gone")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env["IMPORTOBOT_ENCRYPTION_KEY"] = base64.urlsafe_b64encode(raw).decode()
    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "check", "--history", "--format", "json"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    hits = [f for f in json.loads(proc.stdout)["findings"] if f["rule"] == "IOB204"]
    assert [(f["path"], f["line"], f["commit"]) for f in hits] == [("docs/notes.txt", 3, leaked)]
    assert not contains_key(proc.stdout + proc.stderr, raw)


def test_work_tree_staged_and_vendored_copies_of_a_previous_key(repo, monkeypatch, capsys):
    primary, previous = new_raw(), new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", base64.b64encode(primary).decode())
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS", base64.urlsafe_b64encode(previous).decode())
    (repo / "composer.json").write_text("{}\n")
    (repo / "vendor" / "lib").mkdir(parents=True)
    spelled = base64.b64encode(previous).decode().replace("/", "\\/")
    (repo / "vendor" / "lib" / "data.json").write_text(f'{{"blob": "{spelled}"}}\n')
    (repo / "plain.txt").write_text(f"see {base64.b64encode(primary).decode()}\n")
    git(repo, "add", ".")
    for staged in (False, True):
        code = run_check(CheckRequest(fmt="json", staged=staged))
        out = capsys.readouterr()
        report = json.loads(out.out)
        hits = sorted(
            (f["path"], f["fingerprint"]) for f in report["findings"] if f["rule"] == "IOB204"
        )
        assert code == 1
        assert hits == sorted(
            [("plain.txt", fingerprint(primary)), ("vendor/lib/data.json", fingerprint(previous))]
        ), staged
        assert "vendored" in out.err  # the vendored file is skipped by the scanner all the same
        text = json.dumps(report) + out.err
        assert not contains_key(text, primary) and not contains_key(text, previous)


def test_no_key_spelling_reaches_a_command_line(repo, monkeypatch, capsys):
    """The search runs in this process: git is never asked to look for the key (argv)."""
    import subprocess as sp

    import importobot.git as git_module

    raw = new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", base64.b64encode(raw).decode())
    (repo / "composer.json").write_text("{}\n")
    (repo / "vendor").mkdir()
    (repo / "vendor" / "k.txt").write_text(f"{raw.hex()}\n")
    git(repo, "add", ".")
    commit(repo, "leak")
    argvs: list[str] = []
    real_run_git, real_popen = git_module.run_git, sp.Popen

    def run_git(args, cwd, stdin=b""):
        argvs.append(" ".join(args))
        return real_run_git(args, cwd, stdin)

    class Popen(real_popen):  # type: ignore[misc,valid-type]
        def __init__(self, args, *a, **kw):
            argvs.append(" ".join(map(str, args)))
            super().__init__(args, *a, **kw)

    monkeypatch.setattr(git_module, "run_git", run_git)
    monkeypatch.setattr(sp, "Popen", Popen)
    assert run_check(CheckRequest(fmt="json", history=True)) == 1
    report = json.loads(capsys.readouterr().out)
    assert [f["path"] for f in report["findings"] if f["rule"] == "IOB204"] == ["vendor/k.txt"]
    assert argvs and not contains_key("\n".join(argvs), raw)
