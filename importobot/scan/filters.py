"""Name lists and value filters (D8, D9). Pure predicates, standard library only.

Filters come in D9's two classes, applied in this order:

(a) *content-certain* — the value itself says it is not a key, whatever its name
    (:data:`CONTENT_FILTERS`);
(b) *context* — the value looks like a digest or an identifier, which only counts
    when the name does not say key or secret (:data:`CONTEXT_FILTERS`).

Published example keys are never filtered: the recognizer reports them with the
note "published example key". Every filter and name list has a row in
``docs/filters.md``.
"""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_right
from collections.abc import Callable

from importobot._lazyre import lazy_compile
from importobot.keys.fingerprint import is_fingerprint
from importobot.keys.tokens import is_token
from importobot.keys.wrapped import is_wrapped_key

__all__ = [
    "CONTENT_FILTERS",
    "CONTEXT_FILTERS",
    "content_filter",
    "context_filter",
    "envelope_spans",
    "in_envelope",
    "in_spans",
    "is_credential_name",
    "is_hash_or_id_name",
    "is_identifier_name",
    "is_key_name",
    "normalize_name",
]

# --------------------------------------------------------------------------- names

_CAMEL_RE = lazy_compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT_RE = lazy_compile(r"[^A-Z0-9]+")


def normalize_name(name: str) -> str:
    """``encodingAesKey`` / ``jwt-secret`` / ``a.b.secret_key`` → ``ENCODING_AES_KEY`` etc.

    Dotted paths keep their last component (``app.secret_key`` → ``SECRET_KEY``).
    """
    name = name.strip().strip("'\"")
    if "." in name:
        last = name.rsplit(".", 1)[1]
        if last:
            name = last
    name = _CAMEL_RE.sub("_", name)
    return "_".join(t for t in _SPLIT_RE.split(name.upper()) if t)


#: A name is a key's when a token ends in KEY or it holds one of the strong words; an
#: algorithm's word (weak) makes it one unless a token says what the algorithm made.
_STRONG_WORDS = ("SECRET", "PASSPHRASE")
_STRONG_TOKENS = frozenset({"SALT", "PEPPER", "KEYS", "AESKEY", "MASTERKEY"})
_WEAK_WORDS = ("CIPHER", "CRYPT")
_WEAK_TOKENS = frozenset({"HMAC", "SIGNING"})
#: A name ending in one of these names a digest or signature of what the words before
#: it name, whatever they are (``SECRET_HASH``, ``API_SECRET_SIGNATURE``).
_DIGEST_LAST = frozenset("HASH HASHED DIGEST CHECKSUM SIG SIGNATURE MAC".split())
_PRODUCT_TOKENS = frozenset(
    "SIG SIGS SIGNATURE SIGNATURES SIGNED DIGEST DIGESTS HASH MAC TAG INPUT OUTPUT"
    " MESSAGE MSG PAYLOAD RESULT VECTOR VECTORS".split()
)

#: Identifier / public names (D8): never key context. An identifier keeps its kind under
#: a spelling suffix (``localKeyIdHex``, ``KEY_ID_B64``).
_IDENTIFIER_RE = lazy_compile(
    r"""(?x)
    (?:^|_)(?:KEY_?ID|KEY_?IDS|ACCESS_KEY_ID|CLIENT_ID|APP_ID|PROJECT_ID|ID|IDS|UUID
             |KEY_?IDENTIFIERS?)
           (?:_(?:HEX|B64|BASE64|BYTES|STR|STRING|TEXT|RAW))?$
    | (?:^|_)(?:PUBLIC|PUB|PUBKEY|PUBLISHABLE|PUBLIC_KEY)(?:_|$)
    | (?:^|_)SITE_?KEY$
    | ^(?:SUPABASE_)?ANON_KEY$
    | (?:^|_)KEY_(?:PATH|FILE|FILES|NAME|URL|URI|DIR|LOCATION|ALIAS|TYPE|SIZE|LENGTH|LEN|BITS|
                   VERSION|FORMAT|ALGORITHM|ALG|ARN|REF|HEADER|PREFIX|COUNT|ROTATION|VAULT)$
    | (?:^|_)(?:SECRET|SECRETS)_(?:PATH|FILE|NAME|URL|URI|DIR|ARN|REF|BACKEND|MANAGER|
                   PREFIX|STORE|PROVIDER|ID|VERSION|ENGINE|MOUNT|LENGTH)$
    | (?:^|_)(?:FINGERPRINT|THUMBPRINT|FP)(?:_|$)
    | ^(?:NEXT_PUBLIC|VITE|REACT_APP|EXPO_PUBLIC|NUXT_PUBLIC|GATSBY)_
    """
)

