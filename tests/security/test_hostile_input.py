"""Hostile key sources (issue 17 items 3 and 5): bad bytes and odd files are one clear line.

A non-UTF-8 byte in ``IMPORTOBOT_ENCRYPTION_KEY`` or in a ``legacy:`` previous key, and an
``IMPORTOBOT_PREVIOUS_KEYS_FILE`` that is a FIFO, a directory, a device, binary or unsafe:
each is one ``SecurityError`` naming the variable, never a hang or a traceback, and no
error (nor its ``args``, ``__cause__``, ``__context__`` or attributes) carries the value.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from importobot.exceptions import InvalidKeyError, SecurityError
from importobot.keys.fingerprint import fingerprint
from importobot.security import CredentialManager
from importobot.security.key_sources import resolve_previous_keys, resolve_primary_key
from importobot.security.key_validation import derive_legacy_key, parse_key
from tests.keygen import contains_key, new_raw

ROOT = Path(__file__).resolve().parents[2]


def _key_text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def _with_bad_bytes(raw: bytes) -> str:
    """A key's text with two non-UTF-8 bytes, as ``os.environ`` hands it over (PEP 383)."""
    text = _key_text(raw)
    return text[:20] + b"\xff\xfe".decode("utf-8", "surrogateescape") + text[20:]


def _carried(exc: BaseException) -> list[str]:
    """Everything an error carries, down its ``__cause__``/``__context__`` chain, as text."""
    seen: list[str] = []
    todo: list[BaseException | None] = [exc]
    visited: set[int] = set()
    while todo:
        item = todo.pop()
        if item is None or id(item) in visited:
            continue
        visited.add(id(item))
        seen.append(type(item).__name__)
        seen.append(str(item))
        seen.extend(repr(arg) for arg in item.args)
        for name in dir(item):
            if name.startswith("__") or name == "with_traceback":
                continue
            value = getattr(item, name, None)
            if isinstance(value, (str, bytes, bytearray, memoryview)):
                seen.append(repr(bytes(value)) if not isinstance(value, str) else value)
        todo.extend([item.__cause__, item.__context__])
    return seen


def _assert_clean(exc: BaseException, raw: bytes, bad: str) -> None:
    for text in _carried(exc):
        assert not contains_key(text, raw), text
        assert bad not in text and bad[:20] not in text, text
        assert "UnicodeEncodeError" not in text and "UnicodeDecodeError" not in text, text
    assert exc.__cause__ is None and exc.__context__ is None


# -- non-UTF-8 bytes in a key (issue 17 item 5) -----------------------------------------
def test_env_key_with_bad_bytes_is_one_clear_error(monkeypatch):
    raw = new_raw()
    bad = _with_bad_bytes(raw)
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", bad)
    for call in (resolve_primary_key, CredentialManager):
        with pytest.raises(InvalidKeyError) as info:
            call()
        message = str(info.value)
        assert "IMPORTOBOT_ENCRYPTION_KEY" in message and "not UTF-8" in message
        assert len(message.splitlines()) == 1
        _assert_clean(info.value, raw, bad)
    with pytest.raises(SecurityError, match="Strong encryption unavailable"):
        CredentialManager()


def test_explicit_and_legacy_text_with_bad_bytes(monkeypatch):
    raw = new_raw()
    bad = _with_bad_bytes(raw)
    for call in (
        lambda: parse_key(bad, "the key= argument"),
        lambda: derive_legacy_key(bad),
        lambda: CredentialManager(key=bad),
        lambda: CredentialManager(key=new_raw(), previous_keys=["legacy:" + bad]),
        lambda: CredentialManager(key=new_raw(), previous_keys=[bad]),
    ):
        with pytest.raises(InvalidKeyError) as info:
            call()
        assert "not UTF-8" in str(info.value)
        _assert_clean(info.value, raw, bad)


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy", "plain"])
def test_previous_key_with_bad_bytes_names_the_variable(monkeypatch, legacy):
    raw = new_raw()
    bad = _with_bad_bytes(raw)
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS", ("legacy:" if legacy else "") + bad)
    with pytest.raises(InvalidKeyError) as info:
        resolve_previous_keys()
    message = str(info.value)
    assert "IMPORTOBOT_PREVIOUS_KEYS" in message and "not UTF-8" in message
    _assert_clean(info.value, raw, bad)


def _run(argv: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}


_BIN = Path(sys.executable).parent
# argv, exit code for a bad key: 1 a finding, 2 an error (encrypt needs a working key).
# The key-age hook judges only the primary key (previous keys are not its business).
_KEY_COMMANDS = {
    "key status": ([str(_BIN / "importobot"), "key", "status"], 1),
    "encrypt": ([str(_BIN / "importobot"), "encrypt"], 2),
    "hook check-key": ([str(_BIN / "importobot-check-key")], 1),
    "hook key-age": ([str(_BIN / "importobot-key-age")], 1),
}


