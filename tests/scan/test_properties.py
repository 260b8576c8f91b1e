"""Property tests: readers never raise; a generated key in any format is found at exactly
its line; no report format ever contains it in any spelling."""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importobot import dotenv
from importobot.report import FORMATS, render
from importobot.scan.finding import ScanResult
from importobot.scan.rules.files import scan_file

from .conftest import all_spellings

PATHS = [".env", "app.yaml", "Dockerfile", "settings.py", "x.json", "master.key", "noext"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.binary(max_size=4000), path=st.sampled_from(PATHS))
def test_scan_never_raises_on_bytes(data: bytes, path: str) -> None:
    assert isinstance(scan_file(path, data), list)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=2000))
def test_dotenv_never_raises(text: str) -> None:
    for entry in dotenv.parse(text):
        assert entry.line >= 1 and entry.column >= 1


_NAME = st.sampled_from(
    ["FERNET_KEY", "SECRET_KEY", "APP_SECRET", "ENCRYPTION_KEY", "JWT_SECRET", "MASTER_KEY"]
)
_SPELLING = st.sampled_from(["url", "url-nopad", "std", "std-nopad", "hex", "laravel"])
_QUOTE = st.sampled_from(["", "'", '"'])
_SPACE = st.sampled_from(["", " ", "  "])
_COMMENT = st.sampled_from(["", " # the key", "  # rotate yearly"])
_FILLER = st.lists(
    st.sampled_from(
        [
            "DEBUG=true",
            "# a comment",
            "",
            "DATABASE_URL=postgres://u:p@db/x",
            "PASSWORD=changeme",
            "TOKEN=${TOKEN}",
            "API_KEY=",
        ]
    ),
    max_size=12,
)


def _spell(raw: bytes, how: str) -> str:
    if how == "hex":
        return raw.hex()
    if how == "laravel":
        return "base64:" + base64.b64encode(raw).decode()
    text = (base64.urlsafe_b64encode if how.startswith("url") else base64.b64encode)(raw).decode()
    return text.rstrip("=") if how.endswith("nopad") else text


FORMAT_TEMPLATES = {
    ".env": ("{name}{sp}={sp}{q}{key}{q}{comment}", "{line}"),
    "export.sh": ("export {name}={q}{key}{q}{comment}", "{line}"),
    "docker-compose.yml": ("      - {name}={key}{comment}", "      - {line}"),
    "compose.yaml": ("      {name}:{sp} {q}{key}{q}{comment}", "      # {line}"),
    "Dockerfile": ("ENV {name}={q}{key}{q}", "# {line}"),
    "settings.py": ("{name}{sp}={sp}'{key}'{comment}", "# {line}"),
    "config.json": ('  "{name}":{sp}"{key}",', '  "x{n}": "{line}",'),
    "app.toml": ('{name}{sp}={sp}"{key}"{comment}', "# {line}"),
}


@settings(max_examples=400, deadline=None)
@given(
    raw=st.binary(min_size=32, max_size=32),
    fmt=st.sampled_from(sorted(FORMAT_TEMPLATES)),
    name=_NAME,
    how=_SPELLING,
    quote=_QUOTE,
    space=_SPACE,
    comment=_COMMENT,
    before=_FILLER,
    after=_FILLER,
)
def test_generated_key_found_at_its_line_and_never_printed(
    raw: bytes,
    fmt: str,
    name: str,
    how: str,
    quote: str,
    space: str,
    comment: str,
    before: list[str],
    after: list[str],
) -> None:
    from importobot.keys.material import weakness

    if weakness(raw) not in (None, "published"):
        return  # hypothesis likes zero bytes: a weak value is rightly not reported
    key = _spell(raw, how)
    template, filler = FORMAT_TEMPLATES[fmt]
    if fmt == "Dockerfile" or fmt == "config.json":
        comment = ""
    if fmt in ("docker-compose.yml", "config.json"):
        quote = ""
    line = template.format(name=name, sp=space, q=quote, key=key, comment=comment)
    fill = [
        filler.format(line=x, n=i).replace('"', "'")
        if fmt == "config.json"
        else filler.format(line=x, n=i)
        for i, x in enumerate(before + after)
    ]
    head = {
        "docker-compose.yml": ["services:", "  web:", "    environment:"],
        "compose.yaml": ["services:", "  web:", "    environment:"],
        "config.json": ["{"],
    }.get(fmt, [])
    lines = head + fill[: len(before)] + [line] + fill[len(before) :]
    if fmt == "config.json":
        lines.append('  "end": 1')
        lines.append("}")
    text = "\n".join(lines) + "\n"
    expected = len(head) + len(before) + 1
    found = scan_file(fmt, text.encode())
    assert [f.line for f in found] == [expected], (fmt, how)
    result = ScanResult(findings=found, files_scanned=1)
    for out_fmt in FORMATS:
        out = render(out_fmt, result, show_suppressed=True)
        for spelling in [*all_spellings(raw), key]:
            assert spelling not in out
