"""``report merge`` on hand-made result files: incident keys, totals, missing and failed
repositories, hostile result files (no git needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from importobot.commands.report_merge import MergeRequest, load_results, merge, run_report_merge
from importobot.commands.scan_repos import RESULT_KIND
from importobot.exceptions import ConfigError
from importobot.git import URL_NORMALIZATION, normalize_url, url_hash


def finding(path: str, line: int, rule: str = "IOB101", fp: str | None = None) -> dict[str, object]:
    return {
        "rule": rule,
        "severity": "error",
        "path": path,
        "line": line,
        "column": 1,
        "variable": "K",
        "key_type": "fernet",
        "fingerprint": fp,
        "message": "m",
        "commit": None,
    }


def result(directory: Path, url: str, findings: list[dict[str, object]], **extra: object) -> Path:
    norm = normalize_url(url)
    doc = {
        "kind": RESULT_KIND,
        "version": 1,
        "normalization": URL_NORMALIZATION,
        "repository": norm,
        "id": url_hash(norm),
        "mode": "tip",
        "status": "ok",
        "findings": findings,
        "summary": {"files_scanned": 3, "bytes_scanned": 10},
        **extra,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{url_hash(norm)}.json"
    path.write_text(json.dumps(doc))
    return path


def test_one_key_in_many_repositories_is_one_incident(tmp_path: Path) -> None:
    fp = "iobfp1:0123456789abcdef"
    for i in range(20):
        result(tmp_path / f"s{i % 4}", f"https://git.example/o/r{i}", [finding(".env", 2, fp=fp)])
    result(tmp_path / "s0", "https://git.example/o/x", [finding("a.py", 1), finding("a.py", 1)])
    results, notes = load_results((str(tmp_path),))
    report = merge(results)
    assert not notes and report["summary"]["repositories"] == 21
    [shared] = [i for i in report["incidents"] if i["fingerprint"] == fp]
    assert len(shared["places"]) == 20 and len(shared["repositories"]) == 20
    # No fingerprint: (repository, path, line, rule) is the key; duplicates collapse.
    [other] = [i for i in report["incidents"] if i["fingerprint"] is None]
    assert len(other["places"]) == 1
    x = next(r for r in report["repositories"] if r["repository"].endswith("/x"))
    assert x["findings"] == 2 and x["incidents"] == 1


def test_list_missing_failed_and_duplicates(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(
        "https://git.example/o/a\nhttps://git.example/o/b\nhttps://git.example/o/c\n"
    )
    result(tmp_path / "r1", "https://git.example/o/a", [])
    result(tmp_path / "r1", "https://git.example/o/b", [], status="failed", reason="clone")
    # b scanned on a rerun elsewhere: the scanned result wins over the failure.
    result(tmp_path / "r2", "https://git.example/o/b", [finding("k", 1, fp="iobfp1:00")])
    (tmp_path / "r2" / ("0" * 64 + ".json")).write_text("{not json")
    (tmp_path / "r2" / ("1" * 64 + ".json")).write_text('{"kind": "other"}')
    err = tmp_path / "err.txt"
    with err.open("w") as stream:
        code = run_report_merge(
            MergeRequest(dirs=(str(tmp_path / "r1"), str(tmp_path / "r2")), list_file=str(listing),
                         output=str(tmp_path / "out.json")),
            err=stream,
        )  # fmt: skip
    assert code == 2
    text = err.read_text()
    assert "no result for https://git.example/o/c" in text and "ignored" in text
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["missing"] == ["https://git.example/o/c"]
    b = next(r for r in report["repositories"] if r["repository"].endswith("/b"))
    assert b["status"] == "ok" and b["findings"] == 1
    listing.write_text("https://git.example/o/a\nhttps://git.example/o/b\n")
    with err.open("w") as stream:
        assert (
            run_report_merge(
                MergeRequest(dirs=(str(tmp_path),), list_file=str(listing), exit_zero=True),
                err=stream,
            )
            == 0
        )


def test_other_normalisation_version_refused(tmp_path: Path) -> None:
    result(tmp_path, "https://git.example/o/a", [], normalization=URL_NORMALIZATION + 1)
    with pytest.raises(ConfigError, match="normalisation"):
        load_results((str(tmp_path),))
