"""Issue 16, item 2: what is *not* key material, whatever the name says, and what still is.

Every row is judged under key names (``SECRET_KEY`` in source, ``ENCRYPTION_KEY`` in an env
file), where only the randomness judgement (D4) and the content filters (D9 a) can keep it
quiet. Random values are generated at test time from a fixed seed (never a key literal:
the repository's own hook blocks them), so the rates measured in ``docs/filters.md`` are
checked here without a flaky draw.
"""

from __future__ import annotations

import base64
import random
import string
from collections.abc import Callable

import pytest
from cryptography.fernet import Fernet

from importobot.keys.charmodel import is_regex, text_fraction, word_bits
from importobot.keys.material import (
    OPAQUE_TEXT,
    char_entropy,
    is_low_entropy_text,
    is_random_opaque,
    is_readable_placeholder,
)
from importobot.scan.filters import envelope_spans, in_envelope, is_ciphertext, is_member_call
from importobot.scan.recognizer import key_shape, recognize
from importobot.scan.rules.files import scan_text

from .worktime import assert_linear


def _crypt(rng: random.Random, head: str, salt: int, digest: int) -> str:
    alphabet = "./" + string.ascii_letters + string.digits
    draw = "".join(rng.choice(alphabet) for _ in range(salt + digest))
    return f"{head}{draw[:salt]}${draw[salt:]}"


_RNG = random.Random(1607)
_CRYPT_HASHES = [
    _crypt(_RNG, "$y$j9T$", 22, 43),
    _crypt(_RNG, "$6$rounds=5000$", 16, 86),
    _crypt(_RNG, "$apr1$", 8, 22),
    _crypt(_RNG, "$argon2id$v=19$m=65536,t=3,p=4$", 22, 43),
    "$P$B" + _crypt(_RNG, "", 8, 22).replace("$", ""),
]
_JWS_PARTS = [
    base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}')
    .decode()
    .rstrip("=")[:65],
    base64.urlsafe_b64encode(b'{"sub":"1234567890","name":"Alice","iat":1516239022}')
    .decode()
    .rstrip("="),
]