#: Hash / identifier names (D8): a 32-byte value in an env file under such a name is not reported.
_HASH_ID_RE = lazy_compile(
    r"SHA|HASH|DIGEST|CHECKSUM|MD5|ETAG|(?:^|_)ID$|COMMIT|(?:^|_)REV|VERSION|INTEGRITY"
)


_CREDENTIAL_RE = lazy_compile(
    r"API_?KEY|APIKEY|API_?SECRET|ACCESS_?KEY|CLIENT_?SECRET|CONSUMER_?SECRET|TOKEN|"
    r"LICEN[CS]E_?KEY|(?:^|_)DSN$"
)


def is_credential_name(name: str) -> bool:
    """A credential for another service (``OPENAI_API_KEY``, ``AWS_SECRET_ACCESS_KEY``).

    The labeling policy leaves service credentials out of a key detector's scope, so
    under such names only values that decode to an exact key size count as keys.
    """
    return _CREDENTIAL_RE.search(normalize_name(name)) is not None


#: Tokens naming what encryption produced (ciphertext), or the algorithms a connection
#: may use (``ciphers``, ``cipher_suites``), which the ``*CIPHER*`` and ``*CRYPT*`` words
#: would otherwise take for a key's name.
_DATA_RE = lazy_compile(
    r"(?<=_)(?:CIPHER_?TEXTS?|(?:EN)?CRYPTED|ENCIPHERED|CIPHERED"
    r"|CIPHERS|CIPHER_?SUITES?|CIPHER_?LISTS?|CIPHER_?SPEC)(?=_)"
)


def is_key_name(name: str) -> bool:
    """True when a (normalized) name says key or secret (D8's key/secret list).

    ``*KEY`` (any token ending in KEY: ``FERNET_KEY``, ``AESKEY``, ``DOTENV_KEY_DEV``),
    ``*SECRET*``, ``*PASSPHRASE*``, ``*CIPHER*``, ``*CRYPT*``, ``*SALT``,
    ``*PEPPER``, ``*HMAC*``, ``*SIGNING*``, ``KEYS``. A ciphertext's name (``ciphertext``,
    ``cipher_text``, ``encrypted``) is not one unless another word makes it one
    (``ENCRYPTED_SECRET``, ``ENCRYPTED_KEY``).
    """
    norm = normalize_name(name)
    if not norm:
        return False
    words = norm
    if "CIPHER" in norm or "CRYPTED" in norm:
        # What encryption made is data, not a key: ``ciphertext``, ``encrypted``.
        words = _DATA_RE.sub("_", "_" + norm + "_")
    tokens = norm.split("_")
    if tokens[-1] in _DIGEST_LAST:
        return False  # ``SECRET_HASH``, ``SIGNING_KEY_DIGEST``: a digest of a secret
    if any(t.endswith("KEY") or t in _STRONG_TOKENS for t in tokens) or any(
        w in words for w in _STRONG_WORDS
    ):
        return True
    if not any(w in words for w in _WEAK_WORDS) and not any(t in _WEAK_TOKENS for t in tokens):
        return False
    # Only an algorithm's word (HMAC, SIGNING, CIPHER, CRYPT): what it made is data
    # (``hmac_sig``, ``expected_signature_hmac_sha512``, ``signing_input``).
    return not any(t in _PRODUCT_TOKENS for t in tokens)


