"""The HTML report: self-contained, escaped, and drawn right by a real headless Chromium.

The browser test runs Debian's ``chromium`` (``scripts/test`` installs it; a CI runner's
Chrome works too, or ``IMPORTOBOT_TEST_BROWSER``), saves the screenshot as a test
artifact (the path is printed), and checks the pixels: the page is not blank, the
timeline SVG (``id="key-age-timeline"``) sits right below the summary as the page's
contents list says, and the primary key's bar runs past its due line.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from importobot_enterprise.compliance.render_html import CSS, csp
from importobot_enterprise.compliance.timeline import COLORS, TIMELINE_ID
from tests.conftest import require_service
from tests.gitrepo import commit, git
from tests.keygen import contains_key

from .png import read_png
from .scenario import Scenario, cli, make_repo, now

HOSTILE_FILE = "<img src=x onerror=alert(1)>.env"
HOSTILE_NOTE = (
    "</li><script>alert(1)</script> | [x](javascript:alert(1)) ![i](https://evil.example/x.png)"
    " www.evil.example `code` *em* <b onclick=alert(2)>b</b> &amp; https://evil.example/"
)
HOSTILE_WHO = '"><svg onload=alert(3)>'

_ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p", "nav",
    "ol", "ul", "li", "a", "section", "div", "b", "span", "figure", "figcaption", "table",
    "tr", "th", "td", "code", "br", "svg", "rect", "line", "text", "tspan", "path", "desc",
}  # fmt: skip


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def hostile_repo(tmp_path: Path) -> Scenario:
    s = make_repo(tmp_path)
    (s.repo / HOSTILE_FILE).write_text(f"APP_KEY={s.key}\n")
    (s.repo / ".importobot-attestations.toml").write_text(
        "[[attestation]]\n"
        'control = "custodians"\n'
        f"who = '{HOSTILE_WHO}'\n"
        f"when = {(now() - timedelta(days=1)):%Y-%m-%d}\n"
        f"note = '{HOSTILE_NOTE}'\n"
    )
    git(s.repo, "add", "-A")
    commit(s.repo, "hostile names")
    return s


def _check_page(html: str) -> _Collect:
    page = _Collect()
    page.feed(html)
    tags = {t for t, _ in page.tags}
    assert tags <= _ALLOWED_TAGS, tags - _ALLOWED_TAGS
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name not in ("src", "srcset", "style", "action", "formaction"), (tag, name)
            if name == "href":
                assert value is not None and value.startswith("#"), value
    metas = [a for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    (policy,) = [m["content"] for m in metas if m["http-equiv"] == "Content-Security-Policy"]
    assert policy is not None and policy.startswith("default-src 'none';")
    digest = base64.b64encode(hashlib.sha256(page.style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy and page.style == CSS
    assert "url(" not in page.style and "@import" not in page.style
    return page


def test_html_escapes_hostile_names_and_is_self_contained(tmp_path: Path) -> None:
    s = hostile_repo(tmp_path)
    proc = cli(s.repo, s.env, "compliance", "report", "--format", "html")
    assert proc.returncode == 1, proc.stderr
    html = proc.stdout
    _check_page(html)
    assert "&lt;img src=x onerror=alert(1)&gt;.env" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;&gt;&lt;svg onload=alert(3)&gt;" in html
    assert "<script" not in html and "<img" not in html and "onerror=alert(1)>" not in html
    assert html.count(f'id="{TIMELINE_ID}"') == 1
    assert not contains_key(html, s.raw)
    assert csp().startswith("default-src 'none'")


def test_markdown_escapes_hostile_names_the_same_way(tmp_path: Path) -> None:
    from markdown_it import MarkdownIt

    s = hostile_repo(tmp_path)
    proc = cli(s.repo, s.env, "compliance", "report", "--format", "markdown")
    assert proc.returncode == 1, proc.stderr
    rendered = MarkdownIt("commonmark").enable("table").render(proc.stdout)
    for bad in ("<img", "<script", "<svg", "<a ", "<b ", "<em>em</em>", "<code>code</code>"):
        assert bad not in rendered, bad
    assert "*em*" in rendered and "`code`" in rendered
    assert "&lt;img src=x onerror=alert(1)&gt;.env" in rendered
    assert "[x](javascript:alert(1))" in rendered  # shown as text, not a link
    for table in rendered.split("<table>")[1:]:
        body = table.split("</table>")[0]
        head = len(re.findall(r"<th[ >]", body.split("</tr>")[0]))
        for row in body.split("<tr>")[2:]:
            assert len(re.findall(r"<td[ >]", row)) == head, row
    assert not contains_key(proc.stdout, s.raw)


def _browser() -> str | None:
    explicit = os.environ.get("IMPORTOBOT_TEST_BROWSER")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",  # required as root (scripts/test runs as root)
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ]
    proc = subprocess.run(
        [browser, *flags, *args], capture_output=True, text=True, timeout=180, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _artifacts() -> Path:
    base = os.environ.get("IMPORTOBOT_TEST_ARTIFACTS") or tempfile.gettempdir()
    out = Path(base) / "importobot-test-artifacts"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _box(points: list[tuple[int, int]]) -> tuple[int, int, int, int]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _dense_box(points: list[tuple[int, int]], min_row: int = 100) -> tuple[int, int, int, int]:
    """The box of the rows holding at least ``min_row`` of ``points`` (a filled area, not
    the odd anti-aliased pixel of text that happens to share its colour)."""
    per_row: dict[int, int] = {}
    for _, y in points:
        per_row[y] = per_row.get(y, 0) + 1
    rows = {y for y, n in per_row.items() if n >= min_row}
    assert rows, "no filled area of that colour"
    return _box([p for p in points if p[1] in rows])


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def test_acceptance_html_in_headless_chromium(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = _browser()
    require_service("chromium", browser is not None, "apt-get install chromium (scripts/test does)")
    assert browser is not None
    s = make_repo(tmp_path)  # 400 days old, 365-day policy, a committed .env in history
    proc = cli(s.repo, s.env, "compliance", "report", "--format", "html", "--output", "r.html")
    assert proc.returncode == 1, proc.stderr
    page = s.repo / "r.html"
    html = page.read_text()
    assert not contains_key(html, s.raw)
    for text in ("Cryptoperiod", "Key exposure", "past the end of its originator-usage period"):
        assert text in html
    out = _artifacts()
    shot = out / "compliance-report.png"
    shutil.copy(page, out / "compliance-report.html")
    profile = tmp_path / "profile"
    url = page.as_uri()
    _chromium(browser, profile, f"--screenshot={shot}", "--window-size=1200,2400", url)
    dom = _chromium(browser, profile, "--dump-dom", url).stdout
    with capsys.disabled():
        print(f"\ncompliance report screenshot (test artifact): {shot}")

    # The DOM: the page says (contents list, figure caption) the timeline is right below
    # the summary; the browser parsed it there, as an <svg> with the fixed id.
    assert f'<a href="#{TIMELINE_ID}">Key-age timeline</a> (figure 1, right below the ' in dom
    summary_at, timeline_at = dom.index('<section id="summary">'), dom.index('id="timeline"')
    svg_at = dom.index(f'<svg id="{TIMELINE_ID}"')
    assert summary_at < timeline_at < svg_at < dom.index('<section id="keys">')
    assert dom.count('class="due-line"') == 1 and 'class="bar"' in dom

    # The pixels.
    image = read_png(shot)
    assert (image.width, image.height) == (1200, 2400)
    histogram = image.colors()
    white = histogram.get((255, 255, 255), 0)
    assert len(histogram) > 50 and white < 0.95 * sum(histogram.values()), "blank page"
    frame = image.find(_rgb(COLORS["background"]), tolerance=1)
    left, top, right, bottom = _dense_box(frame)
    assert 995 <= right - left + 1 <= 1001, (left, right)  # the SVG is 1000 px wide
    fail_box = _dense_box(image.find((0xB7, 0x1C, 0x1C), tolerance=4, box=(0, 0, 1200, top)), 50)
    assert fail_box[3] < top, "the summary's status boxes are above the timeline"
    header = image.find((0xEE, 0xF2, 0xF7), tolerance=1, box=(0, bottom, 1200, 2400))
    assert _dense_box(header)[1] > bottom, "the keys table follows the timeline"

    # The primary key's bar crosses its due line: blue before it, red after it.
    due = image.find(_rgb(COLORS["due"]), tolerance=8, box=(left, top, right + 1, bottom + 1))
    assert due, "no due line drawn"
    due_x = sorted(x for x, _ in due)[len(due) // 2]
    ys = sorted({y for x, y in due if abs(x - due_x) <= 2})
    row = ys[len(ys) // 2]
    ok = image.find(_rgb(COLORS["ok"]), tolerance=8, box=(left, row - 3, due_x, row + 4))
    over = image.find(_rgb(COLORS["over"]), tolerance=8, box=(due_x + 3, row - 3, right, row + 4))
    assert ok and over, "the bar does not run past the due line"
    assert max(x for x, _ in over) > due_x + 10
