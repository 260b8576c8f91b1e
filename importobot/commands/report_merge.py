"""``importobot report merge``: the results of every shard of an org scan as one report.

Reads the per-repository result files ``scan-repos`` wrote (``<hash>.json``, searched
recursively, so downloaded CI artifacts can be merged as they land). Findings become
*incidents*: keyed on the key's fingerprint where there is one — one key committed in
20 repositories is one incident listing 20 places —, else on (repository, path, line,
rule). Totals are given per repository. Formats: JSON (the canonical one; equal inputs
give equal bytes), SARIF 2.1.0 (one result per incident, a location per place), a
self-contained HTML page, Markdown.

With ``--list LIST`` a listed repository with neither a result nor a recorded failure
exits 2, so a lost shard never looks clean.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass

from importobot._text import plural, printable
from importobot.commands.scan_repos import RESULT_KIND, RESULT_VERSION, read_list
from importobot.exceptions import ConfigError
from importobot.git import URL_NORMALIZATION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

__all__ = ["FORMATS", "MergeRequest", "load_results", "merge", "render", "run_report_merge"]

FORMATS = ("json", "sarif", "html", "markdown")
REPORT_KIND = "importobot-org-report"
_MAX_RESULT_BYTES = 256 * 1024 * 1024
_SEVERITY = {"error": 0, "warning": 1}
_PLACE_FIELDS = ("repository", "path", "line", "column", "rule", "commit", "variable", "note")


@dataclass(frozen=True)
class MergeRequest:
    """The options of one ``report merge`` run."""

    dirs: tuple[str, ...]
    fmt: str = "json"
    output: str | None = None
    list_file: str | None = None
    exit_zero: bool = False


def _is_result_name(name: str) -> bool:
    stem = name[:-5] if name.endswith(".json") else ""
    return len(stem) == 64 and all(c in "0123456789abcdef" for c in stem)


def load_results(dirs: tuple[str, ...]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Result documents by repository URL (one per repository), and notes.

    Where a repository has several results (a shard rerun elsewhere), a scanned result
    wins over a failure, history over tip. A file that is not a result is noted, never
    trusted; results of another URL normalisation version are refused.
    """
    from importobot.fsio import FileRefused, read_content

    chosen: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for top in dirs:
        if not os.path.isdir(top):
            raise ConfigError(f"{printable(top)}: not a directory of scan-repos results")
        for here, subdirs, names in os.walk(top, followlinks=False):
            subdirs[:] = sorted(d for d in subdirs if d != ".clones")
            for name in sorted(names):
                if not _is_result_name(name):
                    continue
                path = os.path.join(here, name)
                try:
                    doc = json.loads(read_content(path, _MAX_RESULT_BYTES))
                except (FileRefused, ValueError, RecursionError):
                    notes.append(f"{printable(path)}: not a readable result, ignored")
                    continue
                if not isinstance(doc, dict) or doc.get("kind") != RESULT_KIND:
                    notes.append(f"{printable(path)}: not a scan-repos result, ignored")
                    continue
                if doc.get("version") != RESULT_VERSION:
                    raise ConfigError(f"{printable(path)}: result version {doc.get('version')!r}")
                if doc.get("normalization") != URL_NORMALIZATION:
                    raise ConfigError(
                        f"{printable(path)}: URL normalisation {doc.get('normalization')!r}, "
                        f"this importobot uses {URL_NORMALIZATION}: rescan with one version"
                    )
                url = doc.get("repository")
                if not isinstance(url, str) or not isinstance(doc.get("findings", []), list):
                    notes.append(f"{printable(path)}: malformed result, ignored")
                    continue
                old = chosen.get(url)
                if old is None or _rank(doc) < _rank(old):
                    chosen[url] = doc
    return chosen, notes


def _rank(doc: dict[str, Any]) -> tuple[int, int]:
    return (0 if doc.get("status") == "ok" else 1, 0 if doc.get("mode") == "history" else 1)