#: What a name must hold for :data:`_IDENTIFIER_RE` to match it (tested first: the
#: pattern takes 0.7 ms to compile, a tenth of the hook's budget over Python's start, and
#: a key's name such as ``FERNET_KEY`` holds none of these).
_IDENTIFIER_HINTS = ("ID", "PUB", "SITE", "ANON", "PRINT", "FP", "VITE", "REACT", "GATSBY")
_IDENTIFIER_LAST = frozenset(
    "PATH FILE FILES NAME URL URI DIR LOCATION ALIAS TYPE SIZE LENGTH LEN BITS VERSION FORMAT"
    " ALGORITHM ALG ARN REF HEADER PREFIX COUNT ROTATION VAULT BACKEND MANAGER STORE PROVIDER"
    " ENGINE MOUNT".split()
)


def is_identifier_name(name: str) -> bool:
    """True when a (normalized) name marks an identifier or a public value (D8)."""
    norm = normalize_name(name)
    if not any(h in norm for h in _IDENTIFIER_HINTS) and (
        norm.rsplit("_", 1)[-1] not in _IDENTIFIER_LAST
    ):
        return False
    return _IDENTIFIER_RE.search(norm) is not None


def is_hash_or_id_name(name: str) -> bool:
    """True when a name says hash, digest or identifier (D8's exception list)."""
    return _HASH_ID_RE.search(normalize_name(name)) is not None


# ------------------------------------------------------------- (a) content-certain

