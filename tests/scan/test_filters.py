"""Each D9 filter as a table of ``(value, should_flag)`` rows, run through the recognizer.

``should_flag`` is whether the recognizer reports the value under a key-named
variable (``SECRET_KEY``) in an env file. Keys are generated at run time.
"""

from __future__ import annotations

import base64
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importobot.scan import filters
from importobot.scan.recognizer import recognize

from .conftest import fernet_key, hex_key, std_key

K = fernet_key()
S = std_key()
H = hex_key()
RAW = secrets.token_bytes(32)

ROWS: list[tuple[str, str, bool]] = [
    # (filter, value, should_flag)
    ("key", K, True),
    ("key", S, True),
    ("key", S.rstrip("="), True),
    ("key", K.rstrip("="), True),
    ("key", H, True),
    ("key", "base64:" + S, True),
    ("key", hex_key(16), True),
    ("key", hex_key(64), True),
    ("empty", "", False),
    ("empty", "   ", False),
    ("empty", "null", False),
    ("placeholder", "changeme", False),
    ("placeholder", "your-32-byte-key-goes-here-please", False),
    ("placeholder", "x" * 44, False),
    ("placeholder", "0" * 64, False),
    ("placeholder", "ab" * 32, False),
    ("placeholder", "0123456789abcdef" * 4, False),
    ("placeholder", "abcdefghijklmnopqrstuvwxyz1234567890", False),
    ("placeholder", "A" * 43 + "=", False),
    ("placeholder", base64.b64encode(b"this is not a key, just text!!!!").decode(), False),
    ("placeholder", "MasterkeyNeedsToHave32Characters", False),
    ("placeholder", "EncryptionKeyForEncryptedApiKeysToService", False),
    ("reference", "${FERNET_KEY}", False),
    ("reference", "${FERNET_KEY:-" + K + "}", False),
    ("reference", "${SECRET_KEY?Variable not set}", False),
    ("reference", "$(openssl rand -base64 32)", False),
    ("reference", "${{ secrets.FERNET_KEY }}", False),
    ("reference", "op://vault/item/field-with-a-long-name", False),
    ("reference", "vault:secret/data/app#fernet_key_value", False),
    ("reference", "Fernet.generate_key().decode()", False),
    ("reference", "`openssl rand -hex 32`", False),
    ("reference", "base64.urlsafe_b64encode(new_raw()).decode()", False),
    ("reference", '{base64.b64encode(raw).decode()}\\n"', False),
    ("reference", "make_key(b'seed-material-for-tests').hex()", False),
    ("reference", "base64.urlsafe_b64encode(raw)).encrypt_credential('x')", False),
    ("key", "(" + K, True),
    ("key", K + ")", True),
    ("ciphertext", "ENC[AES256_GCM,data:" + S + ",iv:" + S + ",type:str]", False),
    ("ciphertext", "encrypted:" + base64.b64encode(secrets.token_bytes(80)).decode(), False),
    ("ciphertext", "ENCRYPTED|" + base64.b64encode(secrets.token_bytes(64)).decode(), False),
    ("ciphertext", "-----BEGIN AGE ENCRYPTED FILE-----", False),
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + K.rstrip("="), False),
    ("password-hash", "$argon2id$v=19$m=65540,t=3,p=4$" + K.rstrip("="), False),
    ("password-hash", "$2b$12$" + "a" * 53, False),
    ("prefixed-digest", "sha256:" + H, False),
    ("prefixed-digest", "sha512-" + base64.b64encode(secrets.token_bytes(64)).decode(), False),
    ("prefixed-digest", "h1:" + S, False),
    ("public-key", "ssh-ed25519 " + S.rstrip("=") + " user@host", False),
    ("public-key", "age1" + "q" * 58, False),
    ("data-uri", "data:image/png;base64," + S, False),
    ("uuid", "7a88fb47-b4e2-43b8-a06c-a5ce950dc53a", False),
    ("importobot-fingerprint", "iobfp1:0123456789abcdef", False),
    ("path-or-url", "%kernel.project_dir%/config/jwt/private.pem", False),
    ("path-or-url", "/run/secrets/app_fernet_key.txt", False),
    ("path-or-url", "arn:aws:kms:us-east-1:123456789012:key/" + "a" * 36, False),
]


