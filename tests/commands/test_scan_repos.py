"""``importobot scan-repos`` and ``report merge`` over real local bare repositories (D27).

The acceptance run: 60 bare repositories (keys at the tip, keys only in history, one key
shared by ten repositories, a corrupt one, a huge one, an unreachable URL) scanned by 4
shard processes, one SIGKILLed mid-way and rerun; the merged report equals a single
process's, byte for byte, and its SARIF validates against the 2.1.0 schema.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from importobot.git import (
    GitError,
    clone_environ,
    normalize_url,
    shard_of,
    url_hash,
)
from tests.keygen import contains_key, new_raw

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "report" / "sarif-schema-2.1.0.json"
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@importobot.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@importobot.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _key() -> tuple[bytes, str]:
    raw = new_raw()
    return raw, base64.urlsafe_b64encode(raw).decode()


def make_bare(path: Path, commits: list[dict[str, bytes | None]]) -> Path:
    """A bare repository holding ``commits`` (path -> content, ``None`` deletes), built
    by one ``git fast-import``."""
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True, env=ENV)
    stream = bytearray()
    for n, files in enumerate(commits, 1):
        stream += b"commit refs/heads/main\n"
        stream += b"committer t <t@importobot.invalid> %d +0000\n" % (1_700_000_000 + n)
        msg = b"change %d" % n
        stream += b"data %d\n%s\n" % (len(msg), msg)
        for name, data in files.items():
            if data is None:
                stream += b"D %s\n" % name.encode()
            else:
                stream += b"M 100644 inline %s\ndata %d\n%s\n" % (name.encode(), len(data), data)
        stream += b"\n"
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=path,
        input=bytes(stream),
        check=True,
        env=ENV,
    )
    subprocess.run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], cwd=path, check=True)
    return path


def importobot(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "importobot.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
    )


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """60 bare repositories and their LIST; the keys made for them."""
    base = tmp_path_factory.mktemp("org")
    shared_raw, shared = _key()
    keys: list[bytes] = [shared_raw]
    lines = ["# the org", ""]
    history_only: list[str] = []
    for i in range(57):
        name = f"repo{i:02d}.git"
        files: dict[str, bytes | None] = {"README.md": b"# repo %d\n" % i}
        commits: list[dict[str, bytes | None]] = [files]
        if i < 10:  # a key committed, then removed: only history finds it
            raw, text = _key()
            keys.append(raw)
            commits = [{**files, ".env": f"SECRET_KEY={text}\n".encode()}, {".env": None}]
            history_only.append(name)
        elif i < 20:  # one key in ten repositories: one incident
            files[".env"] = f"APP_ENCRYPTION_KEY={shared}\n".encode()
        elif i < 30:  # a key at the tip, under a pragma the org scan ignores
            raw, text = _key()
            keys.append(raw)
            files["settings.py"] = f'FERNET_KEY = "{text}"  # importobot: ignore[IOB102]\n'.encode()
        make_bare(base / name, commits)
        # Several spellings of one repository's URL collapse to one entry.
        lines.append(name if i % 3 else f"file://{base / name}/")
    # A corrupt repository: every object file (loose or packed) cut short.
    corrupt = make_bare(base / "corrupt.git", [{"a.txt": os.urandom(4096).hex().encode()}])
    for obj in (corrupt / "objects").rglob("*"):
        if obj.is_file() and obj.parent.name not in ("info",) and obj.suffix != ".idx":
            obj.chmod(0o644)
            obj.write_bytes(obj.read_bytes()[:20])
    # A huge repository: more than --max-repo-size of incompressible data.
    make_bare(base / "huge.git", [{"blob.bin": os.urandom(3 * 1024 * 1024)}])
    lines += ["corrupt.git", "huge.git", "https://127.0.0.1:9/unreachable.git", "repo00.git"]
    listing = base / "repos.txt"
    listing.write_text("\n".join(lines) + "\n")
    return {"base": base, "list": listing, "keys": keys, "history_only": history_only}


def _scan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return importobot("scan-repos", *args, "--max-repo-size", "1MB", cwd=cwd)


def _results(directory: Path) -> dict[str, dict[str, object]]:
    out = {}
    for p in directory.rglob("*.json"):
        if not p.name.endswith(".state.json"):
            doc = json.loads(p.read_text())
            out[doc["repository"]] = doc
    return out


def test_sharded_scan_killed_resumed_and_merged_equals_single_run(
    org: dict[str, object], tmp_path: Path
) -> None:
    listing = Path(str(org["list"]))
    single = _scan(str(listing), "--output", str(tmp_path / "single"), cwd=tmp_path)
    assert single.returncode == 1, single.stderr
    results = _results(tmp_path / "single")
    assert len(results) == 60
    failed = {url.rsplit("/", 1)[1]: d for url, d in results.items() if d["status"] != "ok"}
    assert set(failed) == {"corrupt", "huge", "unreachable"}
    assert failed["huge"]["reason"] == "too-large"
    assert failed["corrupt"]["reason"] in ("clone", "scan")

    # Four shards as four processes, each into its own directory (as CI artifacts are);
    # shard 2 is killed once it has finished two repositories, then rerun.
    procs = {}
    for k in (1, 2, 3, 4):
        out = tmp_path / f"shard{k}"
        procs[k] = subprocess.Popen(
            [sys.executable, "-m", "importobot.cli", "scan-repos", str(listing),
             "--shard", f"{k}/4", "--output", str(out), "--max-repo-size", "1MB"],
            cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    victim = tmp_path / "shard2"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = [
            p
            for p in victim.glob("*.state.json")
            if json.loads(p.read_text() or "{}").get("status") in ("done", "failed")
        ] if victim.exists() else []  # fmt: skip
        if len(done) >= 2 or procs[2].poll() is not None:
            break
        time.sleep(0.01)
    killed = procs[2].poll() is None
    procs[2].send_signal(signal.SIGKILL)
    for p in procs.values():
        p.wait(timeout=120)
        assert p.stderr is not None
        p.stderr.close()
    assert killed, "shard 2 finished before it could be killed"
    assert all(procs[k].returncode in (0, 1) for k in (1, 3, 4))
    resumed = _scan(str(listing), "--shard", "2/4", "--output", str(victim), cwd=tmp_path)
    assert resumed.returncode in (0, 1), resumed.stderr
    already = int(resumed.stderr.split("repositories, ")[1].split(" already")[0])
    assert already >= 2
    states = [json.loads(p.read_text()) for p in victim.glob("*.state.json")]
    assert sum(1 for s in states if s["attempts"] > 1) <= 1  # at most one repository redone

    # Every repository is in exactly one shard.
    shard_sets = [set(_results(tmp_path / f"shard{k}")) for k in (1, 2, 3, 4)]
    assert sum(len(s) for s in shard_sets) == 60
    assert set().union(*shard_sets) == set(results)

    dirs = [str(tmp_path / f"shard{k}") for k in (1, 2, 3, 4)]
    merged = importobot("report", "merge", *dirs, "--list", str(listing), cwd=tmp_path)
    alone = importobot(
        "report", "merge", str(tmp_path / "single"), "--list", str(listing), cwd=tmp_path
    )
    assert merged.returncode == alone.returncode == 1, merged.stderr
    assert merged.stdout == alone.stdout  # same findings, same fingerprints, same bytes
    report = json.loads(merged.stdout)
    shared = [i for i in report["incidents"] if len(i["repositories"]) == 10]
    assert len(shared) == 1 and len(shared[0]["places"]) == 10
    assert report["summary"]["failed"] == 3 and report["summary"]["missing"] == 0
    # The pragma of repos 20-29 does not hide their keys from an org scan.
    assert sum(1 for i in report["incidents"] if "IOB102" in i["rules"]) == 10
    for raw in org["keys"]:  # type: ignore[attr-defined]
        assert not contains_key(merged.stdout, raw)
        for d in (tmp_path / "single", *map(Path, dirs)):
            for p in d.rglob("*.json"):
                assert not contains_key(p.read_bytes(), raw)

    sarif = importobot("report", "merge", *dirs, "--format", "sarif", cwd=tmp_path)
    import jsonschema

    jsonschema.validate(json.loads(sarif.stdout), json.loads(SCHEMA.read_text()))
    doc = json.loads(sarif.stdout)
    assert len(doc["runs"][0]["results"]) == len(report["incidents"])

    # A lost shard never looks clean.
    lost = importobot("report", "merge", *dirs[:3], "--list", str(listing), cwd=tmp_path)
    assert lost.returncode == 2
    assert "no result for" in lost.stderr and "lost shard" in lost.stderr
    assert importobot("report", "merge", *dirs[:3], cwd=tmp_path).returncode == 1


def test_history_finds_keys_removed_from_the_tip(org: dict[str, object], tmp_path: Path) -> None:
    base = Path(str(org["base"]))
    names = list(org["history_only"])[:3]  # type: ignore[call-overload]
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{base / n}\n" for n in names))
    tip = _scan(str(listing), "--output", str(tmp_path / "tip"), cwd=tmp_path)
    assert tip.returncode == 0, tip.stderr
    hist = _scan(str(listing), "--history", "--output", str(tmp_path / "h"), cwd=tmp_path)
    assert hist.returncode == 1, hist.stderr
    for doc in _results(tmp_path / "h").values():
        assert doc["mode"] == "history"
        [finding] = doc["findings"]
        assert finding["rule"] == "IOB101" and len(finding["commit"]) == 40
    # Switching mode rescans (the state records the mode).
    again = _scan(str(listing), "--output", str(tmp_path / "tip"), "--history", cwd=tmp_path)
    assert "0 already done" in again.stderr


def test_honor_repo_config(tmp_path: Path) -> None:
    _, text = _key()
    repo = make_bare(
        tmp_path / "cfg.git",
        [
            {
                ".importobot.toml": b'exclude = ["vendored/**"]\n',
                "vendored/conf.py": f'SECRET_KEY = "{text}"\n'.encode(),
                "app.py": f'FERNET_KEY = "{text}"  # importobot: ignore\n'.encode(),
            }
        ],
    )
    listing = tmp_path / "l.txt"
    listing.write_text(f"{repo}\n")
    plain = _scan(str(listing), "--output", str(tmp_path / "a"), cwd=tmp_path)
    assert plain.returncode == 1
    [doc] = _results(tmp_path / "a").values()
    assert sorted(f["path"] for f in doc["findings"]) == ["app.py", "vendored/conf.py"]
    honored = _scan(
        str(listing), "--honor-repo-config", "--output", str(tmp_path / "b"), cwd=tmp_path
    )
    assert honored.returncode == 0, honored.stderr
    [doc] = _results(tmp_path / "b").values()
    assert [f["suppressed"] for f in doc["findings"]] == ["inline"]


def test_urls_normalised_and_sharded_stably(tmp_path: Path) -> None:
    assert normalize_url("HTTPS://GitHub.COM:443/Org/Repo.git/") == "https://github.com/Org/Repo"
    assert normalize_url("git@github.com:org/repo.git") == "ssh://git@github.com/org/repo"
    assert normalize_url("ssh://git@Host:22/a/b.git") == "ssh://git@host/a/b"
    assert normalize_url("ssh://git@host:2222/a") == "ssh://git@host:2222/a"
    assert normalize_url("r.git", str(tmp_path)) == f"file://{tmp_path}/r"
    assert normalize_url(f"file://{tmp_path}/r.git/") == f"file://{tmp_path}/r"
    secret = "pw" + new_raw().hex()[:10]
    for bad in (
        f"https://user:{secret}@github.com/o/r",
        f"https://{secret}@github.com/o/r",
        f"ssh://git:{secret}@host/r",
        f"git:{secret}@host:r",
        "ext::sh -c touch% /tmp/pwned",
        "http://host/r",
        "git://host/r",
        "-uhelp",
        "https://host/r?x=1",
    ):
        with pytest.raises(GitError) as info:
            normalize_url(bad)
        assert secret not in str(info.value)
    urls = [f"https://git.example/org/r{i}" for i in range(400)]
    for n in (1, 4, 256):
        shards = [shard_of(u, n) for u in urls]
        assert set(shards) <= set(range(1, n + 1))
        assert shards == [shard_of(u, n) for u in urls]
    assert shard_of(urls[0], 4) == int(url_hash(urls[0])[:8], 16) % 4 + 1
    counts = [sum(1 for u in urls if shard_of(u, 4) == k) for k in (1, 2, 3, 4)]
    assert min(counts) > 60  # spread, not clumped
    env = clone_environ()
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_ALLOW_PROTOCOL"] == "https:ssh:file"
    assert "BatchMode=yes" in env["GIT_SSH_COMMAND"]


def test_list_with_credentials_refused_and_never_echoed(tmp_path: Path) -> None:
    secret = "tok" + new_raw().hex()[:12]
    listing = tmp_path / "l.txt"
    listing.write_text(f"https://bot:{secret}@git.example/o/r\n")
    proc = _scan(str(listing), "--output", str(tmp_path / "o"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "line 1" in proc.stderr and "password" in proc.stderr
    assert secret not in proc.stderr + proc.stdout
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_shard_options(tmp_path: Path) -> None:
    repo = make_bare(tmp_path / "one.git", [{"a.txt": b"hello\n"}])
    listing = tmp_path / "l.txt"
    listing.write_text(f"{repo}\n")
    k = shard_of(normalize_url(str(repo)), 3)
    # JOB_COMPLETION_INDEX style: 0-based.
    hit = _scan(
        str(listing), "--shard-index", str(k - 1), "--shards", "3", "--output", "o1", cwd=tmp_path
    )
    assert hit.returncode == 0 and "1 repository" in hit.stderr
    miss = _scan(str(listing), "--shard", f"{k % 3 + 1}/3", "--output", "o2", cwd=tmp_path)
    assert miss.returncode == 0 and "0 repositories" in miss.stderr
    for bad in (["--shard", "0/3"], ["--shard", "4/3"], ["--shard", "x"], ["--shards", "3"]):
        proc = _scan(str(listing), *bad, "--output", "o3", cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
    timeout = _scan(str(listing), "--timeout", "0.000001", "--output", "o4", cwd=tmp_path)
    [doc] = _results(tmp_path / "o4").values()
    assert timeout.returncode == 0 and doc["reason"] == "timeout"


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_merge_formats_escape_repository_content(tmp_path: Path, fmt: str) -> None:
    _, text = _key()
    name = "<b>|x`.env"
    repo = make_bare(tmp_path / "esc.git", [{name: f"SECRET_KEY={text}\n".encode()}])
    listing = tmp_path / "l.txt"
    listing.write_text(f"{repo}\n")
    _scan(str(listing), "--output", str(tmp_path / "o"), cwd=tmp_path)
    proc = importobot("report", "merge", str(tmp_path / "o"), "--format", fmt, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert text not in proc.stdout
    if fmt == "html":
        assert "<b>" not in proc.stdout and "&lt;b&gt;" in proc.stdout
        assert "default-src 'none'" in proc.stdout
    else:
        assert "\\<b\\>\\|x\\`" in proc.stdout


# -- in process: the same functions, their edges ------------------------------------


def test_tree_blobs_skip_links_submodules_and_oversized_files(tmp_path: Path) -> None:
    from importobot.git import iter_tree_blobs

    repo = make_bare(tmp_path / "t.git", [{"a.txt": b"hello\n", "big.bin": b"x" * 5000}])
    stream = (
        b"commit refs/heads/main\ncommitter t <t@importobot.invalid> 1700000100 +0000\n"
        b"data 1\nx\nfrom refs/heads/main^0\nM 120000 inline link\ndata 5\na.txt\n"
        b"M 160000 " + b"1" * 40 + b" sub\n\n"
    )
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, check=True, env=ENV)
    got = {
        path: (data, kind) for path, data, _size, kind in iter_tree_blobs(str(repo), "HEAD", 100)
    }
    assert got["a.txt"] == (b"hello\n", "blob")
    assert got["big.bin"] == (None, "blob")
    assert got["link"] == (None, "symlink") and got["sub"] == (None, "submodule")
    with pytest.raises(GitError):
        list(iter_tree_blobs(str(repo), "-x", 100))
    with pytest.raises(GitError):
        list(iter_tree_blobs(str(repo), "no-such-rev", 100))
    # The scan counts what it skips.
    from importobot.commands.scan_repos import ScanReposRequest, run_scan_repos

    listing = tmp_path / "l.txt"
    listing.write_text(f"{repo}\n")
    err = tmp_path / "err.txt"
    with err.open("w") as stream_err:
        code = run_scan_repos(
            ScanReposRequest(list_file=str(listing), output=str(tmp_path / "o"),
                             max_file_size="1KB", jobs=2),
            err=stream_err,
        )  # fmt: skip
    assert code == 0
    [doc] = _results(tmp_path / "o").values()
    assert doc["summary"]["skipped"] == {"submodule": 1, "symlink": 1, "too-large": 1}


def test_clone_failures_in_process(tmp_path: Path) -> None:
    from importobot.git import CloneError, clone

    repo = make_bare(tmp_path / "c.git", [{"blob.bin": os.urandom(2 * 1024 * 1024)}])
    with pytest.raises(CloneError) as info:
        clone(f"file://{repo}", str(tmp_path / "d1"), history=True, max_bytes=64 * 1024)
    assert info.value.reason == "too-large"
    with pytest.raises(CloneError) as info:
        clone(f"file://{repo}", str(tmp_path / "d2"), timeout=0.000001)
    assert info.value.reason == "timeout"
    with pytest.raises(CloneError) as info:
        clone(f"file://{tmp_path}/missing", str(tmp_path / "d3"))
    assert info.value.reason == "clone"
    with pytest.raises(CloneError):
        clone("-u", str(tmp_path / "d4"))


def test_more_url_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("", "a\nb", "file://host/x", "https:///x", "https://h:99999/x", "host:"):
        with pytest.raises(GitError):
            normalize_url(bad)
    assert normalize_url("ssh://git@[::1]:2200/r") == "ssh://git@[::1]:2200/r"
    with pytest.raises(ValueError):
        shard_of("https://h/r", 0)
    monkeypatch.setenv("GIT_SSH_COMMAND", "ssh -i /k")
    assert clone_environ()["GIT_SSH_COMMAND"] == "ssh -i /k -o BatchMode=yes"


def test_run_in_process_options_lists_and_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importobot.commands.scan_repos import ScanReposRequest, parse_shard, run_scan_repos
    from importobot.exceptions import ConfigError

    _, text = _key()
    repo = make_bare(tmp_path / "k.git", [{".env": f"SECRET_KEY={text}\n".encode()}])
    listing = tmp_path / "l.txt"
    listing.write_text(f"# org\n{repo}   # trailing comment\n\nhttps://127.0.0.1:9/gone.git\n")
    out = tmp_path / "o"
    err = tmp_path / "err.txt"

    def run(**kw: object) -> int:
        with err.open("w") as stream:
            return run_scan_repos(
                ScanReposRequest(list_file=str(listing), output=str(out), **kw),  # type: ignore[arg-type]
                err=stream,
            )

    assert run() == 1
    assert run(exit_zero=True) == 0 and "2 already done" in err.read_text()
    assert run(retry_failed=True) == 1 and "1 already done" in err.read_text()
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "0")
    assert run(shards=1, state=str(tmp_path / "st")) == 1
    for bad in ({"jobs": 0}, {"timeout": 0.0}, {"max_repo_size": "lots"}):
        with pytest.raises(ConfigError):
            run(**bad)
    with pytest.raises(ConfigError):
        parse_shard("1/2", 0, None)
    with pytest.raises(ConfigError):
        parse_shard("1/2", None, 3)
    with pytest.raises(ConfigError):
        parse_shard(None, 1, None)
    listing.write_bytes(b"\xff\xfe\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        run()
    listing.unlink()
    with pytest.raises(ConfigError):
        run()
    (tmp_path / "file").write_text("")
    listing.write_text(f"{repo}\n")
    with pytest.raises(ConfigError):
        run_scan_repos(ScanReposRequest(list_file=str(listing), output=str(tmp_path / "file")))
