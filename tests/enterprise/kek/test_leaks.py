"""No output, exception, repr, log record or event of the KEK and HSM paths holds the data
key, the PIN, the Vault token or the AWS secret — on success and on every error path.

Each backend is driven in-process through the real CLI (``CliRunner``), with every logger
at DEBUG (botocore logs request bodies there) and a recording event sink installed
through a real entry point. The data key made by ``key wrap --generate`` is learnt
afterwards by unwrapping the committed file, then searched for in every spelling.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from importobot.cli import cli
from importobot.keys.wrapped import WrappedKey, parse_wrapped
from tests import eventsink
from tests.keygen import contains_key, new_raw

EVENTS_CONFIG = (
    "[tool.importobot]\n[[tool.importobot.events.connector]]\n"
    'name = "local"\ntype = "syslog"\nurl = "tcp://127.0.0.1:5514"\n'
)


@pytest.fixture(params=["pkcs11", "vault", "awskms"])
def setup(request: pytest.FixtureRequest) -> tuple[str, dict[str, str], list[str]]:
    """(KEK URI, environment, the secrets that must never show)."""
    if request.param == "pkcs11":
        hsm = request.getfixturevalue("softhsm")
        return hsm.uri(), hsm.env(IMPORTOBOT_HSM="pkcs11:token=importobot-hsm"), [hsm.pin]
    if request.param == "vault":
        bao = request.getfixturevalue("openbao")
        return bao.uri(), bao.env(), [bao.token]
    kms = request.getfixturevalue("moto_kms")
    return kms.uri(), kms.env(), [kms.secret]


def test_no_command_or_error_path_leaks(
    setup: tuple[str, dict[str, str], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    uri, env, secrets = setup
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(EVENTS_CONFIG)
    sink = eventsink.install(tmp_path)
    monkeypatch.syspath_prepend(sink["IMPORTOBOT_TEST_SINK_SITE"])
    sys.modules.pop(eventsink.SINK_MODULE, None)
    import importobot.events

    importobot.events._reset()
    for name in list(os.environ):
        if name.startswith(("AWS_", "VAULT_", "BAO_")):
            monkeypatch.delenv(name)
    for name, value in {**env, "IMPORTOBOT_KEK": uri, **sink}.items():
        if name != "PYTHONPATH":
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(repo)
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    seen: list[str] = []
    failures: list[BaseException] = []

    def run(*args: str, stdin: str = "", codes: tuple[int, ...] = (0,)) -> str:
        result = runner.invoke(cli, list(args), input=stdin, catch_exceptions=True)
        seen.append(result.output)
        seen.append(getattr(result, "stderr", "") or "")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            failures.append(result.exception)
        assert result.exit_code in codes, (args, result.output, result.exception)
        return result.output

    given = new_raw()
    from importobot.security.key_validation import encode_key

    run("kek", "create")
    run("kek", "status")
    run("kek", "status", "--format", "json")
    run("key", "wrap", "--generate", "--output", ".importobot-key.wrapped")
    run("key", "wrap", stdin=encode_key(given) + "\n")
    run("key", "wrap", "--output", ".importobot-key.wrapped", stdin=encode_key(given), codes=(2,))
    run("key", "status")
    run("key", "status", "--format", "json")
    token = run("encrypt", stdin="s3cret\n").strip().splitlines()[-1]
    run("decrypt", stdin=token)
    run("hook", "check-key")
    run("kek", "rotate")
    run("key", "rewrap")
    run("key", "rewrap", "-", stdin=Path(".importobot-key.wrapped").read_text())
    run("kek", "status", "--wrapped", ".importobot-key.wrapped")
    run("check", "--format", "json", codes=(0, 1))
    if uri.startswith("pkcs11:"):
        run("hsm", "mirror", "--alias", "leak-" + os.urandom(3).hex())
        run("hsm", "list")
        run("hsm", "store", "leak-" + os.urandom(3).hex(), stdin="value\n")

    text = Path(".importobot-key.wrapped").read_text()
    wk = parse_wrapped(text)
    assert wk is not None
    from importobot.security.key_sources import unwrap

    dek = unwrap(wk, os.environ, "test")

    # error paths: edited header, untrusted KEK, bad credentials, unreachable backend
    edited = WrappedKey(wk.uri, wk.version, "iobfp1:" + "0" * 16, wk.mechanism, wk.payload)
    Path(".importobot-key.wrapped").write_text(edited.text + "\n")
    run("key", "status", codes=(1,))
    run("encrypt", stdin="x\n", codes=(2,))
    run("key", "rewrap", codes=(2,))
    Path(".importobot-key.wrapped").write_text(text)
    monkeypatch.setenv("IMPORTOBOT_KEK", "pkcs11:token=elsewhere;object=k")
    run("decrypt", stdin=token, codes=(2,))
    monkeypatch.setenv("IMPORTOBOT_KEK", uri)
    if uri.startswith("pkcs11:"):
        monkeypatch.setenv("IMPORTOBOT_PKCS11_PIN", "wrong-" + secrets[0])
    elif uri.startswith("vault"):
        monkeypatch.setenv("VAULT_TOKEN", "bad-" + secrets[0])
    else:
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "bad-" + secrets[0])
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # unreachable
    run("decrypt", stdin=token, codes=(2,))
    run("key", "status", codes=(2,))
    run("hook", "check-key", "--optional", codes=(0, 2))
    run("kek", "rotate", codes=(2,))
    run("key", "wrap", "--generate", codes=(2,))
    if uri.startswith("pkcs11:"):
        run("hsm", "list", codes=(2,))

    blobs = [*seen, caplog.text, *(r.getMessage() for r in caplog.records)]
    for exc in failures:
        blobs += [str(exc), repr(exc), repr(exc.args)]
    for record in eventsink.recorded(sink):
        blobs.append(repr(record))
    assert eventsink.recorded(sink), "no event reached the sink"
    for blob in blobs:
        assert not contains_key(blob, dek), blob[:300]
        assert not contains_key(blob, given), blob[:300]
        for secret in secrets:
            assert secret not in blob, blob[:300]
    assert not [e for e in failures if not isinstance(e, Exception)]


def test_keys_and_backends_refuse_to_be_pickled(softhsm: Any) -> None:
    from importobot.security.key_sources import ResolvedKey
    from importobot_enterprise.hsm import HSMKeyStore

    with pytest.raises(TypeError):
        pickle.dumps(HSMKeyStore("pkcs11:token=importobot-hsm", env=softhsm.env()))
    from importobot.security.key_sources import KeySource

    resolved = ResolvedKey(new_raw(), KeySource("wrapped", "wrapped:pkcs11:env"))
    with pytest.raises(TypeError):
        pickle.dumps(resolved)
    assert "raw" not in repr(resolved)