def _fernet_token() -> str:
    import time

    body = b"\x80" + int(time.time()).to_bytes(8, "big") + secrets.token_bytes(16 + 32 + 32)
    return base64.urlsafe_b64encode(body).decode()


ROWS.append(("ciphertext", _fernet_token(), False))


@pytest.mark.parametrize(("kind", "value", "should_flag"), ROWS, ids=[r[0] for r in ROWS])
def test_filter_rows(kind: str, value: str, should_flag: bool) -> None:
    found = recognize("SECRET_KEY", value, env_style=True)
    assert (found is not None) is should_flag, kind


CONTEXT_ROWS: list[tuple[str, str, str, bool]] = [
    # (name, value, env_style, should_flag): class (b) filters bind only outside key names
    ("GIT_SHA", hex_key(20), True, False),
    ("IMAGE_DIGEST", H, True, False),
    ("BUILD_ID", hex_key(16), True, False),
    ("UNRELATED", H, True, False),  # bare hex digest length, not key-named
    ("UNRELATED", S, True, True),  # 32 bytes in an env file: reported whatever the name
    ("UNRELATED", S, False, False),  # ...but not outside env context
    ("CONTENT_HASH", S, True, False),  # unless the name says hash or ID
    ("DOTENV_PUBLIC_KEY", H, True, False),
    ("AWS_ACCESS_KEY_ID", hex_key(16), True, False),
    ("ciphertext", H, False, False),  # what encryption made: data, not a key
    ("cipher_text", K, False, False),
    ("encryptedValue", K, False, False),
    ("ENCRYPTED_SECRET", K, False, True),  # another word still names a key
    ("decrypted_key", K, False, True),
    ("CIPHER_KEY", K, False, True),
    ("localKeyIdHex", hex_key(20), False, False),  # an identifier spelled out in hex
    ("SIGNING_KEY_ID_B64", K, True, False),
    ("SIGNING_KEY_HEX", hex_key(32), True, True),  # a key spelled out in hex still counts
    ("ANON_KEY", K, True, False),
    ("NEXT_PUBLIC_SECRET", K, True, False),
    ("JWT_SECRET_KEY_PATH", K, True, False),
    ("GPG_KEY", hex_key(20).upper(), True, False),
    ("KEY_FINGERPRINT", H, True, False),
    ("ADMIN_TOKEN", base64.b64encode(secrets.token_bytes(48)).decode(), True, False),
    ("DB_PASSWORD", K, False, False),
    ("SECRET_KEY", hex_key(20), True, True),  # a 40-hex value under a key name counts
    ("encodingAesKey", S.rstrip("="), False, True),
    ("app.secret_key", K, False, True),
    (
        "OPENAI_API_KEY",
        "sk-proj-" + base64.urlsafe_b64encode(secrets.token_bytes(36)).decode(),
        True,
        False,
    ),
    ("AWS_SECRET_ACCESS_KEY", base64.b64encode(secrets.token_bytes(30)).decode(), True, False),
    ("GITHUB_CLIENT_SECRET", hex_key(20), True, False),
    ("S3_ACCESS_KEY_SECRET", H, True, True),  # an exact key size still counts
    ("VAULT_TOKEN", K, False, False),
    ("DOTENV_KEY", "dotenv://:key_" + H + "@dotenvx.com/vault/.env.vault", True, True),
]


@pytest.mark.parametrize(("name", "value", "env_style", "should_flag"), CONTEXT_ROWS)
def test_context_rows(name: str, value: str, env_style: bool, should_flag: bool) -> None:
    assert (recognize(name, value, env_style=env_style) is not None) is should_flag


def test_published_keys_are_reported_with_a_note() -> None:
    # The fingerprint list holds a published demo key; its bytes are not in this repo,
    # so test the mechanism on a fake entry.
    raw = secrets.token_bytes(32)
    from importobot.keys import material
    from importobot.keys.fingerprint import fingerprint

    old = material.PUBLISHED_KEY_FINGERPRINTS
    material.PUBLISHED_KEY_FINGERPRINTS = old | {fingerprint(raw)}
    try:
        found = recognize("FERNET_KEY", base64.urlsafe_b64encode(raw).decode())
    finally:
        material.PUBLISHED_KEY_FINGERPRINTS = old
    assert found is not None
    assert found.note == "published example key"


