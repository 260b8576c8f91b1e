"""Issue 16 items 1 and 6: text saved as UTF-16 (PowerShell's default) is decoded and
scanned, not called binary; lines and columns are those of the decoded text."""

from __future__ import annotations

import os

import pytest

from importobot.keys.fingerprint import fingerprint
from importobot.scan.finding import ScanResult
from importobot.scan.rules.files import scan_file, text_bytes
from importobot.scan.sources import Item, scan_items
from tests.keygen import contains_key, new_raw, spellings

BOMS = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}


def _utf16(text: str, codec: str) -> bytes:
    return BOMS[codec] + text.encode(codec)


def _scan(path: str, data: bytes) -> ScanResult:
    result = ScanResult()
    scan_items([Item(path, path, data)], result, max_size=1 << 20)
    return result


# (path, template, variable, rule, line): {k} is a fresh key spelling.
CAUGHT = [
    (".env", "DEBUG=1\r\nAPP_ENCRYPTION_KEY={k}\r\n", "APP_ENCRYPTION_KEY", "IOB101", 2),
    (".env", "# PowerShell: echo ... > .env\nSECRET={k}\n", "SECRET", "IOB101", 2),
    (".env.local", "A=1\n\nB=2\nNEUTRAL_NAME={k}\n", "NEUTRAL_NAME", "IOB101", 4),
    ("settings.ps1", '$env:FERNET_KEY = "{k}"\n', "FERNET_KEY", "IOB102", 1),
    ("config.json", '{{\n  "encryptionKey": "{k}"\n}}\n', "encryptionKey", "IOB102", 2),
]


@pytest.mark.parametrize("codec", sorted(BOMS))
@pytest.mark.parametrize(("path", "template", "variable", "rule", "line"), CAUGHT)
def test_utf16_with_bom_is_scanned(
    codec: str, path: str, template: str, variable: str, rule: str, line: int
) -> None:
    raw = new_raw()
    key = spellings(raw)[0]
    text = template.format(k=key)
    result = _scan(path, _utf16(text, codec))
    assert result.skipped == {}
    assert result.files_scanned == 1
    found = [(f.rule, f.variable, f.line, f.fingerprint) for f in result.findings]
    assert found == [(rule, variable, line, fingerprint(raw))]
    # The column is that of the decoded text.
    line_text = text.splitlines()[line - 1]
    assert result.findings[0].column == line_text.index(key) + 1
    assert not contains_key(repr(result), raw)


@pytest.mark.parametrize("codec", sorted(BOMS))
def test_utf16_without_key_is_clean(codec: str) -> None:
    text = "DEBUG=true\r\nAPP_KEY=\r\nSECRET=${SECRET}\r\nNAME=changeme\r\n"
    result = _scan(".env", _utf16(text, codec))
    assert result.findings == []
    assert result.files_scanned == 1


NOT_TEXT = [
    # A UTF-32 mark starts like UTF-16 LE's but decodes to U+0000 characters.
    ("utf-32", lambda key: b"\xff\xfe\0\0" + f"APP_KEY={key}\n".encode("utf-32-le")),
    # Binary data that merely starts with the bytes of a mark.
    ("bom-then-binary", lambda key: b"\xff\xfe" + b"\0\0\0\0key=" + key.encode()),
    # UTF-16 without a mark: git calls it binary, so do we.
    ("utf-16-no-bom", lambda key: f"APP_KEY={key}\n".encode("utf-16-le")),
]


@pytest.mark.parametrize(("name", "build"), NOT_TEXT, ids=[n for n, _ in NOT_TEXT])
def test_binary_stays_binary(name: str, build) -> None:
    data = build(spellings(new_raw())[0])
    result = _scan(".env", data)
    assert result.findings == []
    assert result.skipped == {"binary": 1}
    assert text_bytes(data) is None


def test_broken_utf16_never_raises() -> None:
    raw = new_raw()
    good = "A=1\nAPP_KEY=" + spellings(raw)[0] + "\n"
    # A lone surrogate and an odd last byte: replaced, the rest still read.
    data = b"\xff\xfe" + "X=\ud800\n".encode("utf-16-le", "surrogatepass")
    data += good.encode("utf-16-le") + b"\x41"
    found = scan_file(".env", data)
    assert [(f.variable, f.line, f.fingerprint) for f in found] == [
        ("APP_KEY", 3, fingerprint(raw))
    ]