def _text(value: Any) -> str | None:
    return printable(value) if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _place(url: str, f: dict[str, Any]) -> dict[str, Any]:
    return {
        "repository": url,
        "path": _text(f.get("path")),
        "line": _int(f.get("line")),
        "column": _int(f.get("column")),
        "rule": _text(f.get("rule")) or "?",
        "commit": _text(f.get("commit")),
        "variable": _text(f.get("variable")),
        "note": _text(f.get("note")),
    }


def _place_key(p: dict[str, Any]) -> tuple[str, ...]:
    return tuple("" if p[k] is None else str(p[k]).zfill(12) for k in _PLACE_FIELDS)


def merge(results: dict[str, dict[str, Any]], listed: list[str] | None = None) -> dict[str, Any]:
    """The merged report (JSON-ready, deterministic: sorted, no times)."""
    incidents: dict[tuple[str, ...], dict[str, Any]] = {}
    repos: list[dict[str, Any]] = []
    for url in sorted(results):
        doc = results[url]
        findings = [f for f in doc.get("findings") or [] if isinstance(f, dict)]
        active = [f for f in findings if not f.get("suppressed")]
        raw_summary = doc.get("summary")
        summary: dict[str, Any] = raw_summary if isinstance(raw_summary, dict) else {}
        keys: set[tuple[str, ...]] = set()
        for f in active:
            fp = _text(f.get("fingerprint"))
            place = _place(url, f)
            key = ("fingerprint", fp) if fp else ("place", url, *_place_key(place)[1:5])
            keys.add(key)
            inc = incidents.setdefault(
                key,
                {
                    "fingerprint": fp,
                    "severity": "warning",
                    "rules": set(),
                    "key_types": set(),
                    "places": {},
                },
            )
            severity = "error" if f.get("severity") == "error" else "warning"
            if _SEVERITY[severity] < _SEVERITY[inc["severity"]]:
                inc["severity"] = severity
            inc["rules"].add(place["rule"])
            if isinstance(f.get("key_type"), str):
                inc["key_types"].add(printable(f["key_type"]))
            inc["places"][_place_key(place)] = place
        repos.append(
            {
                "repository": url,
                "id": _text(doc.get("id")),
                "status": "ok" if doc.get("status") == "ok" else "failed",
                "reason": _text(doc.get("reason")),
                "error": _text(doc.get("error")),
                "mode": _text(doc.get("mode")),
                "commit": _text(doc.get("commit")),
                "findings": len(active),
                "errors": sum(1 for f in active if f.get("severity") == "error"),
                "warnings": sum(1 for f in active if f.get("severity") != "error"),
                "suppressed": len(findings) - len(active),
                "incidents": len(keys),
                "files_scanned": _int(summary.get("files_scanned")) or 0,
                "bytes_scanned": _int(summary.get("bytes_scanned")) or 0,
            }
        )
    out_incidents = []
    for inc in incidents.values():
        places = [inc["places"][k] for k in sorted(inc["places"])]
        in_repos = sorted({p["repository"] for p in places})
        ident = inc["fingerprint"] or "|".join(str(v) for v in _place_key(places[0]))
        out_incidents.append(
            {
                "id": hashlib.sha256(ident.encode("utf-8", "replace")).hexdigest()[:16],
                "fingerprint": inc["fingerprint"],
                "severity": inc["severity"],
                "rules": sorted(inc["rules"]),
                "key_types": sorted(inc["key_types"]),
                "repositories": in_repos,
                "places": places,
            }
        )
    out_incidents.sort(
        key=lambda i: (
            _SEVERITY[i["severity"]],
            -len(i["repositories"]),
            _place_key(i["places"][0]),
        )
    )
    missing = sorted(set(listed or ()) - set(results))
    return {
        "kind": REPORT_KIND,
        "version": 1,
        "normalization": URL_NORMALIZATION,
        "repositories": repos,
        "incidents": out_incidents,
        "missing": missing,
        "summary": {
            "repositories": len(repos),
            "scanned": sum(1 for r in repos if r["status"] == "ok"),
            "failed": sum(1 for r in repos if r["status"] != "ok"),
            "missing": len(missing),
            "incidents": len(out_incidents),
            "errors": sum(1 for i in out_incidents if i["severity"] == "error"),
            "places": sum(len(i["places"]) for i in out_incidents),
            "findings": sum(r["findings"] for r in repos),
        },
    }


