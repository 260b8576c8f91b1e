"""Where connectors may come from (D23): secret-less ones from the repository, the rest only
from outside it, secrets only from IMPORTOBOT_EVENTS_TOKEN_<NAME>; refusals are one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from importobot.events import SinkConfig
from importobot_enterprise.siem import SIEMManager, make_sink
from importobot_enterprise.siem.config import ConnectorSpec, resolve, token_variable
from importobot_enterprise.siem.connectors import (
    ElasticConnector,
    SplunkHECConnector,
    SyslogConnector,
    connector_for,
)
from importobot_enterprise.siem.errors import ConfigError


def cfg(
    root: Path, repo: object = None, outside: object = None, outside_source: str | None = None
) -> SinkConfig:
    return SinkConfig(
        str(root),
        repository_source=str(root / "pyproject.toml") if repo is not None else None,
        repository_table=repo,
        outside_source=outside_source or (str(root.parent / "events.toml") if outside else None),
        outside_table=outside,
    )


SYSLOG = {"name": "local-syslog", "type": "syslog", "url": "tcp://127.0.0.1:5514"}
HEC = {"name": "corp-splunk", "type": "splunk-hec", "url": "https://splunk.example:8088"}


def test_a_repository_may_define_secretless_connectors(tmp_path: Path) -> None:
    resolved = resolve(
        cfg(
            tmp_path,
            {
                "connector": [
                    {**SYSLOG, "format": "cef", "pen": 99, "facility": "local3"},
                    {"name": "file", "type": "jsonl", "url": "logs/events.jsonl"},
                ]
            },
        )
    )
    assert resolved.problems == ()
    syslog, jsonl = resolved.connectors
    assert (syslog.format, syslog.pen, syslog.facility, syslog.origin) == (
        "cef",
        99,
        19,
        "repository",
    )
    assert jsonl.url == str(tmp_path / "logs" / "events.jsonl")
    assert jsonl.root == str(tmp_path)


@pytest.mark.parametrize(
    "connector,words",
    [
        (HEC, "carries a secret (splunk-hec) may not be defined in the repository"),
        (
            {"name": "es", "type": "elastic", "url": "https://es:9200"},
            "carries a secret (elastic)",
        ),
        (
            {**SYSLOG, "url": "tls://h:6514", "cert-file": "c.pem", "key-file": "k.pem"},
            "carries a client certificate",
        ),
        ({"name": "f", "type": "jsonl", "url": "/var/log/x.jsonl"}, "inside the repository"),
        ({"name": "f", "type": "jsonl", "url": "../outside.jsonl"}, "inside the repository"),
        ({**SYSLOG, "token": "x"}, "secrets are never read from a configuration file"),
        ({**SYSLOG, "url": "tcp://user:pw@h:1"}, "a URL carries no user or password"),
        ({**SYSLOG, "url": "http://h:1"}, "url must start with udp:// or tcp:// or tls://"),
        ({**SYSLOG, "verbose": True}, "unknown key 'verbose'"),
        ({**SYSLOG, "format": "leef"}, "format must be rfc5424 or cef"),
    ],
)
def test_a_repository_connector_is_refused_with_one_line(
    tmp_path: Path, connector: dict[str, object], words: str
) -> None:
    resolved = resolve(cfg(tmp_path, {"connector": [connector, {**SYSLOG, "name": "ok"}]}))
    [problem] = resolved.problems
    assert words in problem and "\n" not in problem
    assert [c.name for c in resolved.connectors] == ["ok"]  # the others still apply


def test_a_symlinked_directory_cannot_carry_a_jsonl_file_out(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "logs").symlink_to(outside)
    resolved = resolve(cfg(repo, {"connector": [{"name": "f", "type": "jsonl", "url": "logs/x"}]}))
    assert "inside the repository" in resolved.problems[0]


def test_a_secret_value_is_never_shown(tmp_path: Path) -> None:
    secret = "hec-" + os.urandom(16).hex()
    for where in ("repo", "outside"):
        table = {"connector": [{**HEC, "token": secret}]}
        config = cfg(tmp_path, table) if where == "repo" else cfg(tmp_path, outside=table)
        resolved = resolve(config)
        assert resolved.problems and secret not in " ".join(resolved.problems)
        if where == "outside":
            assert "IMPORTOBOT_EVENTS_TOKEN_CORP_SPLUNK" in resolved.problems[0]


def test_outside_connectors_carry_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "hec-" + os.urandom(16).hex()
    monkeypatch.setenv("IMPORTOBOT_EVENTS_TOKEN_CORP_SPLUNK", secret)
    resolved = resolve(cfg(tmp_path, outside={"connector": [{**HEC, "ack": True}]}))
    [spec] = resolved.connectors
    assert spec.origin == "outside" and spec.ack
    connector = connector_for(spec)
    assert isinstance(connector, SplunkHECConnector)
    assert connector._secret() == secret
    assert secret not in repr(connector) and "secret=<hidden>" in repr(connector)
    assert secret not in repr(spec) and secret not in str(spec.to_json())
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(connector)


def test_a_repository_spec_never_gets_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(token_variable("x"), "hec-" + os.urandom(8).hex())
    with pytest.raises(ConfigError):
        ConnectorSpec.from_json(
            {"name": "x", "type": "splunk-hec", "url": "https://h", "origin": "repository"}
        )


def test_use_picks_outside_connectors_and_default_false_waits_to_be_named(tmp_path: Path) -> None:
    outside = {
        "connector": [
            {**HEC, "default": False},
            {"name": "org-syslog", "type": "syslog", "url": "udp://10.0.0.1:514"},
        ]
    }
    plain = resolve(cfg(tmp_path, {"connector": [SYSLOG]}, outside))
    assert [c.name for c in plain.connectors] == ["org-syslog", "local-syslog"]
    named = resolve(cfg(tmp_path, {"use": ["corp-splunk", "nope"]}, outside))
    assert [c.name for c in named.connectors] == ["org-syslog", "corp-splunk"]
    assert len(named.problems) == 1 and "'nope'" in named.problems[0]


def test_a_repository_cannot_shadow_an_outside_name(tmp_path: Path) -> None:
    outside = {"connector": [{**SYSLOG, "url": "tcp://siem.corp:514"}]}
    resolved = resolve(cfg(tmp_path, {"connector": [SYSLOG]}, outside))
    assert [c.url for c in resolved.connectors] == ["tcp://siem.corp:514"]
    assert "defined outside the repository too" in resolved.problems[0]


def test_spool_size_comes_from_outside(tmp_path: Path) -> None:
    resolved = resolve(cfg(tmp_path, outside={"spool-max-size": "1MB", "connector": [SYSLOG]}))
    assert resolved.spool_max == 1024 * 1024
    refused = resolve(cfg(tmp_path, {"spool-max-size": "1MB", "connector": [SYSLOG]}))
    assert "unknown key 'spool-max-size'" in refused.problems[0]


def test_the_sink_factory_says_each_problem_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert make_sink(cfg(tmp_path, {"connector": [HEC]})) is None
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("importobot: events: ")
    sink = make_sink(cfg(tmp_path, {"connector": [SYSLOG]}))
    assert isinstance(sink, SIEMManager)
    assert isinstance(sink.connectors[0], SyslogConnector)


def test_a_missing_token_is_said_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    es = {"name": "es-prod", "type": "elastic", "url": "https://es.example:9200"}
    sink = make_sink(cfg(tmp_path, outside={"connector": [es]}))
    assert sink is not None and isinstance(sink.connectors[0], ElasticConnector)
    assert "IMPORTOBOT_EVENTS_TOKEN_ES_PROD is not set" in capsys.readouterr().err


def test_from_config_reads_the_repository_and_the_outside_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        "[tool.importobot.events]\nuse = ['corp-splunk']\n"
        "[[tool.importobot.events.connector]]\n"
        "name = 'local'\ntype = 'syslog'\nurl = 'udp://127.0.0.1:5514'\n"
    )
    outside = tmp_path / "events.toml"
    outside.write_text(
        "[events]\n[[events.connector]]\nname = 'corp-splunk'\ntype = 'splunk-hec'\n"
        "url = 'https://splunk.example:8088'\ndefault = false\n"
    )
    monkeypatch.setenv("IMPORTOBOT_EVENTS_CONFIG", str(outside))
    manager = SIEMManager.from_config(repo)
    assert [c.name for c in manager.connectors] == ["local", "corp-splunk"]
    (repo / "pyproject.toml").write_text(
        "[tool.importobot.events]\n[[tool.importobot.events.connector]]\n"
        "name = 'x'\ntype = 'splunk-hec'\nurl = 'https://evil.example'\n"
    )
    with pytest.raises(ConfigError, match="may not be defined in the repository"):
        SIEMManager.from_config(repo)


def test_a_committed_secret_connector_is_one_line_in_a_real_process(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        "[tool.importobot.events]\n[[tool.importobot.events.connector]]\n"
        "name = 'x'\ntype = 'elastic'\nurl = 'https://evil.example'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env["IMPORTOBOT_EVENTS_TOKEN_X"] = "es-" + os.urandom(8).hex()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importobot.events import emit_event; "
            "print(emit_event('key.stale', rule='IOB301'))",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "None"
    [line] = proc.stderr.splitlines()
    assert line.startswith("importobot: events: ") and "may not be defined" in line
    assert env["IMPORTOBOT_EVENTS_TOKEN_X"] not in proc.stderr


_HEC_OUT = {"name": "h", "type": "splunk-hec", "url": "https://h.example:8088"}
_ES_OUT = {"name": "e", "type": "elastic", "url": "https://e.example:9200"}


@pytest.mark.parametrize(
    "connector,words",
    [
        ({**SYSLOG, "name": "-x"}, "a connector name is 1-63 letters"),
        ({**SYSLOG, "name": "a b"}, "a connector name is 1-63 letters"),
        ({**SYSLOG, "name": 7}, "a connector name is 1-63 letters"),
        ({**SYSLOG, "type": "kafka"}, "type must be one of"),
        ({k: v for k, v in SYSLOG.items() if k != "url"}, "url is required"),
        ({**SYSLOG, "url": ""}, "url must be text"),
        ({**SYSLOG, "url": "tcp://h:99999"}, "url is not a valid URL"),
        ({**SYSLOG, "url": "tcp://:514"}, "url has no host"),
        ({**SYSLOG, "url": "tcp://h:514?x=1"}, "url takes no query or fragment"),
        ({**SYSLOG, "url": "tcp://h:514/path"}, "a syslog url has no path"),
        ({**SYSLOG, "pen": 0}, "pen must be a whole number"),
        ({**SYSLOG, "pen": True}, "pen must be a whole number"),
        ({**SYSLOG, "facility": "nope"}, "facility must be a whole number"),
        ({**SYSLOG, "facility": 24}, "facility must be a whole number"),
        ({**SYSLOG, "url": "udp://h:514", "max-message": 4096}, "max-message must be"),
        ({**SYSLOG, "ca-file": "ca.pem"}, "need a tls:// url"),
        ({**SYSLOG, "timeout": 0}, "timeout must be a number"),
        ({**SYSLOG, "timeout": "5"}, "timeout must be a number"),
        ({**SYSLOG, "batch": 0}, "batch must be a whole number"),
        ({**_HEC_OUT, "url": "http://h:8088"}, "url must start with https://"),
        ({**_HEC_OUT, "index": "a b"}, "index is letters, digits"),
        ({**_HEC_OUT, "ack": "yes"}, "ack must be true or false"),
        ({**_HEC_OUT, "sourcetype": ""}, "sourcetype must be text"),
        ({**_ES_OUT, "index": "Upper"}, "not a valid Elasticsearch index name"),
        ({**_ES_OUT, "index": "_x"}, "not a valid Elasticsearch index name"),
        ({**_ES_OUT, "cert-file": "c.pem"}, "cert-file and key-file go together"),
        ({**SYSLOG, "default": "no"}, "default must be true or false"),
        ({**SYSLOG, "api_key": "x"}, "secrets are never read from a configuration file"),
        ({**SYSLOG, "password": "x"}, "secrets are never read from a configuration file"),
        ("not a table", "each connector is a table"),
    ],
)
def test_an_outside_connector_that_breaks_a_rule_is_one_line(
    tmp_path: Path, connector: object, words: str
) -> None:
    resolved = resolve(cfg(tmp_path, outside={"connector": [connector]}))
    [problem] = resolved.problems
    assert words in problem and "\n" not in problem
    assert resolved.connectors == ()


def test_outside_values_are_normalised(tmp_path: Path) -> None:
    resolved = resolve(
        cfg(
            tmp_path,
            outside={
                "connector": [
                    {**SYSLOG, "url": "udp://h:514", "facility": 23, "max-message": 1024},
                    {**_HEC_OUT, "index": "sec", "source": "s", "sourcetype": "t", "timeout": 2},
                    {**_ES_OUT, "ca-file": "~/ca.pem", "batch": 500},
                    {"name": "f", "type": "jsonl", "url": "out/x.jsonl"},
                ]
            },
        )
    )
    assert resolved.problems == ()
    udp, hec, es, jsonl = resolved.connectors
    assert (udp.facility, udp.max_message) == (23, 1024)
    assert (hec.index, hec.source, hec.sourcetype, hec.timeout) == ("sec", "s", "t", 2.0)
    assert es.ca_file == os.path.expanduser("~/ca.pem") and es.batch == 500
    assert es.index == "importobot-events"
    assert jsonl.url == str(tmp_path.parent / "out" / "x.jsonl") and jsonl.root is None
    for spec in resolved.connectors:
        assert ConnectorSpec.from_json(spec.to_json()) == spec and len(spec.cid()) == 24
        assert spec.describe() == f"{spec.name} ({spec.type} {spec.url})"


@pytest.mark.parametrize(
    "outside,repo,words",
    [
        ("not a table", None, "[events] must be a table"),
        ({"connector": "x"}, None, "connector must be an array of tables"),
        ({"spool-max-size": "huge"}, None, "spool-max-size"),
        ({"spool-max-size": "1k"}, None, "spool-max-size is at least 16k"),
        ({"colour": 1}, None, "unknown key 'colour'"),
        (None, "not a table", "events must be a table"),
        (None, {"use": "corp"}, "use must be a list of connector names"),
    ],
)
def test_table_problems_are_one_line(
    tmp_path: Path, outside: object, repo: object, words: str
) -> None:
    resolved = resolve(cfg(tmp_path, repo, outside))
    assert any(words in p for p in resolved.problems), resolved.problems


def test_a_single_connector_table_counts_and_token_names_must_differ(tmp_path: Path) -> None:
    outside = {"connector": [{**_HEC_OUT, "name": "a-b"}, {**_ES_OUT, "name": "a.b"}]}
    resolved = resolve(cfg(tmp_path, outside=outside))
    assert [c.name for c in resolved.connectors] == ["a-b"]
    assert "IMPORTOBOT_EVENTS_TOKEN_A_B is another's too" in resolved.problems[0]
    single = resolve(cfg(tmp_path, {"connector": SYSLOG}))
    assert [c.name for c in single.connectors] == ["local-syslog"]


def test_a_stored_spec_with_unknown_fields_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown fields"):
        ConnectorSpec.from_json({"name": "x", "type": "syslog", "url": "tcp://h", "evil": 1})
