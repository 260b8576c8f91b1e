"""Vendored trees and minified bundles are not the project's code (issue 16, item 3).

Keys are generated at test time (tests/keygen.py); the library code is written here too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from importobot.commands.check import CheckRequest, run_check
from importobot.hooks.block_keys import main as block_keys
from importobot.scan.vendored import VendorJudge, is_minified
from tests.gitrepo import commit, git, init_repo, new_key
from tests.keygen import contains_key

#: Real-looking library code (the shape of what the issue met in committed node_modules/).
_LIBRARY = """\
'use strict';
const discriminatorKey = model.schema.options.discriminatorKey;
function applyDefaults(doc, fields, exclude) {
  const paths = Object.keys(doc.$__schema.paths);
  for (const path of paths) { if (exclude && !(path in fields)) continue; }
  return doc;
}
module.exports = applyDefaults;
"""


def _readme(key: str) -> str:
    return f"# example\n\nConfigure it:\n\n```\nSECRET_KEY={key}\n```\n"


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _tree(root: Path, key: str) -> None:
    """node_modules/ and a Composer vendor/ with a key in each README, and a plain vendor/."""
    _write(root, "package.json", '{"name": "app"}\n')
    for pkg in ("mongoose-lite", "@scope/helper"):
        _write(root, f"node_modules/{pkg}/package.json", f'{{"name": "{pkg}"}}\n')
        _write(root, f"node_modules/{pkg}/lib/index.js", _LIBRARY)
        _write(root, f"node_modules/{pkg}/README.md", _readme(key))
    _write(root, "php/composer.json", "{}\n")
    _write(root, "php/vendor/acme/lib/README.md", _readme(key))
    _write(root, "app/dist/bundle.min.js", f"var SECRET_KEY='{key}';" + "x();" * 10)


def _check(capsys: pytest.CaptureFixture[str], **kw: object) -> tuple[int, dict, str]:
    code = run_check(CheckRequest(fmt="json", key_check=False, **kw))  # type: ignore[arg-type]
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("IMPORTOBOT_"):
            monkeypatch.delenv(name)
    root = init_repo(tmp_path / "repo")
    monkeypatch.chdir(root)
    return root


def test_committed_package_trees_give_no_finding_by_default(repo, capsys):
    raw, key = new_key()
    _tree(repo, key)
    git(repo, "add", ".")
    commit(repo, "vendored")
    code, report, err = _check(capsys)
    assert code == 0 and report["findings"] == [], report["findings"]
    assert "8 vendored or minified files skipped" in err
    code, report, err = _check(capsys, include_vendored=True)
    paths = {f["path"] for f in report["findings"]}
    assert code == 1
    # (Whether the library code itself gives a false alarm is the randomness model's
    # business, item 2; the example keys are found.)
    assert paths >= {
        "app/dist/bundle.min.js",
        "node_modules/@scope/helper/README.md",
        "node_modules/mongoose-lite/README.md",
        "php/vendor/acme/lib/README.md",
    }
    assert "vendored" not in err
    # --history skips the same files, judged by each commit's own tree.
    code, report, err = _check(capsys, history=True)
    assert code == 0 and report["findings"] == [] and "vendored or minified" in err
    code, report, _ = _check(capsys, history=True, include_vendored=True)
    assert code == 1 and {f["path"] for f in report["findings"]} >= paths
    assert not contains_key(json.dumps(report) + err, raw)


def test_the_config_key_includes_them(repo, capsys):
    _raw, key = new_key()
    _tree(repo, key)
    (repo / ".importobot.toml").write_text("include-vendored = true\n")
    code, report, _ = _check(capsys)
    assert code == 1
    assert {f["path"] for f in report["findings"]} >= {"php/vendor/acme/lib/README.md"}


def test_a_directory_merely_named_vendor_hides_nothing(repo, capsys):
    _raw, key = new_key()
    _write(repo, "vendor/settings.py", f"SECRET_KEY = '{key}'\n")
    _write(repo, "node_modules/notes/README.md", _readme(key))  # no package.json
    _write(repo, ".venv/lib/keys.txt", _readme(key))  # no pyvenv.cfg
    _write(repo, "site-packages/pkg/conf.py", f"SECRET_KEY = '{key}'\n")  # not lib/python*/
    code, report, err = _check(capsys)
    assert code == 1
    assert sorted(f["path"] for f in report["findings"]) == [
        ".venv/lib/keys.txt",
        "node_modules/notes/README.md",
        "site-packages/pkg/conf.py",
        "vendor/settings.py",
    ]
    assert "vendored" not in err


def test_an_env_file_in_a_vendored_tree_is_still_iob101(repo, capsys):
    _raw, key = new_key()
    _write(repo, "composer.json", "{}\n")
    _write(repo, "vendor/app/.env", f"APP_KEY=base64:{key}\n")
    _write(repo, "vendor/app/config.php", f"'key' => '{key}',\n")
    code, report, err = _check(capsys)
    assert [(f["rule"], f["path"]) for f in report["findings"]] == [("IOB101", "vendor/app/.env")]
    assert "1 vendored or minified file skipped" in err


def test_hook_skips_staged_vendored_files_and_judges_them_by_the_index(repo, capsys):
    _raw, key = new_key()
    _tree(repo, key)
    files = ["node_modules/mongoose-lite/README.md", "php/vendor/acme/lib/README.md"]
    git(repo, "add", *files)  # the manifests are not staged: not a package tree in the commit
    assert block_keys(files) == 1
    capsys.readouterr()
    git(repo, "add", ".")
    assert block_keys(files) == 0
    assert "2 vendored or minified files skipped" in capsys.readouterr().err
    # A plain vendor/ staged alongside is still judged.
    _write(repo, "vendor/keys.py", f"SECRET_KEY = '{key}'\n")
    git(repo, "add", "vendor/keys.py")
    assert block_keys([*files, "vendor/keys.py"]) == 1
    assert "vendor/keys.py" in capsys.readouterr().out


def test_history_judges_the_manifest_in_the_commit_that_added_the_lines(repo, capsys):
    _raw, key = new_key()
    _write(repo, "node_modules/lib/README.md", _readme(key))
    git(repo, "add", ".")
    first = commit(repo, "no manifest yet")
    _write(repo, "node_modules/lib/package.json", "{}\n")
    _write(repo, "node_modules/lib/NOTES.md", _readme(key))
    git(repo, "add", ".")
    commit(repo, "manifest")
    code, report, _ = _check(capsys, history=True)
    assert [(f["path"], f["commit"]) for f in report["findings"]] == [
        ("node_modules/lib/README.md", first)
    ]


@pytest.mark.parametrize(
    ("rel", "files", "expected"),
    [
        ("node_modules/a/index.js", ["node_modules/a/package.json"], True),
        ("x/node_modules/@s/a/lib/i.js", ["x/node_modules/@s/a/package.json"], True),
        ("node_modules/@s/i.js", ["node_modules/@s/package.json"], False),
        ("node_modules/.cache.json", ["node_modules/.package-lock.json"], True),
        ("node_modules/a/index.js", ["node_modules/b/package.json"], False),
        ("bower_components/a/x.js", ["bower_components/a/.bower.json"], True),
        ("vendor/a/b.php", ["composer.json"], True),
        ("sub/vendor/a/b.php", ["composer.json"], False),
        ("vendor/golang.org/x/c.go", ["vendor/modules.txt"], True),
        (".venv/lib/python3.12/site-packages/a/b.py", [".venv/pyvenv.cfg"], True),
        ("layer/python/lib/python3.12/site-packages/a/b.py", [], True),
        ("lib/site-packages/a/b.py", [], False),
        ("vendor/a/b.php", [], False),
    ],
)
def test_judge_on_the_work_tree(tmp_path, rel, files, expected):
    for f in files:
        _write(tmp_path, f, "{}\n")
    _write(tmp_path, rel, "x = 1\n")
    judge = VendorJudge(str(tmp_path))
    assert judge.vendored(rel, b"x = 1\n") is expected


def test_judge_follows_no_symbolic_link(tmp_path):
    _write(tmp_path, "store/a/package.json", "{}\n")
    _write(tmp_path, "store/a/index.js", "x\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "a").symlink_to(tmp_path / "store" / "a")
    _write(tmp_path, "node_modules/b/index.js", "x\n")
    (tmp_path / "node_modules" / "b" / "package.json").symlink_to(
        tmp_path / "store" / "a" / "package.json"
    )
    judge = VendorJudge(str(tmp_path))
    assert not judge.vendored("node_modules/a/index.js", b"x\n")
    assert not judge.vendored("node_modules/b/index.js", b"x\n")


def test_minified_bundles():
    long_line = b"var a=1;" * 1024  # 8 KiB, no newline
    assert is_minified("dist/app.min.js", b"x")
    assert is_minified("dist/app.js.map", b'{"version":3}')
    assert is_minified("dist/site.css.map", b'{"version":3}')
    assert not is_minified("src/geo.map", b"x")  # a map that is not a source map
    assert is_minified("dist/app.js", long_line)
    assert not is_minified("dist/app.py", long_line)
    assert not is_minified("src/app.js", b"const a = 1;\n" * 1000)
    # One long line among ordinary code is not a bundle.
    assert not is_minified("src/app.js", b"const a = 1;\n" * 1000 + long_line)
    # A bundler's chunk: a short header and short lines beside long code lines.
    chunk = b"/*! chunk 42 */\n" + b"\n".join([b"x();"] * 200) + b"\n" + (long_line + b"\n") * 3
    assert len(chunk) < 2048 * (chunk.count(b"\n") + 1)  # the mean alone misses it
    assert is_minified("static/assets/2290.entry.js", chunk)
    # Long lines that are data (a data URI, base64), not code, do not make a bundle.
    blob = b"A" * 9000
    code = b"\n".join([b"x();"] * 200)
    data_file = code + b'\nconst logo = "data:image/png;base64,' + blob + b'";\n' + b"\n" * 10
    assert not is_minified("src/logo.js", data_file)