_REF_CMD_RE = lazy_compile(r"\$\(\s*[A-Za-z_][\w.\-/]*(?:\s|\)|$)")
_BACKTICK_RE = lazy_compile(r"`[^`]+`")
_RUNTIME_RE = lazy_compile(
    r"""(?x)
    (?:generate_key|token_hex|token_bytes|token_urlsafe|urandom|randomBytes|random_bytes|
       getenv|environ|process\.env|env\(|ENV\[|secrets\.|os\.|Deno\.env|System\.getenv)
    """
)
_URI_REF_RE = lazy_compile(
    r"""(?xi)^(?:op|vault|secret|secrets|sm|awssm|gcpsm|azkv|keyvault|bws|doppler|infisical|
    ref\+[a-z0-9]+|arn|kms):"""
)
_JWT_RE = lazy_compile(r"^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
#: A PHC or crypt(3) string: ``$id$`` (``argon2id``, ``2b``, ``6``, ``y`` yescrypt, ``7``,
#: ``P`` phpass, ``apr1``, ``pbkdf2-sha256``…), then its fields in the crypt alphabet
#: (``./`` base64, ``$`` between fields, ``=`` and ``,`` in PHC parameters). No base64 or
#: hex key holds ``$``; a random secret in Django's alphabet takes this shape with a
#: probability below 10⁻⁷ (``$``, an id, ``$``, then 40+ of its 50 characters only).
_PHC_RE = lazy_compile(r"\$[A-Za-z0-9][A-Za-z0-9-]{0,15}\$[\w./$=,+-]{8,}")
_PREFIXED_DIGEST_RE = lazy_compile(
    r"^(?:(?:sha(?:1|224|256|384|512)|sha3-\d+)[:\-]|(?:md5|blake2b?|h1|zh):)", re.IGNORECASE
)
_PUBLIC_KEY_RE = lazy_compile(
    r"^(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-(?:ssh|ecdsa)-[\w@.-]+)\s"
    r"|-----BEGIN (?:[A-Z0-9 ]+ )?(?:PUBLIC KEY|CERTIFICATE|CERTIFICATE REQUEST)-----"
)
_UUID_RE = lazy_compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_AGE_RECIPIENT_RE = lazy_compile(r"^age1[02-9ac-hj-np-z]{58}$")


def is_empty(value: str) -> bool:
    """Empty or whitespace only, or a bare null word (``null``, ``None``, ``~``)."""
    v = value.strip()
    return not v or v in ("~", "null", "NULL", "None", "nil", "undefined", '""', "''")


def _has_brace_reference(value: str) -> bool:
    """``${…}`` (or ``${{…}}``): a ``${`` with a ``}`` somewhere after it. Two finds
    (a regex search rescanned the rest of the value from every unclosed ``${``)."""
    start = value.find("${")
    return start >= 0 and value.find("}", start + 2) >= 0


def is_reference(value: str) -> bool:
    """A reference or an expression evaluated later.

    ``${VAR}``, ``${VAR:-default}``, ``${VAR?err}``, ``${{ secrets.X }}``, ``$(cmd)``,
    ```cmd```, ``op://…``, ``vault:…``, secret-manager URIs and ARNs, and runtime calls
    (``Fernet.generate_key()``, ``secrets.token_hex(32)``, ``os.environ[…]``).
    """
    if _has_brace_reference(value) or _is_command_substitution(value):
        return True
    if _BACKTICK_RE.search(value) and " " in value:
        return True
    if ":" in value and _URI_REF_RE.match(value):  # the test first: no compile when it fails
        return True
    if "(" in value and (_RUNTIME_RE.search(value) or is_code_expression(value)):
        return True
    return value.startswith("{{") and value.endswith("}}")


#: A reference with a default written in (shell and compose ``${NAME:-default}``,
#: ``${NAME-default}``, ``${NAME:=default}``; Spring ``${name:default}``). ``${NAME:?err}``
#: and ``${NAME:+alternative}`` hold no default.
#: A shell variable's name is a word (so ``${NAME-default}`` splits at its first ``-``);
#: a Spring property's may hold ``.`` and ``-`` and takes its default after ``:``.
_REF_DEFAULT_RE = lazy_compile(
    r"\$\{(?:(?P<prop>[A-Za-z_][\w.\-]{0,127}):(?![?+=\-])|(?P<var>[A-Za-z_]\w{0,127})"
    r"(?::-|:=|-|=))(?P<default>[^\s{}$]{16,4096})\}"
)


def reference_default(value: str) -> tuple[str, str, int] | None:
    """``(variable, default, offset of the default in value)`` when ``value`` is one
    reference holding a default of 16 characters or more: the default is committed text,
    the value whenever the variable is unset, and is judged like any other value (a
    reference without one is never a key: :func:`is_reference`)."""
    if not value.startswith("${") or not value.endswith("}"):
        return None
    if ":" not in value and "-" not in value and "=" not in value:
        return None  # ``${NAME}``: no default (and no pattern compiled on the hook path)
    m = _REF_DEFAULT_RE.fullmatch(value)
    if m is None:
        return None
    return m.group("prop") or m.group("var"), m.group("default"), m.start("default")


def _is_command_substitution(value: str) -> bool:
    """``$(cmd args)``, or ``$(cmd)`` whose command reads as a word (``$(uuidgen)``): a
    random secret may hold ``$(`` and a letter (Django's alphabet has both), never a space."""
    m = _REF_CMD_RE.search(value)
    if m is None:
        return False
    if m.group()[-1:].isspace():
        return True
    from importobot.keys.charmodel import text_fraction

    word = m.group()[2:].strip().rstrip(")")
    return len(word) >= 2 and text_fraction(word) >= 0.65


_CALL_EXPR_RE = lazy_compile(
    r"[A-Za-z_][\w.]*\((?:[^()]|\([^()]*\))*\)(?:\.[A-Za-z_]\w*(?:\((?:[^()]|\([^()]*\))*\))?)*"
)


#: A call on a member path of three names or more (``CryptoJS.enc.Hex.parse(obj.s)``),
#: its argument list closed or cut short where a reader's bare value ends (at a space or
#: a comma: ``pki.pbe.generateKey(password,``), then chained calls. No key spelling holds
#: ``.`` and ``(`` (base64, hex, Django's alphabet); a random printable string takes
#: this shape with a probability below 10⁻⁶ (names of two characters or more, two dots,
#: a ``(``, and only identifier characters, quotes, brackets, ``.``, ``,``, ``:`` and
#: spaces in the arguments: none of 10⁶ draws of 32–50 characters; a test draws 10⁵).
_MEMBER_CALL_RE = lazy_compile(
    r"[A-Za-z_]\w+(?:\.[A-Za-z_]\w+){2,}\((?:[\w.,:'\"\[\] ]|\([\w.,:'\"\[\] ]*(?:\)|\Z))*"
    r"\)?(?:\.[A-Za-z_]\w+(?:\((?:[\w.,:'\"\[\] ]|\([\w.,:'\"\[\] ]*\))*(?:\)|\Z))?)*"
)
#: Longer values are not tried against it (the work per value stays small).
_MEMBER_CALL_MAX = 512


def is_member_call(value: str) -> bool:
    """A call on a member path of three names or more, in code or quoted
    (``CryptoJS.enc.Hex.parse(obj.s)``, ``pki.pbe.generateKey(password,``): no key spelling
    holds ``.`` and ``(``, so unlike a ``$…`` reference it is not a key even when quoted."""
    v = value.strip().strip("\"'`,;")
    return "." in v and len(v) <= _MEMBER_CALL_MAX and _MEMBER_CALL_RE.fullmatch(v) is not None


def is_code_expression(value: str) -> bool:
    """A call expression written in code (``base64.b64encode(raw).decode()``), or one
    interpolated in a template or f-string (``{make_key()}``): computed at run time.

    Key spellings (base64, hex) never hold parentheses, so this cannot hide a key.
    """
    v = value.strip().strip("\"'`,;")
    if v.endswith("\\n"):
        v = v[:-2].rstrip("\"'")
    if v.startswith("{") and v.endswith("}"):
        v = v[1:-1].strip()
    # The value may run on past the call (``key=f(raw)).other()`` read from code).
    m = _CALL_EXPR_RE.match(v)
    if m is None or 2 * m.end() < len(v):
        return False
    # Code reads as words (``base64.b64encode(raw)``, ``f(seed)``); a random secret that
    # happens to hold ``x(…)`` does not (measured in docs/filters.md).
    from importobot.keys.charmodel import text_fraction

    return text_fraction(v) >= 0.5


def is_fernet_token(value: str) -> bool:
    """A Fernet *token* (``gAAAAA…``): ciphertext, not a key."""
    return is_token(value)


#: A sops value's fields, whole or a piece a reader cut out of ``ENC[…]``: ``data:…,iv:…``,
#: ``iv:…,tag:…``, ``AES256_GCM,data:…``, ``…,type:str]``.
_SOPS_FIELDS_RE = lazy_compile(
    r"""(?x)
    (?:^|,)(?:data|iv|tag):[A-Za-z0-9+/]*={0,2},(?:data|iv|tag|type):
    | ^(?:AES256_GCM|AES-256-GCM),(?:data|iv|tag):
    | ^[A-Za-z0-9+/]*={0,2},(?:iv|tag):[A-Za-z0-9+/]*={0,2}(?:,|\]|$)
    | ,type:(?:str|int|float|bool|bytes|comment)\]?$
    """
)
#: Where a ciphertext envelope starts on a line; :func:`envelope_spans` finds its end.
_ENVELOPE_RE = lazy_compile(
    r"ENC\[|encrypted:|ENCRYPTED\||\$ANSIBLE_VAULT;|gAAAAA[A-Za-z0-9_-]{60,}={0,2}"
    r"|-----BEGIN (?:AGE ENCRYPTED FILE|PGP MESSAGE)-----"
)
_B64_BODY_RE = lazy_compile(r"[A-Za-z0-9+/_=-]*")


def is_ciphertext(value: str) -> bool:
    """sops ``ENC[…]`` (or its fields cut apart: ``iv:…,tag:…``), dotenvx ``encrypted:…``,
    ``ENCRYPTED|…``, age/PGP armor, Fernet tokens."""
    v = value.lstrip()
    if v.startswith(("ENC[", "encrypted:", "ENCRYPTED|", "enc:", "AQICAH", "$ANSIBLE_VAULT;")):
        return True
    if "ENC[AES256_GCM," in v or (":" in v and _SOPS_FIELDS_RE.search(v) is not None):
        return True
    if "-----BEGIN AGE ENCRYPTED FILE-----" in v or "-----BEGIN PGP MESSAGE-----" in v:
        return True
    if "-----BEGIN ENCRYPTED PRIVATE KEY-----" in v:
        return True
    return is_fernet_token(v)


def envelope_spans(line: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the ciphertext envelopes on one line: a sops ``ENC[…]``
    (to its ``]``), a dotenvx ``encrypted:`` value, ``ENCRYPTED|…``, an armor line, a
    Fernet token. A value a reader cut out of one of them is never a candidate, whatever
    the reader made of it (a sops ``iv:`` field is 32 random bytes). Linear in the line:
    each envelope's end is searched from its start, and the next one after that end."""
    spans: list[tuple[int, int]] = []
    if not _may_hold_envelope(line):
        return spans
    pos = 0
    n = len(line)
    while pos < n:
        m = _ENVELOPE_RE.search(line, pos)
        if m is None:
            break
        start = m.start()
        text = m.group()
        if text == "ENC[":
            close = line.find("]", m.end())
            end = n if close < 0 else close + 1
        elif text.startswith(("gAAAAA", "-----")):
            end = m.end() if text.startswith("gAAAAA") else n
            if text.startswith("gAAAAA") and not is_fernet_token(text):
                pos = m.end()
                continue
        else:
            body = _B64_BODY_RE.match(line, m.end())
            end = body.end() if body is not None else m.end()
            if text != "encrypted:":
                end = n  # ``ENCRYPTED|…`` and vault headers run to the end of the line
        spans.append((start, end))
        pos = max(end, m.end())
    return spans


def _may_hold_envelope(line: str) -> bool:
    return any(
        mark in line
        for mark in ("ENC[", "ncrypted:", "NCRYPTED|", "gAAAAA", "$ANSIBLE_VAULT", "-----BEGIN")
    )


def in_spans(spans: list[tuple[int, int]], offset: int) -> bool:
    """``offset`` lies in one of ``spans`` (from :func:`envelope_spans`: in order, apart)."""
    if not spans:
        return False
    at = bisect_right(spans, (offset, spans[-1][1] + 1)) - 1  # the last span starting here
    return at >= 0 and spans[at][0] <= offset < spans[at][1]


def in_envelope(line: str, offset: int) -> bool:
    """The character at ``offset`` (0-based) of ``line`` lies inside a ciphertext envelope.

    A scan of many values on one line computes :func:`envelope_spans` once and asks
    :func:`in_spans` for each value (``importobot/scan/rules/files.py``)."""
    return in_spans(envelope_spans(line), offset)


def is_jwt(value: str) -> bool:
    """A JSON Web Token (three dot-separated base64url parts, header ``eyJ``), or a part
    of one: base64url that decodes to the start of a JSON object (a JWS header or
    payload, a JWT's signing input cut over lines). A random key starts with ``eyJ`` once
    in 2.6 × 10⁵ and its next bytes would not read as a JSON member."""
    if not value.startswith("eyJ"):
        return False
    if _JWT_RE.match(value) is not None:
        return True
    return _json_object_start(value.split(".", 1)[0])


def _json_object_start(part: str) -> bool:
    """``part`` (base64url, possibly cut) decodes to ``{"name":`` and more."""
    import base64
    import binascii

    head = part[:64]
    head = head[: len(head) - len(head) % 4]
    try:
        text = base64.urlsafe_b64decode(head.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError):
        return False
    return _JSON_MEMBER_RE.match(text) is not None


_JSON_MEMBER_RE = lazy_compile(rb'\{\s*"[\w.:-]{1,32}"\s*:\s*["{\[\dtfn-]')


#: An OpenSSL cipher string: three items or more joined by ``:``, each a name (after an
#: optional ``!``, ``+`` or ``-``), one of them excluded with ``!``
#: (``DEFAULT:!aNULL:!eNULL:!LOW:!EXPORT:!SSLv2:!MD5``). No base64, hex or Django-alphabet
#: key holds ``:``; a random printable secret keeps to these characters and this shape
#: with a probability below 10⁻⁶.
_CIPHER_LIST_RE = lazy_compile(r"[!+\-]?[A-Za-z][\w\-+@=.]*(?::[!+\-]?[A-Za-z][\w\-+@=.]*){2,}")


def is_cipher_list(value: str) -> bool:
    """An OpenSSL cipher string (``HIGH:!aNULL:!MD5``): algorithm names, not a key."""
    if ":!" not in value and not value.startswith("!"):
        return False
    return _CIPHER_LIST_RE.fullmatch(value) is not None


def is_password_hash(value: str) -> bool:
    """A PHC / crypt(3) string: ``$argon2id$…``, ``$2b$…`` (bcrypt), ``$6$…``, ``$y$…``
    (yescrypt), ``$P$…`` (phpass)."""
    return value.startswith("$") and _PHC_RE.fullmatch(value) is not None


def is_prefixed_digest(value: str) -> bool:
    """A digest that names its algorithm: ``sha256:…``, ``sha512-…``, ``h1:…``, ``zh:…``."""
    return _PREFIXED_DIGEST_RE.match(value) is not None


def is_public_key(value: str) -> bool:
    """An SSH or PEM public key or certificate, or an age recipient (``age1…``)."""
    return _PUBLIC_KEY_RE.search(value) is not None or _AGE_RECIPIENT_RE.match(value) is not None


def is_data_uri(value: str) -> bool:
    """A ``data:`` URI (embedded images and fonts)."""
    return value[:5].lower() == "data:"


def is_uuid(value: str) -> bool:
    """A dashed UUID."""
    return _UUID_RE.match(value) is not None


def is_our_fingerprint(value: str) -> bool:
    """An importobot ``iobfp1:`` fingerprint (baselines, registries, reports)."""
    return is_fingerprint(value)


def is_our_wrapped_key(value: str) -> bool:
    """An importobot ``iobwk1:`` wrapped key (D24): ciphertext under a KEK, safe to commit.

    Only text that parses fully counts: a truncated or edited one is judged like any value.
    """
    return is_wrapped_key(value)


_PERCENT_VAR_RE = lazy_compile(r"%[A-Za-z_][\w.-]+%(?:[/\\]|$)")


#: An absolute path of three names or more ending in a file extension, in path characters
#: only. Its ``.`` puts it outside both base64 alphabets (``/`` is only in the standard one,
#: which has no ``.``); a random printable password of 32 characters keeps to these
#: characters with probability (66/95)³² < 10⁻⁵ and must also fall into this shape.
_FS_PATH_RE = lazy_compile(
    r"/(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*/){2,}[A-Za-z0-9._~-]*\.[A-Za-z][A-Za-z0-9]{0,7}"
)


def is_path_or_url(value: str) -> bool:
    """A file path or URL in a key-named variable (``JWT_SECRET_KEY=%kernel.dir%/jwt.pem``).

    Only spellings no key can have: a ``scheme://``, a path with a key-file extension, a
    ``./``, ``~/``, ``%…%`` start, or an absolute path of three names or more ending in a
    file extension. A bare ``/abc…`` is left alone: base64 may start so.
    """
    if "://" in value:
        return True
    if value.startswith(("./", "../", "~/", "file:", "C:\\")):
        return True
    if _PERCENT_VAR_RE.match(value):
        return True  # ``%kernel.project_dir%/…``, ``%APPDATA%\…``
    if value.startswith("/") and _FS_PATH_RE.fullmatch(value):
        return True  # ``/home/user/images/rhel-6-2015-10-16.qcow2``
    return (
        "/" in value
        and re.search(r"\.(?:pem|key|p12|pfx|der|crt|json|txt|asc|gpg|jks|pub)$", value) is not None
    )


def is_base64_text(value: str) -> bool:
    """Base64 whose decoded bytes are readable text (``eyJpdiI6…`` is JSON, not a key)."""
    body = value.strip().rstrip("=")
    if len(body) < 16 or not re.fullmatch(r"[A-Za-z0-9+/_-]+", body):
        return False
    std = body.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) < 12:
        return False
    printable = sum(1 for b in raw if 0x20 <= b <= 0x7E or b in (9, 10, 13))
    return printable / len(raw) >= 0.95