def test_every_filter_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "filters.md").read_text()
    for name, _ in (*filters.CONTENT_FILTERS, *filters.CONTEXT_FILTERS):
        assert f"`{name}`" in doc, name


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            "KEY ID IDS KEYID UUID PUBLIC PUB PUBKEY PUBLISHABLE SITE SITEKEY ANON SUPABASE"
            " PATH FILE NAME URL ARN SECRET SECRETS BACKEND FINGERPRINT THUMBPRINT FP NEXT"
            " VITE REACT APP GATSBY EXPO NUXT HEX B64 FERNET AES ACCESS CLIENT PROJECT MOUNT"
            " ROTATION VAULT X".split()
        ),
        min_size=1,
        max_size=5,
    )
)
def test_identifier_pretest_never_changes_the_answer(tokens: list[str]) -> None:
    # The cheap test before the identifier pattern is a necessary condition only.
    from importobot.scan.filters import _IDENTIFIER_RE, is_identifier_name, normalize_name

    name = "_".join(tokens)
    assert is_identifier_name(name) == (_IDENTIFIER_RE.search(normalize_name(name)) is not None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("${KEY:-" + "a1" * 10 + "}", ("KEY", "a1" * 10, 7)),
        ("${KEY:=" + "a1" * 10 + "}", ("KEY", "a1" * 10, 7)),
        ("${KEY-" + "a-1" * 8 + "}", ("KEY", "a-1" * 8, 6)),
        ("${KEY=" + "a1" * 10 + "}", ("KEY", "a1" * 10, 6)),
        ("${my-app.jwt-secret:" + "a-1" * 8 + "}", ("my-app.jwt-secret", "a-1" * 8, 20)),
        ("${KEY:" + "a:1" * 8 + "}", ("KEY", "a:1" * 8, 6)),
        ("${KEY:?" + "a1" * 10 + "}", None),  # an error message, not a default
        ("${KEY:+" + "a1" * 10 + "}", None),  # an alternative, not a default
        ("${KEY:-short}", None),
        ("${KEY}", None),
        ("x${KEY:-" + "a1" * 10 + "}", None),  # not one reference
        ("${A:-" + "a1" * 10 + "}${B}", None),
        ("${KEY:-${OTHER:-" + "a1" * 10 + "}}", None),
    ],
)
def test_reference_default(value: str, expected: tuple[str, str, int] | None) -> None:
    from importobot.scan.filters import reference_default

    assert reference_default(value) == expected
    if expected is not None:
        assert value[expected[2] :].startswith(expected[1])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("HMAC_KEY", True),
        ("hmac_secret", True),
        ("HMAC", True),
        ("HMAC_SHA256", True),
        ("SIGNING_KEY", True),
        ("signatureKey", True),
        ("SECRET_HASH", False),  # a digest of a secret (Cognito's SECRET_HASH)
        ("SIGNING_KEY_DIGEST", False),
        ("apiSecretSignature", False),
        ("HASH_SECRET", True),
        ("HASH_KEY", True),
        ("hmac_sig", False),
        ("expected_signature_hmac_sha512", False),
        ("signing_input", False),
        ("HMAC_DIGEST", False),
        ("cipher_tag", False),
        ("ENCRYPTION_RESULT", False),
        ("ciphers", False),
        ("cipherSuites", False),
        ("SSL_CIPHER_LIST", False),
        ("CIPHER_KEY", True),
    ],
)
def test_what_an_algorithm_made_is_not_a_key_name(name: str, expected: bool) -> None:
    assert filters.is_key_name(name) is expected


@pytest.mark.parametrize(
    "name", ["key_identifier", "authorityKeyIdentifier", "SUBJECT_KEY_IDENTIFIER", "keyIdentifiers"]
)
def test_key_identifiers_are_identifiers(name: str) -> None:
    assert filters.is_identifier_name(name)