@pytest.mark.parametrize("command", sorted(_KEY_COMMANDS))
@pytest.mark.parametrize("variable", ["IMPORTOBOT_ENCRYPTION_KEY", "IMPORTOBOT_PREVIOUS_KEYS"])
def test_key_commands_with_bad_bytes_never_trace_back(command, variable):
    argv, code = _KEY_COMMANDS[command]
    raw = new_raw()
    bad = _with_bad_bytes(raw)
    env = _base_env()
    if variable == "IMPORTOBOT_PREVIOUS_KEYS":
        env["IMPORTOBOT_ENCRYPTION_KEY"] = _key_text(new_raw())
        env[variable] = "legacy:" + bad  # subprocess writes it as the original bytes
    else:
        env[variable] = bad
    proc = _run(argv, env, stdin="x\n")
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "UnicodeEncodeError" not in out, out
    assert not contains_key(out, raw)
    if variable == "IMPORTOBOT_PREVIOUS_KEYS" and command == "hook key-age":
        assert proc.returncode == 0 and "not UTF-8" not in out, out
        return
    assert proc.returncode == code, out
    lines = [line for line in out.splitlines() if "not UTF-8" in line]
    assert len(lines) == 1 and variable in lines[0], out


# -- IMPORTOBOT_PREVIOUS_KEYS_FILE (issue 17 item 3) ------------------------------------
def _keys_file(path: Path, *raws: bytes, mode: int = 0o600) -> Path:
    path.write_text("# previous keys\n" + "".join(_key_text(r) + "\n" for r in raws))
    path.chmod(mode)
    return path


def _returns_within(seconds: float, fn, *args):
    """``fn(*args)``'s result or exception; fails the test if it blocks."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"{getattr(fn, '__name__', fn)} blocked")
    return box[0]


def _refused(monkeypatch, path: str | Path) -> SecurityError:
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS_FILE", str(path))
    result = _returns_within(10, resolve_previous_keys)
    assert isinstance(result, SecurityError), result
    message = str(result)
    assert message.startswith("IMPORTOBOT_PREVIOUS_KEYS_FILE: ")
    assert len(message.splitlines()) == 1
    return result


def test_a_fifo_is_refused_without_blocking(monkeypatch, tmp_path):
    fifo = tmp_path / "previous"
    os.mkfifo(fifo, 0o600)
    assert "not a regular file" in str(_refused(monkeypatch, fifo))


def test_a_directory_is_refused(monkeypatch, tmp_path):
    folder = tmp_path / "previous"
    folder.mkdir(mode=0o700)
    assert "directory" in str(_refused(monkeypatch, folder))


def test_a_link_to_dev_zero_is_refused(monkeypatch, tmp_path):
    link = tmp_path / "previous"
    link.symlink_to("/dev/zero")
    assert "not a regular file" in str(_refused(monkeypatch, link))


def test_binary_content_is_one_line(monkeypatch, tmp_path):
    raw = new_raw()
    blob = tmp_path / "previous"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n" + raw + b"\xff\xfe\x00" * 50)
    blob.chmod(0o600)
    error = _refused(monkeypatch, blob)
    assert "not UTF-8 text" in str(error)
    _assert_clean(error, raw, "\ufffd")


def test_a_missing_file_is_refused(monkeypatch, tmp_path):
    assert "no such file" in str(_refused(monkeypatch, tmp_path / "absent"))


def test_an_oversized_file_is_refused_after_a_bounded_read(monkeypatch, tmp_path):
    big = tmp_path / "previous"
    with big.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: costs nothing unless read whole
    big.chmod(0o600)
    assert "size limit" in str(_refused(monkeypatch, big))


@pytest.mark.parametrize(("mode", "needle"), [(0o620, "writable"), (0o602, "writable")])
def test_a_group_or_world_writable_file_is_refused(monkeypatch, tmp_path, mode, needle):
    path = _keys_file(tmp_path / "previous", new_raw(), mode=mode)
    assert needle in str(_refused(monkeypatch, path))


def test_a_group_readable_file_is_refused(monkeypatch, tmp_path):
    path = _keys_file(tmp_path / "previous", new_raw(), mode=0o640)
    assert "chmod 600" in str(_refused(monkeypatch, path))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
def test_a_file_of_another_user_is_refused(monkeypatch, tmp_path):
    path = _keys_file(tmp_path / "previous", new_raw())
    os.chown(path, 65534, 65534)
    assert "another user" in str(_refused(monkeypatch, path))


def test_a_kubernetes_secret_mount_works(monkeypatch, tmp_path):
    # kubelet's layout: previous -> ..data/previous, ..data -> ..2026_01_01_00_00_00.1
    raws = [new_raw(), new_raw()]
    mount = tmp_path / "secret"
    version = mount / "..2026_01_01_00_00_00.123456789"
    version.mkdir(parents=True)
    _keys_file(version / "previous", *raws, mode=0o400)
    (mount / "..data").symlink_to(version.name)
    (mount / "previous").symlink_to("..data/previous")
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS_FILE", str(mount / "previous"))
    found = resolve_previous_keys()
    assert [fingerprint(k.raw) for k in found] == [fingerprint(r) for r in raws]
    assert found[0].source.label == f"file:{mount / 'previous'}"


def test_a_path_with_a_newline_cannot_forge_a_line(monkeypatch, tmp_path):
    path = tmp_path / "previous\nimportobot: all keys fine"
    os.mkfifo(path, 0o600)
    message = str(_refused(monkeypatch, path))
    assert "\n" not in message and "\\n" in message


def test_the_hook_does_not_hang_on_a_fifo(tmp_path):
    fifo = tmp_path / "previous"
    os.mkfifo(fifo, 0o600)
    env = _base_env()
    env.update(
        IMPORTOBOT_ENCRYPTION_KEY=_key_text(new_raw()),
        IMPORTOBOT_PREVIOUS_KEYS_FILE=str(fifo),
    )
    proc = _run([str(_BIN / "importobot-check-key")], env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "IMPORTOBOT_PREVIOUS_KEYS_FILE" in lines[0], proc.stderr