def test_utf16_random_bytes_never_raise() -> None:
    for _ in range(200):
        data = b"\xff\xfe" + os.urandom(256)
        scan_file(".env", data)
        scan_file("x.txt", data)


def test_hook_and_check_block_a_utf16_env(tmp_path, monkeypatch, capsys) -> None:
    from importobot.hooks import block_keys
    from tests.gitrepo import git, init_repo

    repo = init_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    raw = new_raw()
    text = f"DEBUG=1\r\nAPP_KEY={spellings(raw)[0]}\r\n"
    (repo / ".env").write_bytes(_utf16(text, "utf-16-le"))
    git(repo, "add", ".env")
    code = block_keys.main([".env"])
    out, err = capsys.readouterr()
    assert code == 1
    assert f".env:2:9 IOB101 APP_KEY {fingerprint(raw)}" in out
    assert not contains_key(out + err, raw)


def test_history_reads_utf16_that_git_calls_binary(tmp_path, monkeypatch) -> None:
    # `git log -p` shows no lines for UTF-16 (binary to git): the blobs of such changes
    # are read back and decoded; a line counts as added when the first parent lacks it.
    import json

    from click.testing import CliRunner

    from importobot.cli import cli
    from tests.gitrepo import GIT_ENV, commit, git, init_repo

    repo = init_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    raw = new_raw()
    env = repo / ".env"
    env.write_bytes(_utf16("DEBUG=1\r\n", "utf-16-le"))
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0" + os.urandom(256))
    git(repo, "add", ".")
    commit(repo, "one")
    env.write_bytes(_utf16(f"DEBUG=1\r\nAPP_KEY={spellings(raw)[0]}\r\n", "utf-16-le"))
    git(repo, "add", ".")
    added = commit(repo, "two")
    env.write_bytes(_utf16(f"DEBUG=0\r\nAPP_KEY={spellings(raw)[0]}\r\n", "utf-16-le"))
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0" + os.urandom(256))
    git(repo, "add", ".")
    commit(repo, "three: the key line is not new")
    env.unlink()
    git(repo, "add", "-A")
    commit(repo, "four: removed")
    result = CliRunner().invoke(cli, ["check", "--history", "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    found = [
        (f["path"], f["line"], f["rule"], f["fingerprint"], f["commit"]) for f in report["findings"]
    ]
    assert found == [(".env", 2, "IOB101", fingerprint(raw), added)]
    assert not contains_key(result.output, raw)


def test_reading_back_binary_changes_keeps_the_gates_time_budget(tmp_path, monkeypatch) -> None:
    # A push of many binary files: the read-back of their blobs (to find UTF-16 text) is
    # bounded by the same time budget as `git log`, checked before each cat-file batch.
    import time

    import importobot.git as git_mod
    from importobot.git import GitTimeout, iter_blobs
    from importobot.scan.sources import history_items
    from tests.gitrepo import GIT_ENV, commit, git, init_repo

    repo = init_repo(tmp_path / "repo")
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    for i in range(3):
        (repo / f"blob{i}.bin").write_bytes(b"\0\x01" + os.urandom(4096))
    git(repo, "add", ".")
    head = commit(repo, "binaries")
    oids = git(repo, "ls-tree", "-r", "--format=%(objectname)", head).split()

    # Past the deadline, no cat-file batch starts.
    calls: list[str] = []
    real_cat = git_mod._cat_file
    monkeypatch.setattr(git_mod, "_cat_file", lambda *a: calls.append(a[1]) or real_cat(*a))
    with pytest.raises(GitTimeout):
        list(iter_blobs(str(repo), oids, 1 << 20, deadline=time.monotonic() - 1))
    assert calls == []
    assert len(list(iter_blobs(str(repo), oids, 1 << 20, deadline=time.monotonic() + 60))) == 3

    # history_items hands its budget (the pre-push / pre-receive timeout) to the read-back.
    seen: list[float | None] = []
    real_iter = git_mod.iter_blobs

    def spy(cwd, wanted, max_size, *, deadline=None):
        seen.append(deadline)
        return real_iter(cwd, wanted, max_size, deadline=deadline)

    monkeypatch.setattr(git_mod, "iter_blobs", spy)
    before = time.monotonic()
    list(history_items(str(repo), None, (), set(), revs=[head], timeout=30.0))
    assert seen and all(d is not None and before + 29 < d <= time.monotonic() + 30 for d in seen)
