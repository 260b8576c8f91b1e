"""No value in the name position (issue 17, item 4): a name that is key material itself
(``k<64 hex>=<key>``: the first value glued to a letter) is shown as
``<key-shaped name iobfp1:…>`` in every format and in the hook, never verbatim."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from importobot.hooks import block_keys
from importobot.keys.age import AgePolicy
from importobot.keys.fingerprint import fingerprint
from importobot.report import FORMATS, render
from importobot.scan.filters import is_hash_or_id_name, is_identifier_name
from importobot.scan.finding import ScanResult
from importobot.scan.recognizer import shown_name
from importobot.scan.rules.files import scan_file
from importobot.scan.rules.key_health import compromised_findings, stale_token_findings
from tests.keygen import contains_key, new_raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _b64_name(raw: bytes) -> str:
    return "x" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _name_raw() -> bytes:
    """Random name bytes whose base64 name is not on the identifier or hash lists by
    chance (a random ``…_FP_…`` token would make it no key context, and ``…sha…`` or
    ``…_rev…`` a hash's name, which a neutral name in an env file then is: about 1 in 300)."""
    raw = new_raw()
    while is_identifier_name(_b64_name(raw) + "_SECRET") or is_hash_or_id_name(_b64_name(raw)):
        raw = new_raw()
    return raw


def _cases(name_raw: bytes, key: str) -> dict[str, tuple[str, str]]:
    """(path, text) holding ``key`` under a name spelling ``name_raw``, per reader."""
    hex_name = "k" + name_raw.hex()
    b64_name = _b64_name(name_raw)
    return {
        "dotenv": (".env", f"{hex_name}={key}\n"),
        "dotenv-export": ("prod.env", f"export {b64_name}='{key}'\n"),
        "python": ("settings.py", f"{hex_name}_secret_key = '{key}'\n"),
        "yaml": ("app.yaml", f"secrets:\n  {hex_name}_key: {key}\n"),
        "yaml-key-as-name": ("app.yaml", f"keys:\n  {b64_name}_SECRET: {key}\n"),
        "compose": (
            "compose.yaml",
            f"services:\n  web:\n    environment:\n      - {hex_name}_KEY={key}\n",
        ),
        "dockerfile": ("Dockerfile", f"FROM x\nENV {hex_name} {key}\n"),
        "json": ("config.json", f'{{"{hex_name}_key": "{key}"}}\n'),
    }


@pytest.mark.parametrize("case", sorted(_cases(b"\1" * 32, "k")))
def test_a_key_shaped_name_is_never_shown(case: str) -> None:
    name_raw, key_raw = _name_raw(), new_raw()
    path, text = _cases(name_raw, _b64(key_raw))[case]
    found = scan_file(path, text.encode())
    assert [f.fingerprint for f in found] == [fingerprint(key_raw)], case
    finding = found[0]
    assert finding.variable is not None
    assert finding.variable.startswith("<key-shaped name iobfp1:")
    assert "<key-shaped name iobfp1:" in finding.message
    result = ScanResult(findings=found, files_scanned=1)
    for fmt in FORMATS:
        out = render(fmt, result, show_suppressed=True)
        assert not contains_key(out, name_raw), (case, fmt)
        assert name_raw.hex() not in out and name_raw.hex().upper() not in out
        assert "<key-shaped name iobfp1:" in out, (case, fmt)


def test_the_name_fingerprint_is_the_key_it_spells() -> None:
    raw = new_raw()
    assert shown_name("k" + raw.hex()) == f"<key-shaped name {fingerprint(raw)}>"
    assert shown_name(raw.hex()) == f"<key-shaped name {fingerprint(raw)}>"
    key = _b64(raw)
    assert shown_name(f"{key[:20]} {key[20:]}") == f"<key-shaped name {fingerprint(raw)}>"


@pytest.mark.parametrize(
    "name",
    [
        "FERNET_KEY",
        "app.secretKeyBase",
        "AWS_SECRET_ACCESS_KEY_PRODUCTION",
        "encryptionKeyForTheUserDatabase1",
        "DJANGO_SECRET_KEY_2024_12_01_v2",
        "services.web.environment.APP_SECRET",
        "a name with spaces in a yaml key",
        "spring.datasource.hikari.connectionTimeout",
        "ENCRYPTION_KEY_V3_20240101_ROTATED",
        "S3_BUCKET_ENCRYPTION_KMS_KEY_ARN_PROD",
        "myApplicationDatabaseEncryptionKeyForProd01",
        "x9f3K_secret_key_for_the_service_abc",
        "",
        None,
    ],
)
def test_ordinary_names_are_shown_as_written(name: str | None) -> None:
    assert shown_name(name) == name


def test_the_hook_line_shows_no_key_shaped_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name_raw, key_raw = new_raw(), new_raw()
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"k{name_raw.hex()}={_b64(key_raw)}\n")
    code = block_keys.main([".env"])
    out, err = capsys.readouterr()
    assert code == 1
    assert f".env:1:67 IOB101 <key-shaped name {fingerprint(name_raw)}> " in out
    assert not contains_key(out + err, name_raw) and name_raw.hex() not in out + err
    assert not contains_key(out + err, key_raw)


def test_key_file_named_by_a_key(tmp_path: Path) -> None:
    name_raw, key_raw = new_raw(), new_raw()
    found = scan_file(f"keys/{name_raw.hex()}.key", (_b64(key_raw) + "\n").encode())
    assert [f.key_type for f in found] == ["key-file"]
    assert found[0].variable == f"<key-shaped name {fingerprint(name_raw)}>"


def test_stale_ciphertext_and_compromised_findings_show_no_key_shaped_name(
    tmp_path: Path,
) -> None:
    name_raw = new_raw()
    now = datetime(2026, 11, 25, tzinfo=timezone.utc)
    token = Fernet(Fernet.generate_key()).encrypt_at_time(b"v", int(now.timestamp()) - 10**7)
    path = tmp_path / "data.env"
    path.write_text(f"k{name_raw.hex()}={token.decode()}\n")
    found = stale_token_findings(
        [(path, "data.env")], AgePolicy(timedelta(days=90)), now, max_size=1 << 20
    )
    assert [f.variable for f in found] == [f"<key-shaped name {fingerprint(name_raw)}>"]
    # IOB204 copies the variable of the finding it is about.
    key_raw = new_raw()
    leaked = scan_file(".env", f"k{name_raw.hex()}={_b64(key_raw)}\n".encode())
    iob204 = compromised_findings(leaked, {fingerprint(key_raw): "the set-up key"})
    assert [f.variable for f in iob204] == [f"<key-shaped name {fingerprint(name_raw)}>"]
    text = json.dumps([f.to_dict() for f in [*found, *iob204]])
    assert not contains_key(text, name_raw) and name_raw.hex() not in text