NOT_KEYS: list[tuple[str, str]] = [
    # Identifiers and expressions.
    ("member path", "model.schema.options.discriminatorKey"),
    ("member path", "this.options.discriminatorKey"),
    ("member path", "spring.datasource.hikari.maximumPoolSize"),
    ("member path", "config.services.encryption.defaultCipher"),
    ("statement", "const discriminatorKey = model.schema.options.discriminatorKey"),
    ("call", "getEncryptionKeyFromEnvironment(config.settings)"),
    ("call", "crypto.createCipheriv(algorithm, secretKey, iv)"),
    # Calls on member paths, as a reader's bare value ends them (at a space or a comma).
    ("call", "CryptoLib.enc.Utf8.parse(jsonObj.iv)"),
    ("call", "CryptoLib.Blowfish.decrypt(payload"),
    ("call", "pki.pbe.generatePkcs5Key(passwd,"),
    ("call", "opts.updateOnConflict.map((attr)"),
    ("call", "OrmUtils_2.OrmUtils.uniqBy(dbFks,"),
    ("::class", "App\\Models\\User::class"),
    ("::class", "Illuminate\\Encryption\\EncryptionServiceProvider::class"),
    ("camelCase", "getEncryptionKeyFromEnvironment"),
    ("camelCase", "EncryptionKeyForEncryptedApiKeysToService"),
    ("snake_case", "get_encryption_key_from_environment"),
    ("settings name", "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE"),
    ("settings name", "x-amz-server-side-encryption-customer-key-MD5"),
    ("path", "/usr/local/share/ca-certificates/internal-root.crt"),
    ("path", "src/main/resources/application-production.yml"),
    ("path", "config/credentials/production.yml.enc"),
    # Regular expressions.
    ("regex", "^[A-Za-z0-9+/]{43}=$"),
    ("regex", "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"),
    ("regex", "[a-zA-Z0-9_\\-]{32,64}"),
    ("regex", "^ENC\\[AES256_GCM,data:.*,iv:.*\\]$"),
    ("regex", "(?i)(?:secret|key)[\\s:=]+[\\w/+]{32,}"),
    # Cipher-suite lists.
    ("cipher suites", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"),
    ("cipher suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20"),
    ("cipher suites", "HIGH:!aNULL:!MD5:!RC4:!3DES:!CAMELLIA:!PSK:!SRP"),
    # OpenSSL cipher strings (the cipher-list filter, not the model).
    ("cipher string", "DEFAULT:!aNULL:!eNULL:!LOW:!EXPORT:!SSLv2:!MD5"),
    ("cipher string", "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!MD5:!DSS"),
    # Readable text in many languages, joined by - _ or nothing, with or without digits.
    ("German", "mein-geheimer-schluessel-1234567890"),
    ("German", "MeinGeheimerSchluessel1234567890"),
    ("German", "Verschluesselungsschluessel2024Aendern"),
    ("German", "Schlüssel-für-die-Verschlüsselung-ändern"),
    ("French", "ma-cle-secrete-de-chiffrement-a-changer"),
    ("French", "MaCleSecreteDeChiffrement123456"),
    ("Spanish", "mi-clave-secreta-de-cifrado-1234567890"),
    ("Spanish", "MiClaveSuperSecretaParaCifrar2024"),
    ("Portuguese", "minha-chave-secreta-de-criptografia-123"),
    ("Portuguese", "MinhaChaveSecretaDeCriptografia99"),
    ("Italian", "la-mia-chiave-segreta-di-crittografia"),
    ("Italian", "LaMiaChiaveSegretaPerCifrare1234"),
    ("Dutch", "mijn-geheime-versleutelingssleutel-1234"),
    ("Dutch", "MijnGeheimeSleutelVoorVersleuteling"),
    ("Polish", "moj-tajny-klucz-szyfrowania-zmien-to"),
    ("Polish", "MojTajnyKluczSzyfrowania1234567890"),
    ("Turkish", "benim-gizli-sifreleme-anahtarim-1234"),
    ("Turkish", "BenimGizliSifrelemeAnahtarim2024"),
    ("Indonesian", "kunci-rahasia-enkripsi-ganti-ini-1234"),
    ("Indonesian", "KunciRahasiaEnkripsiGantiIni1234567"),
    ("transliterated Russian", "sekretnyy-klyuch-shifrovaniya-1234567890"),
    ("transliterated Russian", "SekretnyyKlyuchShifrovaniya12345"),
    ("Russian", "ключ-шифрования-поменять-1234567890"),
    ("English", "ThisIsMyVerySecretEncryptionKey123!"),
    ("English", "placeholder_secret_key_for_local_dev_only"),
    ("digit-padded", "change_me_to_a_random_string_1234567890"),
    ("digit-padded", "your-32-character-secret-key-here-0000"),
    ("digit-padded", "ReplaceThisWithYourOwnSecret_12345678901234"),
    # Keyboard mashes and low-entropy digits.
    ("keyboard", "qwertyuiopasdfghjklzxcvbnm1234567890"),
    ("keyboard", "Qwertyuiop1234567890Asdfghjkl!@#$"),
    ("keyboard", "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,"),
    ("keyboard", "asdfASDFasdfASDF1234qwerQWER5678"),
    ("digits", "12345678901234567890123456789012ab"),
    ("digits", "0000000000000000000000000000000000000000"),
    # Character-set listings (a salt alphabet, base64's own alphabet in either order).
    ("alphabet", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./"),
    ("alphabet", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
    ("alphabet", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
    ("alphabet", "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLK"),
    # Repetitive test values that decode to key sizes or are long enough to be opaque.
    ("repetitive", "mxxxxxxxQ2vxxxxxxxW5zxxxxxxxttKD"),
    ("repetitive", "Zq7!zzzzzzzzzzzzzz#Yp3zzzzzzzzzzzzzzzzzz"),
    ("repetitive", "ab12ab12ab12XYab12ab12ab12ab12ab12ab12ab"),
    # crypt(3) and PHC hash strings (yescrypt, phpass, sha512-crypt, Apache MD5, argon2),
    # and base64url JSON: a JWS header or payload, alone or cut where a line ends.
    *(("crypt hash", v) for v in _CRYPT_HASHES),
    *(("jws part", v) for v in _JWS_PARTS),
    # Absolute paths of several names ending in a file extension.
    ("absolute path", "/home/some_user/virt-images/rhel-6-2015-10-16.qcow2"),
    ("absolute path", "/srv/www/k8s-prod_7/assets/vendor-3f9a2c.bundle.js"),
]


@pytest.mark.parametrize(("kind", "value"), NOT_KEYS, ids=[f"{k}:{v[:24]}" for k, v in NOT_KEYS])
def test_not_key_material_under_key_names(kind: str, value: str) -> None:
    assert recognize("SECRET_KEY", value) is None, kind
    assert recognize("ENCRYPTION_KEY", value, env_style=True) is None, kind
    assert recognize("APP_SECRET", value, literal=True) is None, kind


@pytest.mark.parametrize(
    "value",
    [
        v
        for k, v in NOT_KEYS
        if k
        not in (
            "regex",
            "call",
            "statement",
            "repetitive",
            "absolute path",
            "crypt hash",
            "jws part",
            "cipher string",
        )
    ],
)
def test_text_is_explained_by_the_model(value: str) -> None:
    # Not only a filter that happens to match: the measured model itself calls it text.
    assert text_fraction(value) >= OPAQUE_TEXT
    assert not is_random_opaque(value)


def test_regular_expressions_are_not_random() -> None:
    for kind, value in NOT_KEYS:
        if kind == "regex":
            assert is_regex(value), value


def test_words_cost_less_than_random_letters() -> None:
    rng = random.Random(16)
    words = "geheimnis chiffrement criptografia versleuteling szyfrowania anahtar rahasia"
    random_words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(9)) for _ in range(7)]
    assert max(word_bits(w) for w in words.split()) < min(word_bits(w) for w in random_words)


def _alphabet_string(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


_PRINTABLE = string.ascii_letters + string.digits + string.punctuation
_DJANGO = string.ascii_lowercase + string.digits + "!@#$%^&*(-_=+)"


def _random_values(seed: int, count: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    values: list[tuple[str, str]] = []
    for _ in range(count):
        values += [
            ("base64-32", base64.b64encode(rng.randbytes(32)).decode()),
            ("urlsafe-32", base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")),
            ("base64-48", base64.b64encode(rng.randbytes(48)).decode()),
            ("django-50", _alphabet_string(rng, _DJANGO, 50)),
            ("printable-40", _alphabet_string(rng, _PRINTABLE, 40)),
            ("alnum-48", _alphabet_string(rng, string.ascii_letters + string.digits, 48)),
        ]
    return values


def test_random_values_are_still_key_material() -> None:
    missed = []
    for kind, value in _random_values(seed=1616, count=300):
        if kind.startswith(("django", "printable", "alnum")) and not is_random_opaque(value):
            # D4's class and distinct-character floors are older than the model and
            # out of this test's scope; the model must not be what drops the value.
            assert text_fraction(value) < OPAQUE_TEXT, kind
            continue
        if recognize("SECRET_KEY", value) is None:
            missed.append(kind)
    assert missed == []


def test_random_printable_secrets_are_not_member_calls() -> None:
    # Random passwords hold "." and "(" (keys in base64 or hex never do): the member-call
    # filter must not take them for code.
    rng = random.Random(3)
    taken = [
        v
        for v in (
            _alphabet_string(rng, _PRINTABLE, rng.choice((32, 40, 50))) for _ in range(100_000)
        )
        if is_member_call(v)
    ]
    assert taken == []
    assert is_member_call("CryptoLib.Blowfish.decrypt(payload")


def test_random_keys_clear_the_repetition_floor() -> None:
    # The floor sits below what random keys of the shortest key spellings reach: 16 bytes
    # in hex (32 characters, the fewest symbols) and in unpadded base64 (22 characters).
    rng = random.Random(2500)
    for _ in range(20_000):
        raw = rng.randbytes(16)
        for spelling in (raw.hex(), base64.b64encode(raw).decode().rstrip("=")):
            assert not is_low_entropy_text(spelling), spelling
    assert is_low_entropy_text("mxxxxxxxQ2vxxxxxxxW5zxxxxxxxttKD")
    assert char_entropy("abcd" * 8) == pytest.approx(2.0)


def test_generated_fernet_keys_never_read_as_placeholders() -> None:
    for _ in range(2000):
        key = Fernet.generate_key().decode()
        assert not is_readable_placeholder(key)
        assert key_shape(key) is not None


# ----------------------------------------------------------------- ciphertext envelopes


def _b64(rng: random.Random, size: int) -> str:
    return base64.b64encode(rng.randbytes(size)).decode()


def _sops(rng: random.Random, size: int = 40) -> str:
    return f"ENC[AES256_GCM,data:{_b64(rng, size)},iv:{_b64(rng, 32)},tag:{_b64(rng, 16)},type:str]"


def _armor(rng: random.Random) -> list[str]:
    body = _b64(rng, 48 * 3 + 32)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return ["-----BEGIN AGE ENCRYPTED FILE-----", *lines, "-----END AGE ENCRYPTED FILE-----"]


def _envelope_files() -> dict[str, str]:
    rng = random.Random(2016)
    token = Fernet(Fernet.generate_key()).encrypt(b"a database password").decode()
    armor = _armor(rng)
    iv, tag = _b64(rng, 32), _b64(rng, 16)
    return {
        "secrets.enc.yaml": (
            f"app:\n    secret_key: {_sops(rng)}\n    encryption_key: {_sops(rng, 3000)}\n"
            f"keys:\n    - {_sops(rng)}\n"
            "sops:\n    age:\n        - recipient: age1example\n          enc: |\n"
            + "".join(f"            {line}\n" for line in armor)
            + f"    mac: {_sops(rng)}\n    version: 3.8.1\n"
        ),
        "secrets.enc.json": (
            f'{{"secret_key": "{_sops(rng)}",\n "data": {{"encryption_key": "{_sops(rng)}"}},\n'
            f' "sops": {{"mac": "{_sops(rng)}"}}}}\n'
        ),
        "minified.json": f'{{"secret_key":"{_sops(rng)}","encryption_key":"{_sops(rng)}"}}\n',
        ".env": (
            f"SECRET_KEY={_sops(rng)}\n"
            f'ENCRYPTION_KEY="{_sops(rng)}"\n'
            f"DOTENV_SECRET=encrypted:{_b64(rng, 120)}\n"
            f"APP_KEY=encrypted:{_b64(rng, 90)}\n"
            f"FERNET_SECRET={token}\n"
            f"SECRET_KEY_FIELDS=iv:{iv},tag:{tag}\n"
            f"SECRET_KEY_DATA=data:{_b64(rng, 40)},iv:{iv}\n"
            f"CIPHER_KEY={_b64(rng, 40)},iv:{iv},tag:{tag},type:str]\n"
        ),
        "settings.py": (
            f'SECRET_KEY = "{token}"\n'
            f'ENCRYPTION_SECRET = "encrypted:{_b64(rng, 60)}"\n'
            'AGE_SECRET_KEY = """\n' + "\n".join(armor) + '\n"""\n'
        ),
        "config.toml": f'secret_key = "{_sops(rng)}"\n[db]\nencryption_key = "{_sops(rng)}"\n',
        "armored.yaml": "encryption_key: |\n" + "".join(f"  {line}\n" for line in armor),
        "armored.env": 'SECRET_KEY="' + "\n".join(armor) + '"\n',
    }


@pytest.mark.parametrize("name", sorted(_envelope_files()))
def test_values_inside_ciphertext_envelopes_are_never_candidates(name: str) -> None:
    text = _envelope_files()[name]
    assert scan_text(name, text) == []


def test_sops_fields_cut_apart_are_ciphertext() -> None:
    rng = random.Random(3)
    iv, tag = _b64(rng, 32), _b64(rng, 16)
    for piece in (
        f"iv:{iv},tag:{tag}",
        f"data:{_b64(rng, 40)},iv:{iv}",
        f"AES256_GCM,data:{_b64(rng, 40)}",
        f"{_b64(rng, 40)},iv:{iv},tag:{tag},type:str]",
    ):
        assert is_ciphertext(piece)
        assert recognize("SECRET_KEY", piece) is None
    # The bare IV alone is a 32-byte value like any other: only its place says envelope.
    assert not is_ciphertext(iv)


def test_a_reader_cut_inside_an_envelope_is_skipped_by_position() -> None:
    rng = random.Random(4)
    sops = _sops(rng)
    line = f"secret_key: {sops}"
    iv_at = line.index(",iv:") + len(",iv:")
    assert in_envelope(line, iv_at)
    assert envelope_spans(line) == [(line.index("ENC["), len(line))]
    # Outside the envelope a key on the same line is still a key.
    key = base64.b64encode(rng.randbytes(32)).decode()
    both = f'keys = {{"secret_key": "{key}", "old_secret_key": "{sops}"}}'
    assert not in_envelope(both, both.index(key))
    assert [(f.line, f.variable) for f in scan_text("app.py", both + "\n")] == [(1, "secret_key")]


def test_a_key_next_to_an_envelope_in_an_env_file_is_still_found() -> None:
    rng = random.Random(5)
    key = base64.b64encode(rng.randbytes(32)).decode()
    text = f"OLD_KEY={_sops(rng)}\nSECRET_KEY={key}\n"
    found = scan_text(".env", text)
    assert [(f.line, f.variable) for f in found] == [(2, "SECRET_KEY")]


def test_many_values_on_one_line_with_envelopes_are_linear() -> None:
    # Envelopes are found once per line, not once per value on it (a minified bundle).
    rng = random.Random(6)

    def make(size: int) -> Callable[[], object]:
        unit = f'a_secret_key="{_b64(rng, 24)}",gAAAAA;ENC[x];'
        text = f"old_secret_key='{_sops(rng)}';" + unit * (size // len(unit)) + "\n"
        return lambda: scan_text("bundle.min.js", text)

    assert_linear(make, what="values beside envelopes on one line")


def test_random_keys_starting_like_json_are_still_keys() -> None:
    # A key whose base64 happens to start with "eyJ" is not JSON past those letters.
    rng = random.Random(16)
    for _ in range(2000):
        raw = b'{"' + bytes([0x40 | rng.randrange(64)]) + rng.randbytes(29)
        spelling = base64.urlsafe_b64encode(raw).decode()
        assert spelling.startswith("eyJ")
        assert recognize("SECRET_KEY", spelling) is not None


def test_escaped_line_end_after_a_key_is_not_the_key_s() -> None:
    rng = random.Random(17)
    raw = rng.randbytes(32)
    key = base64.b64encode(raw).decode()
    plain = recognize("SECRET_KEY", key)
    assert plain is not None and plain.key_bytes == 32
    for end in ("\\n", "\\r\\n", "\\n\\n", "\\t"):
        m = recognize("SECRET_KEY", key + end)
        assert m is not None and (m.key_type, m.fingerprint) == (plain.key_type, plain.fingerprint)
    # In a bytes literal of \x escapes, a trailing \n is a byte of the key.
    escaped = "".join(f"\\x{b:02x}" for b in raw[:31]) + "\\n"
    m = recognize("SECRET_KEY", escaped)
    assert m is not None and m.key_bytes == 32


def test_random_django_secrets_are_not_crypt_hashes() -> None:
    from importobot.scan.filters import is_password_hash

    rng = random.Random(18)
    taken = [
        v
        for v in (_alphabet_string(rng, _DJANGO, 50) for _ in range(100_000))
        if is_password_hash(v)
    ]
    assert taken == []
    assert all(is_password_hash(v) for v in _CRYPT_HASHES)


def test_random_printable_secrets_are_not_cipher_lists() -> None:
    from importobot.scan.filters import is_cipher_list

    rng = random.Random(19)
    taken = [
        v
        for v in (_alphabet_string(rng, _PRINTABLE, rng.choice((32, 40))) for _ in range(100_000))
        if is_cipher_list(v)
    ]
    assert taken == []


def test_salts_holding_blanks_are_key_material() -> None:
    # WordPress's salts draw 64 characters from 94 printable ones, the blank among them:
    # about half hold one. Judged single-quoted in an env file (Bedrock's .env); the
    # misses are salts with two blanks in a row (about 1 in 120) and a few with a
    # word-like piece. docs/filters.md gives the rate.
    alphabet = string.ascii_letters + string.digits + "!@#$%^&*()-_ []{}<>~`+=,.;:/?|"
    rng = random.Random(1604)
    salts = []
    while len(salts) < 2000:
        salt = "".join(rng.choice(alphabet) for _ in range(64))
        if " " in salt and salt == salt.strip():
            salts.append(salt)
    missed = [s for s in salts if recognize("AUTH_KEY", s, env_style=True, literal=True) is None]
    assert len(missed) / len(salts) < 0.03
    assert all("  " in s or recognize("AUTH_KEY", s.replace(" ", "x")) for s in missed)