#: D9 class (a), in order: (name, predicate). A match means "not a key", always.
CONTENT_FILTERS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("empty", is_empty),
    ("member-call", is_member_call),
    ("reference", is_reference),
    ("ciphertext", is_ciphertext),
    ("jwt", is_jwt),
    ("password-hash", is_password_hash),
    ("cipher-list", is_cipher_list),
    ("prefixed-digest", is_prefixed_digest),
    ("public-key", is_public_key),
    ("data-uri", is_data_uri),
    ("uuid", is_uuid),
    ("importobot-fingerprint", is_our_fingerprint),
    ("importobot-wrapped-key", is_our_wrapped_key),
    ("path-or-url", is_path_or_url),
    ("base64-text", is_base64_text),
)


def content_filter(value: str) -> str | None:
    """Name of the first class (a) filter that matches ``value``, or ``None``."""
    for name, predicate in CONTENT_FILTERS:
        if predicate(value):
            return name
    return None


# ------------------------------------------------------------------ (b) context

_HEX_DIGEST_LENGTHS = frozenset({32, 40, 56, 64, 96, 128})


def is_bare_hex_digest(value: str) -> bool:
    """Bare hex of a digest length (MD5, SHA-1 / git SHA, SHA-224/256/384/512)."""
    return len(value) in _HEX_DIGEST_LENGTHS and all(c in "0123456789abcdefABCDEF" for c in value)


def is_dashless_uuid(value: str) -> bool:
    """32 hex characters with a UUID version nibble (``…4xxx[89ab]…``)."""
    return (
        len(value) == 32
        and all(c in "0123456789abcdef" for c in value.lower())
        and value[12] in "12345678"
        and value[16].lower() in "89ab"
    )


def is_pinned_ref(value: str) -> bool:
    """An ``owner/repo@<40 hex>`` pinned action or a ``name@sha256:…`` image."""
    return re.search(r"@(?:[0-9a-f]{40}|sha256:[0-9a-f]{64})\b", value) is not None


#: D9 class (b): applied only when the name is not key/secret-named.
CONTEXT_FILTERS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("hex-digest", is_bare_hex_digest),
    ("dashless-uuid", is_dashless_uuid),
    ("pinned-ref", is_pinned_ref),
)


def context_filter(value: str) -> str | None:
    """Name of the first class (b) filter that matches ``value``, or ``None``."""
    for name, predicate in CONTEXT_FILTERS:
        if predicate(value):
            return name
    return None
