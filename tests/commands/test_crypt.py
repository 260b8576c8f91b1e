"""importobot encrypt / decrypt (importobot.commands.crypt) and stdin handling."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys

import pytest

from importobot.commands import MAX_STDIN_BYTES, InputError, crypt, decode_stdin, read_secret
from importobot.exceptions import DecryptionError, MissingKeyError
from importobot.security import CredentialManager
from tests.keygen import contains_key, new_raw


def _env(raw: bytes) -> dict[str, str]:
    return {"IMPORTOBOT_ENCRYPTION_KEY": base64.urlsafe_b64encode(raw).decode()}


def _run(*args: str, env: dict[str, str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "importobot.cli", *args],
        input=stdin,
        capture_output=True,
        env=full_env,
        timeout=60,
    )


def test_decode_stdin():
    assert decode_stdin(b"abc\n") == "abc"
    assert decode_stdin(b"abc\r\n") == "abc"
    assert decode_stdin(b"a\n\n") == "a\n"
    assert decode_stdin("é".encode()) == "é"
    with pytest.raises(InputError, match="offset 3"):
        decode_stdin(b"abc\xff")
    with pytest.raises(InputError, match="KiB"):
        decode_stdin(b"x" * (MAX_STDIN_BYTES + 1))


def test_read_secret_from_a_binary_stream():
    assert read_secret("?", io.BytesIO(b"value\n")) == "value"
    with pytest.raises(InputError):
        read_secret("?", io.BytesIO(b"\x80"))


def test_encrypt_and_decrypt_functions():
    raw = new_raw()
    token = crypt.encrypt("s3cret", env=_env(raw)).stdout.strip()
    assert token.startswith("gAAAA") and not contains_key(token, raw)
    assert crypt.decrypt(token + "\n", env=_env(raw)).stdout == "s3cret\n"
    assert CredentialManager(key=raw).decrypt_credential(token) == "s3cret"
    with pytest.raises(InputError, match="nothing to encrypt"):
        crypt.encrypt("", env=_env(raw))
    with pytest.raises(InputError, match="nothing to decrypt"):
        crypt.decrypt("  \n", env=_env(raw))
    with pytest.raises(DecryptionError):
        crypt.decrypt(token, env=_env(new_raw()))
    with pytest.raises(MissingKeyError):
        crypt.encrypt("x", env={})


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_non_utf8_stdin_is_one_line_exit_2(locale, command):
    raw = new_raw()
    env = {**_env(raw), "LC_ALL": locale, "PYTHONIOENCODING": ""}
    proc = _run(command, env=env, stdin=b"caf\xe9 latin-1\n")
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert proc.stdout == b""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("importobot: error: stdin is not UTF-8 text")
    assert "caf" not in err  # the input is never echoed


def test_oversized_stdin_is_refused():
    proc = _run("encrypt", env=_env(new_raw()), stdin=b"x" * (MAX_STDIN_BYTES + 10))
    assert proc.returncode == 2 and b"KiB" in proc.stderr and proc.stdout == b""
