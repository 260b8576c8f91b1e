"""``importobot compliance report``: evidence, statuses, formats, exit codes, trend, events."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from importobot.keys.fingerprint import fingerprint
from importobot.security import CredentialManager
from tests.eventsink import install, recorded
from tests.gitrepo import commit, git, new_key
from tests.keygen import contains_key

from .scenario import (
    Scenario,
    base_env,
    cli,
    control,
    make_repo,
    now,
    register,
    report_json,
    validate,
)


@pytest.fixture
def acceptance(tmp_path: Path) -> Scenario:
    """400 days old under a 365-day policy, with a committed .env key in history."""
    return make_repo(tmp_path)


def test_acceptance_evidence_in_json(acceptance: Scenario) -> None:
    s = acceptance
    code, report = report_json(s.repo, s.env)
    assert code == 1
    validate(report)
    crypto = control(report, "cryptoperiod")
    assert crypto["status"] == "fail"
    texts = " ".join(e["text"] for e in crypto["evidence"])
    assert s.fp in texts and "400d old" in texts and "365d" in texts
    assert {c["ref"] for c in crypto["citations"]} == {"3.7.4", "5.3"}
    assert crypto["fix"] and "rotate" in crypto["fix"].lower()
    exposure = control(report, "exposure")
    assert exposure["status"] == "fail"
    committed = [e for e in exposure["evidence"] if e.get("rule") == "IOB204"]
    assert committed and committed[0]["path"] == ".env" and committed[0]["fingerprint"] == s.fp
    head = git(s.repo, "rev-list", "--max-parents=0", "HEAD").strip()
    assert committed[0]["commit"] == head  # the commit that added it, not the tip
    assert {c["ref"] for c in exposure["citations"]} >= {"3.6.1", "3.7.5"}
    (key,) = [k for k in report["keys"] if k["role"] == "primary"]
    assert key["fingerprint"] == s.fp and key["state"] == "due" and key["max"] == "365d"
    assert 399.9 <= key["age_days"] <= 400.1
    assert report["policy"]["originator_usage"] == "365d"
    assert report["policy"]["originator_usage_defined"] is True
    assert control(report, "key-storage")["status"] == "fail"  # env key, minimum wrapped
    assert control(report, "key-validity")["status"] == "pass"
    assert control(report, "split-knowledge")["status"] == "manual"
    assert report["summary"]["counts"]["fail"] == 3
    assert not contains_key(json.dumps(report), s.raw)


def _markdown_rows(text: str) -> list[tuple[str, str]]:
    """(control id, status word) of the Markdown controls table."""
    start = text.index("## Controls")
    rows = []
    for line in text[start:].splitlines()[4:]:
        if not line.startswith("| "):
            break
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        ident = re.search(r"`([a-z-]+)`", cells[0])
        assert ident is not None, line
        rows.append((ident.group(1), cells[1].split()[-1]))
    return rows


def test_markdown_renders_the_same_controls_and_statuses(acceptance: Scenario) -> None:
    s = acceptance
    _, report = report_json(s.repo, s.env)
    proc = cli(s.repo, s.env, "compliance", "report", "--format", "markdown")
    assert proc.returncode == 1
    words = {"not-applicable": "n/a"}
    expected = [(c["id"], words.get(c["status"], c["status"])) for c in report["controls"]]
    rows = _markdown_rows(proc.stdout)
    assert sorted(rows) == sorted(expected)
    order = ["fail", "warn", "manual", "pass", "n/a"]
    assert [order.index(s) for _, s in rows] == sorted(order.index(s) for _, s in rows)
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(proc.stdout)
    assert html.count("<tr>") >= len(expected) + 1
    assert "<a " not in html and "<img" not in html
    assert "past the end of its originator-usage period" in proc.stdout
    assert not contains_key(proc.stdout, s.raw)


def test_every_format_is_free_of_keys(tmp_path: Path) -> None:
    """Primary, previous and retired keys, a stale token, a committed copy: no report
    in any format holds any of them in any spelling."""
    s = make_repo(tmp_path)
    old_raw, old_key = new_key()
    other_raw, other_key = new_key()
    register(s.repo, old_raw, now() - timedelta(days=700), now() - timedelta(days=300))
    made = int(now().timestamp()) - 500 * 86400
    token = CredentialManager(old_raw).encrypt_bytes(b"secret", now=made)
    (s.repo / "creds.env").write_text(f"DB_PASSWORD={token.decode()}\nOTHER_KEY={other_key}\n")
    git(s.repo, "add", "-A")
    commit(s.repo, "more")
    env = {**s.env, "IMPORTOBOT_PREVIOUS_KEYS": old_key}
    for fmt in ("json", "markdown", "html"):
        proc = cli(s.repo, env, "compliance", "report", "--format", fmt)
        assert proc.returncode == 1, proc.stderr
        for raw in (s.raw, old_raw, other_raw):
            assert not contains_key(proc.stdout + proc.stderr, raw), fmt
        assert token.decode() not in proc.stdout
    _, report = report_json(s.repo, env)
    validate(report)
    retired = control(report, "retired-keys")
    assert retired["status"] == "warn"  # IOB305 and a stale token
    stale = [e for e in retired["evidence"] if e.get("rule") == "IOB303"]
    assert stale and stale[0]["fingerprint"] == fingerprint(old_raw)
    assert "opened by the previous key" in stale[0]["text"]


def test_stale_token_names_a_key_only_when_a_configured_key_opens_it(tmp_path: Path) -> None:
    s = make_repo(tmp_path, committed_env=False, config='max-key-age = "30d"\n', age_days=10)
    stranger_raw, _ = new_key()
    old = int(now().timestamp()) - 90 * 86400
    mine = CredentialManager(s.raw).encrypt_bytes(b"a", now=old).decode()
    theirs = CredentialManager(stranger_raw).encrypt_bytes(b"b", now=old).decode()
    (s.repo / "values.txt").write_text(f"A={mine}\nB={theirs}\n")
    git(s.repo, "add", "-A")
    commit(s.repo, "tokens")
    _, report = report_json(s.repo, s.env)
    stale = {e["line"]: e for e in control(report, "retired-keys")["evidence"] if e.get("rule")}
    assert stale[1]["fingerprint"] == s.fp and "primary key" in stale[1]["text"]
    assert "fingerprint" not in stale[2] and "opened by" not in stale[2]["text"]


def test_fail_on_and_a_report_without_failures(tmp_path: Path) -> None:
    s = make_repo(
        tmp_path,
        age_days=30,
        committed_env=False,
        config=(
            'max-key-age = "180d"\n\n[tool.importobot.compliance]\nrequired-storage = "env"\n'
            'policy = { recipient-usage = "1095d", service-provider = false }\n'
        ),
    )
    code, report = report_json(s.repo, s.env)
    validate(report)
    statuses = {c["id"]: c["status"] for c in report["controls"]}
    assert "fail" not in statuses.values(), statuses
    assert statuses["key-substitution"] == "warn"  # registered, but not bound to a KEK
    assert statuses["crypto-architecture"] == "not-applicable"
    assert statuses["custodians"] == "manual"
    assert code == 0
    assert report_json(s.repo, s.env, "--fail-on", "warn")[0] == 1
    assert report_json(s.repo, s.env, "--fail-on", "manual")[0] == 1
    assert report["policy"]["required_storage"] == "env"
    assert report["policy"]["recipient_usage"] == "1095d"
    assert report["summary"]["maximum"] == sum(
        c["weight"] for c in report["controls"] if c["status"] != "not-applicable"
    )


def test_undefined_policy_warns_and_never_claims_a_pci_number(tmp_path: Path) -> None:
    s = make_repo(tmp_path, age_days=10, committed_env=False, config="")
    _, report = report_json(s.repo, s.env)
    crypto = control(report, "cryptoperiod")
    assert crypto["status"] == "warn"
    assert report["policy"]["originator_usage_defined"] is False
    assert any("no cryptoperiod defined" in e["text"] for e in crypto["evidence"])
    for fmt in ("json", "markdown", "html"):
        text = cli(s.repo, s.env, "compliance", "report", "--format", fmt).stdout
        for sentence in re.split(r"(?<=[.;])\s|\n|\"|<|>", text):
            if "PCI" in sentence and "3.7.4" in sentence.replace("\\", ""):
                assert not re.search(r"\b\d+\s*days?\b|\b\d+d\b", sentence), sentence


def test_previous_report_shows_what_changed(acceptance: Scenario, tmp_path: Path) -> None:
    s = acceptance
    first = tmp_path / "before.json"
    proc = cli(s.repo, s.env, "compliance", "report", "--format", "json", "--output", str(first))
    assert proc.returncode == 1 and proc.stdout == ""
    # the key is replaced by a young one: the cryptoperiod control is fixed
    raw, key = new_key()
    register(s.repo, raw, now() - timedelta(days=5))
    env = {**s.env, "IMPORTOBOT_ENCRYPTION_KEY": key}
    code, report = report_json(s.repo, env, "--previous", str(first))
    validate(report)
    trend = report["trend"]
    assert "cryptoperiod" in trend["fixed"]
    assert {"id": "cryptoperiod", "from": "fail", "to": "pass"} in trend["changed"]
    assert trend["new_failures"] == []
    md = cli(s.repo, env, "compliance", "report", "--previous", str(first)).stdout
    assert "## Changes since" in md and "cryptoperiod" in md.split("## Changes since")[1]
    html = cli(s.repo, env, "compliance", "report", "--format", "html", "--previous", str(first))
    trend_html = html.stdout.split('<section id="trend">')[1].split("</section>")[0]
    assert "Fixed: cryptoperiod" in trend_html and "<code>cryptoperiod</code>" in trend_html
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "controls": [{"id": 1}]}')
    proc = cli(s.repo, env, "compliance", "report", "--previous", str(bad))
    assert proc.returncode == 2 and "not a version 1 compliance report" in proc.stderr


def test_a_report_run_emits_one_event_with_the_counts(acceptance: Scenario, tmp_path: Path) -> None:
    s = acceptance
    outside = tmp_path / "events.toml"
    outside.write_text("[events]\n")
    env = {**s.env, **install(tmp_path), "IMPORTOBOT_EVENTS_CONFIG": str(outside)}
    proc = cli(s.repo, env, "compliance", "report", "--format", "html", "--output", "r.html")
    assert proc.returncode == 1, proc.stderr
    events = [r["event"] for r in recorded(env)]
    assert [e["type"] for e in events] == ["compliance.report"]
    (event,) = events
    assert event["severity"] == "error"
    assert event["counts"]["fail"] == 3 and event["counts"]["manual"] == 4
    assert sum(event["counts"].values()) == 11
    assert event["payload"]["format"] == "html"
    assert not contains_key(Path(env["IMPORTOBOT_TEST_SINK_FILE"]).read_text(), s.raw)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('[tool.importobot.compliance]\nrequired-storage = "vault"\n', "required-storage"),
        ("[tool.importobot.compliance]\nunknown = 1\n", "unknown key 'unknown'"),
        ('[tool.importobot.compliance]\npolicy = { originator-usage = "1y" }\n', "years vary"),
        ('[tool.importobot.compliance]\npolicy = { cadence = "90d" }\n', "unknown policy key"),
        ('[tool.importobot.compliance]\npolicy = "missing.toml"\n', "not found"),
        ('[tool.importobot.compliance]\npolicy = { service-provider = "no" }\n', "true or false"),
        ("rotation-log = 3\n[tool.importobot.compliance]\n", "rotation-log"),
    ],
)
def test_configuration_errors_exit_2_in_one_line(tmp_path: Path, config: str, message: str) -> None:
    s = make_repo(tmp_path, committed_env=False, age_days=1)
    text = (s.repo / "pyproject.toml").read_text().replace("[tool.importobot]\n", "")
    (s.repo / "pyproject.toml").write_text(text + "[tool.importobot]\n" + config)
    proc = cli(s.repo, s.env, "compliance", "report")
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_policy_file_overrides_the_configuration(acceptance: Scenario, tmp_path: Path) -> None:
    s = acceptance
    policy = tmp_path / "prod-policy.toml"
    policy.write_text(
        'name = "production"\noriginator-usage = "730d"\nwarn = "700d"\n'
        'required-storage = "keyring"\nkek = "365d"\n'
    )
    _, report = report_json(s.repo, s.env, "--policy", str(policy))
    validate(report)
    assert report["policy"]["name"] == "production"
    assert report["policy"]["originator_usage"] == "730d"
    assert report["policy"]["source"] == "--policy prod-policy.toml"
    assert control(report, "cryptoperiod")["status"] == "pass"
    assert "below keyring" in json.dumps(control(report, "key-storage"))
    policy.write_text('originator-usage = "30d"\nwarn = "60d"\n')
    proc = cli(s.repo, s.env, "compliance", "report", "--policy", str(policy))
    assert proc.returncode == 2 and "longer than the originator-usage" in proc.stderr


def test_outside_git_and_without_history(tmp_path: Path) -> None:
    raw, key = new_key()
    (tmp_path / "app").mkdir()
    env = {**base_env(), "IMPORTOBOT_ENCRYPTION_KEY": key}
    code, report = report_json(tmp_path / "app", env)
    validate(report)
    assert "not a git repository: no history to scan" in report["notes"]
    assert control(report, "rotation-history")["status"] == "warn"  # no registry
    assert control(report, "cryptoperiod")["status"] == "warn"  # age unknown, not defined
    s = make_repo(tmp_path)
    _, report = report_json(s.repo, s.env, "--no-history")
    assert control(report, "exposure")["status"] == "pass"  # the copy is only in history
    assert "history not scanned (--no-history)" in report["notes"]
    assert not contains_key(json.dumps(report), raw)


def test_keys_the_registry_marks_compromised(tmp_path: Path) -> None:
    from importobot.keys.registry import Registry

    s = make_repo(tmp_path, age_days=10, committed_env=False)
    old_raw, old_key = new_key()
    path = str(s.repo / ".importobot-keys.toml")
    reg = Registry.load(path)
    reg.register(fingerprint(old_raw), now() - timedelta(days=100))
    reg.mark_compromised(fingerprint(old_raw), now() - timedelta(days=5))
    reg.save()
    env = {**s.env, "IMPORTOBOT_PREVIOUS_KEYS": old_key}
    code, report = report_json(s.repo, env)
    validate(report)
    assert code == 1
    exposure = control(report, "exposure")
    assert exposure["status"] == "fail"
    assert any(
        "marked compromised" in e["text"] and "still configured" in e["text"]
        for e in exposure["evidence"]
    )
    assert control(report, "retired-keys")["status"] == "fail"
    (row,) = [k for k in report["keys"] if k["fingerprint"] == fingerprint(old_raw)]
    assert row["role"] == "previous" and row["compromised"] is not None
    assert any(f["rule"] == "IOB204" and f["path"] is None for f in report["findings"])
    # no longer configured: the registry's record is evidence, not a failure
    _, report = report_json(s.repo, s.env)
    assert control(report, "exposure")["status"] == "pass"
    (row,) = [k for k in report["keys"] if k["fingerprint"] == fingerprint(old_raw)]
    assert row["role"] == "registered" and row["compromised"] is not None
    assert not contains_key(json.dumps(report), old_raw)
