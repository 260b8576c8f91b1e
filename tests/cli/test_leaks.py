"""No command ever shows the key: stdout, stderr, logs, exceptions, pickles, subprocess argv.

The command tree is walked, so commands added later (check, hook, rotate, …) are covered
without editing this test. Each leaf command is driven with the key in the environment,
on stdin and in a scanned file, with every value of every choice option (so every
output format), with a valid key and with invalid spellings of it.
"""

from __future__ import annotations

import base64
import logging
import pickle
import subprocess
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from importobot.cli import cli
from importobot.security import CredentialManager
from tests.keygen import contains_key, new_raw


def _leaves(
    group: click.Group, ctx: click.Context, path: list[str]
) -> Iterator[tuple[list[str], click.Command]]:
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None:
            continue
        if isinstance(cmd, click.Group):
            sub_ctx = click.Context(cmd, info_name=name, parent=ctx)
            yield from _leaves(cmd, sub_ctx, [*path, name])
        else:
            yield [*path, name], cmd


def _commands() -> list[tuple[list[str], click.Command]]:
    ctx = click.Context(cli, info_name="importobot")
    return list(_leaves(cli, ctx, []))


def _invocations(cmd: click.Command, target: str) -> list[list[str]]:
    calls: list[list[str]] = [["--help"], []]
    takes_args = any(isinstance(p, click.Argument) for p in cmd.params)
    base = [target] if takes_args else []
    if takes_args:
        calls.append(base)
    for param in cmd.params:
        if isinstance(param, click.Option) and isinstance(param.type, click.Choice):
            for choice in param.type.choices:
                calls.append([*base, param.opts[0], str(choice)])
        elif isinstance(param, click.Option) and param.is_flag and not param.hidden:
            calls.append([*base, param.opts[0]])
    return calls


def _exception_texts(exc: BaseException | None) -> Iterator[str]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield str(exc)
        yield repr(exc)
        yield from (repr(a) for a in exc.args)
        exc = exc.__cause__ or exc.__context__


@pytest.fixture
def spawned(monkeypatch) -> list[str]:
    argvs: list[str] = []
    real_init = subprocess.Popen.__init__

    def recording_init(self, args, *a, **kw):  # type: ignore[no-untyped-def]
        argvs.append(repr(args))
        env = kw.get("env")
        argvs.append(repr(sorted(env.items())) if env is not None else "")
        real_init(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", recording_init)
    return argvs


def _key_envs(raw: bytes) -> list[dict[str, str]]:
    url = base64.urlsafe_b64encode(raw).decode()
    std = base64.b64encode(raw).decode()
    prev = base64.urlsafe_b64encode(new_raw()).decode()
    return [
        {"IMPORTOBOT_ENCRYPTION_KEY": url, "IMPORTOBOT_PREVIOUS_KEYS": prev},
        {"IMPORTOBOT_ENCRYPTION_KEY": std.rstrip("=")},
        {"IMPORTOBOT_ENCRYPTION_KEY": url + "x"},  # invalid: too long
        {"IMPORTOBOT_ENCRYPTION_KEY": raw.hex()},  # invalid: hex (legacy)
        {"IMPORTOBOT_ENCRYPTION_KEY": prev, "IMPORTOBOT_PREVIOUS_KEYS": url + ",junk"},
        {"IMPORTOBOT_ENCRYPTION_KEY": prev, "IMPORTOBOT_PREVIOUS_KEYS": "legacy:" + raw.hex()},
    ]


def test_the_command_tree_is_walked():
    names = {" ".join(path) for path, _ in _commands()}
    assert {"key generate", "key store", "key status", "encrypt", "decrypt"} <= names


@pytest.fixture
def no_real_keyring(monkeypatch):
    """Never let a leak test reach a real keyring (``key store`` defaults its service).

    keyring picks its backend once per process, so the environment variable alone would
    be ignored after another test used the Secret Service, and would leave the failing
    backend behind for later tests: set it, then restore the one that was there.
    """
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        yield
        return
    previous = keyring.get_keyring()  # before the variable below can choose it
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.mark.usefixtures("no_real_keyring")
def test_no_command_leaks_the_key(tmp_path, monkeypatch, caplog, spawned):
    raw = new_raw()
    url = base64.urlsafe_b64encode(raw).decode()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".env").write_text(f"APP_KEY={url}\nOTHER=1\n")
    (repo / "settings.py").write_text(f'SECRET_KEY = "{raw.hex()}"\n')
    monkeypatch.chdir(repo)
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    driven = 0
    for path, cmd in _commands():
        for env in _key_envs(raw):
            for args in _invocations(cmd, str(repo)):
                for stdin in (url + "\n", raw.hex() + "\n", ""):
                    result = runner.invoke(cli, [*path, *args], input=stdin, env=env)
                    driven += 1
                    where = f"importobot {' '.join(path + args)} with {sorted(env)}"
                    out = result.output + (result.stderr if result.stderr_bytes else "")
                    assert not contains_key(out, raw), f"key printed by {where}"
                    for text in _exception_texts(result.exception):
                        assert not contains_key(text, raw), f"key in exception of {where}"
                    assert result.exit_code in (0, 1, 2), (where, result.exit_code, out)
    for record in caplog.records:
        assert not contains_key(record.getMessage(), raw)
        assert not contains_key(repr(record.args), raw)
    for argv in spawned:
        assert not contains_key(argv, raw), "key on a subprocess argv or environment"
    assert driven > 100


def test_pickle_attempts_carry_no_key():
    raw = new_raw()
    cm = CredentialManager(key=raw)
    with pytest.raises(TypeError) as info:
        pickle.dumps(cm)
    assert not contains_key(str(info.value), raw)
    blob = pickle.dumps(cm.encrypt_credential("x"))
    assert not contains_key(blob, raw)


def test_error_paths_of_the_library_carry_no_key():
    raw = new_raw()
    url = base64.urlsafe_b64encode(raw).decode()
    bad_values = [url + "x", url[:-3] + "!!=", raw.hex(), "legacy:" + url, url.replace("=", "") * 2]
    for value in bad_values:
        with pytest.raises(Exception) as info:  # noqa: B017 - any error, none may leak
            CredentialManager(key=value)
        for text in _exception_texts(info.value):
            assert not contains_key(text, raw)
    for value in [v for v in bad_values if not v.startswith("legacy:")]:
        with pytest.raises(Exception) as info:  # noqa: B017
            CredentialManager(key=new_raw(), previous_keys=[value])
        for text in _exception_texts(info.value):
            assert not contains_key(text, raw)