# --------------------------------------------------------------------------- render


def render(fmt: str, report: dict[str, Any], tool_version: str) -> str:
    """``report`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "sarif":
        return _sarif(report, tool_version)
    if fmt == "html":
        return _html(report, tool_version)
    if fmt == "markdown":
        return _markdown(report)
    doc = dict(report)
    doc["tool"] = {"name": "importobot", "version": tool_version}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _describe(inc: dict[str, Any]) -> str:
    n_repos = len(inc["repositories"])
    what = "the same key" if inc["fingerprint"] else "a finding"
    return (
        f"{', '.join(inc['rules'])}: {what} in {plural(len(inc['places']), 'place')} across "
        f"{plural(n_repos, 'repository', 'repositories')}"
        + (f" (key {inc['fingerprint']})" if inc["fingerprint"] else "")
    )


def _sarif(report: dict[str, Any], tool_version: str) -> str:
    from urllib.parse import quote

    from importobot.report.sarif import sarif_log, sarif_result

    bases: dict[str, str] = {}
    for n, repo in enumerate(report["repositories"]):
        bases[repo["repository"]] = f"REPO{n}"
    results: list[dict[str, Any]] = []
    for inc in report["incidents"]:
        locations: list[dict[str, object]] = []
        for p in inc["places"][:1000]:
            physical: dict[str, Any] = {
                "artifactLocation": {
                    "uri": quote(p["path"] or ".", safe="/"),
                    "uriBaseId": bases[p["repository"]],
                }
            }
            if p["line"] is not None:
                region: dict[str, int] = {"startLine": p["line"]}
                if p["column"] is not None:
                    region["startColumn"] = p["column"]
                physical["region"] = region
            locations.append({"physicalLocation": physical})
        item = sarif_result(inc["rules"][0], inc["severity"], _describe(inc), locations)
        item["properties"] = {
            "repositories": inc["repositories"],
            "places": len(inc["places"]),
            "incident": inc["id"],
        }
        if inc["fingerprint"]:
            item["partialFingerprints"] = {"importobotKeyFingerprint/v1": inc["fingerprint"]}
        results.append(item)
    base_ids: dict[str, object] = {
        base: {"uri": url.rstrip("/") + "/"} for url, base in bases.items()
    }
    return sarif_log(results, tool_version=tool_version, base_ids=base_ids)


def _where(p: dict[str, Any]) -> str:
    loc = p["path"] or "(no path)"
    if p["line"] is not None:
        loc += f":{p['line']}"
    if p["commit"]:
        loc += f" @ {p['commit'][:12]}"
    return loc


def _html(report: dict[str, Any], tool_version: str) -> str:
    from html import escape

    s = report["summary"]
    rows = []
    for r in report["repositories"]:
        state = "ok" if r["status"] == "ok" else f"failed: {r['reason']}: {r['error']}"
        rows.append(
            f"<tr><td>{escape(r['repository'])}</td><td>{escape(state)}</td>"
            f"<td>{r['findings']}</td><td>{r['incidents']}</td><td>{r['files_scanned']}</td></tr>"
        )
    incs = []
    for inc in report["incidents"]:
        places = "".join(
            f"<li>{escape(p['repository'])} <code>{escape(_where(p))}</code> "
            f"{escape(p['rule'])}</li>"
            for p in inc["places"]
        )
        incs.append(
            f'<section class="{escape(inc["severity"])}"><h3>{escape(_describe(inc))}</h3>'
            f"<ul>{places}</ul></section>"
        )
    missing = "".join(f"<li>{escape(m)}</li>" for m in report["missing"])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        "<title>importobot org scan</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
        ".error h3{color:#a00}.warning h3{color:#a60}code{font-size:90%}"
        "</style></head><body>"
        f"<h1>importobot org scan</h1><p>importobot {escape(tool_version)}: "
        f"{s['repositories']} repositories ({s['scanned']} scanned, {s['failed']} failed, "
        f"{s['missing']} missing), {s['incidents']} incidents in {s['places']} places.</p>"
        + (f"<h2>Missing results</h2><ul>{missing}</ul>" if missing else "")
        + "<h2>Incidents</h2>"
        + ("".join(incs) or "<p>None.</p>")
        + "<h2>Repositories</h2><table><tr><th>repository</th><th>status</th>"
        "<th>findings</th><th>incidents</th><th>files</th></tr>" + "".join(rows) + "</table>"
        "</body></html>\n"
    )


def _md(text: str) -> str:
    out = []
    for ch in text:
        if ch in "\\`*_[]<>|#":
            out.append("\\" + ch)
        elif ch in "\r\n":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        "# importobot org scan",
        "",
        f"{s['repositories']} repositories ({s['scanned']} scanned, {s['failed']} failed, "
        f"{s['missing']} missing); {s['incidents']} incidents in {s['places']} places.",
        "",
    ]
    if report["missing"]:
        lines += ["## Missing results", ""] + [f"- {_md(m)}" for m in report["missing"]] + [""]
    lines += ["## Incidents", ""]
    for inc in report["incidents"]:
        lines.append(f"### {_md(_describe(inc))}")
        lines.append("")
        lines += [
            f"- {_md(p['repository'])} {_md(_where(p))} {_md(p['rule'])}" for p in inc["places"]
        ]
        lines.append("")
    if not report["incidents"]:
        lines += ["None.", ""]
    lines += [
        "## Repositories",
        "",
        "| repository | status | findings | incidents |",
        "|---|---|---|---|",
    ]
    for r in report["repositories"]:
        state = "ok" if r["status"] == "ok" else f"failed ({r['reason']}): {r['error']}"
        lines.append(
            f"| {_md(r['repository'])} | {_md(state)} | {r['findings']} | {r['incidents']} |"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- command


def run_report_merge(req: MergeRequest, *, err: TextIO | None = None) -> int:
    """Merge, render, write. 0 clean, 1 error incidents, 2 a listed repository missing."""
    from importobot._version import __version__
    from importobot.commands import write_output

    stream = err if err is not None else sys.stderr
    if req.fmt not in FORMATS:
        raise ConfigError(f"--format {req.fmt!r}: one of {', '.join(FORMATS)}")
    if not req.dirs:
        raise ConfigError("name at least one directory of scan-repos results")
    listed = [r.url for r in read_list(req.list_file)] if req.list_file else None
    results, notes = load_results(req.dirs)
    report = merge(results, listed)
    for note in notes:
        print(f"importobot: {note}", file=stream)
    write_output(render(req.fmt, report, __version__), req.output)
    s = report["summary"]
    print(
        f"importobot: {plural(s['repositories'], 'repository', 'repositories')} "
        f"({s['failed']} failed), {plural(s['incidents'], 'incident')} in "
        f"{plural(s['places'], 'place')}",
        file=stream,
    )
    if report["missing"]:
        for url in report["missing"][:20]:
            print(f"importobot: error: no result for {printable(url)}", file=stream)
        more = len(report["missing"]) - 20
        if more > 0:
            print(f"importobot: error: ... and {more} more", file=stream)
        print(
            f"importobot: error: "
            f"{plural(len(report['missing']), 'listed repository', 'listed repositories')} "
            f"with neither a result nor a recorded failure (a lost shard?)",
            file=stream,
        )
        return 2
    if s["errors"] and not req.exit_zero:
        return 1
    return 0
