"""Values where code puts them: call arguments and defaults, indexed assignments, key
constructors and decoders, list items, XML element text, blocks, heredocs, multi-line
strings and continuation lines (issue 16).

The line reader (:mod:`importobot.scan.readers.lines`) names a value by the
``name = value`` in front of it. This reader starts from the other end: it finds the
values a line holds that could be keys (quoted strings, XML element text, a line that
is one bare token), judges each on its own first, and only for one that is key-shaped
reads the code in front of it for the name it is given:

* the argument or default of a call that reads or sets configuration —
  ``env("NAME", "…")``, ``env("NAME", default="…")`` (over several lines too),
  ``os.environ.get``/``os.getenv``/``os.environ.setdefault``, ``ENV.fetch``,
  ``System.getProperty``/``setProperty``, ``monkeypatch.setenv``, ``config``: the
  first argument is the name;
* a fallback after an environment read: ``process.env.NAME || "…"``, ``?? "…"``,
  ``os.environ["NAME"] or "…"``;
* an indexed assignment: ``os.environ["NAME"] = "…"``, ``ENV["NAME"] = "…"``;
* the argument of a key constructor (``Fernet(b"…")``, ``CredentialManager("…")``,
  ``AESGCM``, ``ChaCha20Poly1305``, ``SecretKeySpec``, ``createCipheriv``'s key, …):
  key context whatever the variable is called;
* the argument of a decoder assigned to a name (``KEY = base64.b64decode("…")``,
  ``bytes.fromhex``, ``Buffer.from``, ``Convert.FromBase64String``, Go ``[]byte``,
  Rust ``Key::from_slice``): the target is the name;
* an item of a list, tuple or array under a name (``KEYS = ["…", "…"]``,
  ``{"keys": […]}``), over several lines too;
* XML element text (``<encryptionKey>…</encryptionKey>``) and ``<add key="NAME"
  value="…"/>``;
* a value whose own name says nothing (``default``, ``value``) inside a named block:
  Terraform ``variable "encryption_key" { default = "…" }``, heredocs included;
* ``name = \"\"\"`` multi-line strings (TOML, Python) and ``name =`` followed by the
  value on the next line (INI continuation).

Work stays linear: values are found by one regex pass over the lines that can hold a
key at all; the code in front of a key-shaped value is read in a window of bounded
size; the enclosing brackets come from one forward pass that reads each bracket once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from importobot._lazyre import lazy_compile
from importobot.scan.filters import is_key_name, reference_default
from importobot.scan.readers.base import Candidate
from importobot.scan.readers.lines import comment_start

__all__ = ["read_code"]

#: How far before a value the code naming it is read (bytes).
_WINDOW = 512
#: How far before a value most heads are looked for (a name, a separator, a callee).
_SHORT = 192
#: How far back the opening bracket of a list or block may be (bytes).
_BLOCK_REACH = 4096
#: How far past a question a word is searched for at once (bytes).
_LOOKAHEAD = 1 << 16
#: Values whose judgement is kept (a bundle's repeated strings are judged once).
_VERDICTS_MAX = 4096
#: Brackets kept open at most (deeper ones drop the outermost).
_MAX_DEPTH = 256

# A value worth judging: a quoted string without blanks; XML element text (searched
# for along the line); a line that is one bare token (a heredoc, an INI continuation,
# a multi-line string's content: tried once, at the line's start). Each alternative
# starts with its own opener, so the regex engine skips to the next opener in C.
_VALUE = rb"""\"(?P<dv>[^\s"'`]{16,4096})\"
    |'(?P<sv>[^\s"'`]{16,4096})'
    |`(?P<bv>[^\s"'`]{16,4096})`
    |>(?P<x>[^\s<>"'`]{16,4096})<"""
_VALUE_RE = lazy_compile(_VALUE, re.X)
#: In PHP, a quoted string of 40 to 256 printable characters with single blanks is
#: read too (groups ``s`` and ``d``: a salt drawn from an alphabet holding the blank
#: and the other quotes, WordPress's ``define('AUTH_KEY', '…')``); the recognizer judges
#: whether it is random. Only there: a program's strings with blanks are mostly text,
#: and judging each of them would cost more than the rest of the reading.
_SPACED_VALUE_RE = lazy_compile(
    _VALUE
    + rb"""
    |'(?P<s>[!-&(-\[\]-~](?:[!-&(-\[\]-~]|[ ](?=[!-&(-\[\]-~])){39,255})'
    |\"(?P<d>[!\#-\[\]-~](?:[!\#-\[\]-~]|[ ](?=[!\#-\[\]-~])){39,255})\"""",
    re.X,
)
#: The quote around each group holding a quoted value.
_QUOTES = {"dv": '"', "sv": "'", "bv": "`", "s": "'", "d": '"'}
_BARE_RE = lazy_compile(rb"(?m)[ \t]*(?P<b>[^\s\"'`<>,;=]{16,4096}={0,2})[ \t]*[,;]?\r?$")
#: A stretch this long with few quotes (a base64 data URI) is matched at its quotes
#: only, not searched character by character.
_SPARSE_MIN = 1 << 16
#: "Few": at most one opener per 2**_SPARSE_SHIFT bytes.
_SPARSE_SHIFT = 8
_VALUE_OPENERS = (b'"', b"'", b"`", b">")


def _value_matches(
    data: bytes, start: int, end: int, regex: re.Pattern[bytes]
) -> Iterator[re.Match[bytes]]:
    """What ``regex.finditer(data, start, end)`` gives (``regex``: ``_VALUE_RE`` or
    ``_SPACED_VALUE_RE``). Every match starts at a
    quote or ``>``; in a long stretch holding few of them, the pattern is tried at
    those only (one C-level count and search per opener, then one match per opener)."""
    if end - start >= _SPARSE_MIN:
        if sum(data.count(o, start, end) for o in _VALUE_OPENERS) <= (end - start) >> _SPARSE_SHIFT:
            marks: list[int] = []
            for opener in _VALUE_OPENERS:
                at = data.find(opener, start, end)
                while at >= 0:
                    marks.append(at)
                    at = data.find(opener, at + 1, end)
            marks.sort()
            done = start
            for at in marks:
                if at < done:
                    continue  # inside the previous match, as finditer would skip it
                m = regex.match(data, at, end)
                if m is not None:
                    done = m.end()
                    yield m
            return
    yield from regex.finditer(data, start, end)


_PREFIX_RE = lazy_compile(rb"(?<![\w$])[bBrRuU]{1,2}\Z")

_IDENT = r"[A-Za-z_$][\w$]*"
_PATH = rf"{_IDENT}(?:(?:\.|::|->){_IDENT})*"
_QNAME = r"""(?P<nq>["'])(?P<name>[^"'\\\r\n]{1,128})(?P=nq)"""

# Each head ends where a value starts (``\Z`` at the window's end).
_CALL_RE = lazy_compile(
    rf"""(?<![\w$.])(?P<callee>{_PATH})\s*\(\s*{_QNAME}\s*,\s*
    (?:(?P<kw>[A-Za-z_]\w*)\s*[=:]\s*)?\Z""",
    re.X,
)
_FALLBACK_RE = lazy_compile(
    rf"""(?:(?<![\w$.])(?:process|import\.meta|Deno)\.env\.(?P<attr>[A-Za-z_]\w*)
    |(?<![\w$])(?:{_PATH})\s*\[\s*{_QNAME}\s*\]
    |(?<![\w$.])(?P<gcallee>{_PATH})\s*\(\s*(?P<gq>["'])(?P<gname>[^"'\\\r\n]{{1,128}})(?P=gq)\s*\))
    \s*(?:\|\||\?\?|\bor\b|\?:)\s*\Z""",
    re.X,
)
_INDEX_RE = lazy_compile(
    rf"""(?<![\w$])(?P<target>{_PATH})\s*\[\s*{_QNAME}\s*\]\s*(?:=(?![=>])|\|\|=|\?\?=)\s*\Z""",
    re.X,
)
_CTOR_RE = lazy_compile(
    r"""(?<![\w$])(?P<ctor>(?:[A-Za-z_$][\w$]*(?:\.|::))*
    (?:MultiFernet|Fernet|CredentialManager|AESGCM|AESCCM|AESSIV|AESOCB3|AESGCMSIV
      |X?ChaCha20Poly1305|SecretBox|Aes(?:128|256)Gcm(?:Siv)?|SecretKeySpec|AES\.new
      |hmac\.new|HMAC\.new|Hmac\w{0,20}(?:::<[\w:]{1,40}>)?(?=::new_from_slice)|HMAC(?:256|384|512)
      |cookieParser|setSigningKey|signWith
      |SignedString(?=\s*\(\s*\[\]byte)|SymmetricSecurityKey))
    (?:::new(?:_from_slice)?)?\s*\(\s*
    (?:(?:key|secret|secret_key)\s*[=:]\s*|\[\]byte\s*\(\s*
      |Encoding\.\w{1,20}\.GetBytes\s*\(\s*)?\Z
    |(?<![\w$])(?P<cipheriv>createCipheriv|createDecipheriv)\s*\(\s*
    (?:"[^"\r\n]{1,40}"|'[^'\r\n]{1,40}')\s*,\s*\Z""",
    re.X,
)
#: Calls whose second argument is the key: JWT libraries' sign/verify/encode/decode
#: (``jwt.sign(payload, "…")``, PyJWT, ruby-jwt), Node's ``createHmac("sha256", "…")``,
#: jjwt's ``signWith(SignatureAlgorithm.HS256, "…")``; the first argument a name, a
#: member path, a quoted string or a flat object literal.
_KEYED_SECOND_RE = lazy_compile(
    r"""(?<![\w$])(?P<call>(?:[A-Za-z_$][\w$]*\.)*(?:jwt|JWT|Jwt|jsonwebtoken)
      \.(?:sign|verify|encode|decode)|createHmac|signWith)\s*\(\s*
    (?:[A-Za-z_$][\w$.]{0,80}|"[^"\r\n]{1,80}"|'[^'\r\n]{1,80}'|\{[^{}]{0,160}\})\s*,\s*\Z""",
    re.X,
)
_DECODER = (
    r"(?:(?:[A-Za-z_$][\w$]*(?:\(\s*\)|::<[\w:, ]{1,60}>)?(?:\.|::))*"
    r"(?:b64decode|urlsafe_b64decode|standard_b64decode|b32decode|fromhex|unhexlify"
    r"|a2b_base64|a2b_hex|FromBase64String|FromHexString|DecodeString|decodeBase64"
    r"|decodeHex|parseHexBinary|base64_decode|hex2bin|atob|from_slice|from_hex|decode"
    r"|from|getBytes|GetBytes)|\[\]byte)"
)
_DECODER_RE = lazy_compile(
    rf"""(?<![\w$.])(?P<target>{_PATH})(?:[ \t]*,[ \t]*[A-Za-z_]\w{{0,20}})?[ \t]*
    (?::[ \t]*[^=\r\n]{{1,40}}?[ \t]*)?
    (?::=|=(?![=>]))\s*(?:await\s+|new\s+|&)?{_DECODER}\s*\(\s*\Z""",
    re.X,
)
_LIST_RE = lazy_compile(
    rf"""(?<![\w$.\-])(?P<q>["']?)(?P<name>{_PATH})(?P=q)[ \t]*
    (?::[ \t]*[\w\[\]<>.]{{1,40}}[ \t]*)?(?:=>|:=|=|:)\s*
    (?:new\s+[\w.<>]*\s*(?:\[\s*\])?\s*|(?:list|set|tuple|frozenset|Arrays\.asList|List\.of
    |Set\.of|listOf|setOf|arrayOf|array|vec!)\s*)?[\[({{]\s*\Z""",
    re.X,
)
_APPSETTING_RE = lazy_compile(
    r"""(?:key|name)\s*=\s*(?P<nq>["'])(?P<name>[^"'\r\n]{1,128})(?P=nq)\s+value\s*=\s*\Z"""
)
_XML_OPEN_RE = lazy_compile(r"<(?P<name>[A-Za-z_][\w.:\-]{0,127})(?:\s[^<>]{0,256})?>\s*\Z")
_TRIPLE_RE = lazy_compile(
    rf"""(?<![\w$.\-])(?P<q>["']?)(?P<name>{_PATH})(?P=q)[ \t]*(?:=|:)[ \t]*[bBrRuU]?
    (?:\"\"\"|''')[ \t]*\\?\r?\n\s*\Z""",
    re.X,
)
_HEREDOC_RE = lazy_compile(
    rf"""(?<![\w$.\-])(?P<q>["']?)(?P<name>{_PATH})(?P=q)[ \t]*(?:=|:)[ \t]*
    <<[-~]?[ \t]*(?P<tq>["']?)[A-Za-z_]\w*(?P=tq)[ \t]*\r?\n\s*\Z""",
    re.X,
)
_ASSIGN_RE = lazy_compile(
    rf"""(?<![\w$.\-@/])(?P<q>["']?)(?P<name>{_PATH})(?P=q)[ \t]*
    (?:=>|:=|==?|(?<!:):(?![:/]))\s*\Z""",
    re.X,
)
#: The name of a block, before its ``{``: ``variable "encryption_key" {``, ``key = {``,
#: JSON's ``"SECRET_KEY": {`` (Heroku's ``app.json``: ``{"value": "…"}`` under it).
_BLOCK_NAME_RE = lazy_compile(
    rf"""(?:(?P<nq>["'])(?P<qname>[^"'\\\r\n]{{1,128}})(?P=nq)|(?P<name>{_PATH}))
    [ \t]*(?:[=:][ \t]*)?\{{\Z""",
    re.X,
)
#: A bracket, or a one-line quoted string read whole (its brackets are not code's).
_BRACKET_RE = lazy_compile(
    rb"""[\[\](){}]|"(?:[^"\\\r\n]|\\.){0,4096}"|'(?:[^'\\\r\n]|\\.){0,4096}'"""
)
_CLOSES = {ord(")"): ord("("), ord("]"): ord("["), ord("}"): ord("{")}
#: A line that leaves its value to the next: ``name =``, ``= """``, ``<<EOF``, ``<tag>``.
_OPENER_LINE_RE = lazy_compile(
    rf"""[ \t]*(?P<q>["']?){_PATH}(?P=q)[ \t]*[=:][ \t]*\\?\r?
    |.*(?:"{{3}}|'{{3}})[ \t]*\\?\r?
    |.*<<[-~]?[ \t]*["']?[A-Za-z_]\w*["']?[ \t]*\r?
    |.*<[A-Za-z_][\w.:\-]*(?:\s[^<>]*)?>[ \t]*\r?""",
    re.X,
)

#: Calls whose first argument names a setting, whatever the receiver (PHP's ``define``
#: names a constant: ``define('AUTH_KEY', '…')`` in ``wp-config.php``).
_CONFIG_CALLS = frozenset(
    "env getenv get_env setenv putenv env_var envvar getproperty setproperty setdefault"
    " getordefault config setting get_setting getenvordefault define".split()
)
#: Calls that read a setting when the receiver is an environment or a configuration.
_CONFIG_GETTERS = frozenset("get fetch pop get_or getvalue getstring lookup str int".split())
_CONFIG_RECEIVERS = frozenset(
    "environ env os config settings properties props conf cfg configuration process"
    " dotenv system".split()
)
#: Calls that set a setting when the receiver is a configuration (or an application's
#: settings: Express ``app.set("secretKey", …)``, Laravel ``Config::set('app.key', …)``,
#: configparser ``config.set("section", "secret_key", …)``); ``setattr(settings, "NAME",
#: …)`` and PHP's ``ini_set``. The name is the quoted argument just before the value.
_CONFIG_SETTERS = frozenset("set put setvalue setstring set_option setattr ini_set".split())
_SETTER_RECEIVERS = _CONFIG_RECEIVERS | frozenset(("app", "application", "parser"))
_ARG = r"""(?:"[^"\\\r\n]{1,128}"|'[^'\\\r\n]{1,128}'|[A-Za-z_$][\w$.]{0,128})"""
_SETTER_RE = lazy_compile(
    rf"""(?<![\w$.])(?P<callee>{_PATH})\s*\(\s*(?:(?P<first>{_ARG})\s*,\s*)?{_QNAME}\s*,\s*\Z""",
    re.X,
)
#: Names that say nothing of the value: the enclosing block names it.
_GENERIC_NAMES = frozenset("default value val fallback defaultvalue defval initial".split())


def _is_config_call(callee: str) -> bool:
    parts = [p for p in re.split(r"\.|::|->", callee.lower()) if p]
    if not parts:
        return False
    last = parts[-1]
    if last in _CONFIG_CALLS:
        return True
    return (
        last in _CONFIG_GETTERS and len(parts) > 1 and parts[-2].lstrip("$") in (_CONFIG_RECEIVERS)
    )


def _is_config_setter(callee: str, first: str | None) -> bool:
    parts = [p for p in re.split(r"\.|::|->", callee.lower()) if p]
    if not parts or parts[-1] not in _CONFIG_SETTERS:
        return False
    if parts[-1] == "setattr":  # ``setattr(settings, "SECRET_KEY", …)``
        target = (first or "").lower().rsplit(".", 1)[-1]
        return target in _SETTER_RECEIVERS
    if parts[-1] == "ini_set":
        return first is None
    return len(parts) > 1 and parts[-2].lstrip("$") in _SETTER_RECEIVERS


def _generic(name: str) -> bool:
    return name.replace("_", "").lower() in _GENERIC_NAMES


class _Brackets:
    """Open brackets before a position, from one forward pass (each bracket read once).

    Quoted strings on one line are skipped whole; a closer closes the innermost open
    bracket of its kind (and any left open inside it), a stray one nothing. Comments are
    not told apart (``#`` and ``//`` also start URLs and selectors)."""

    __slots__ = ("_at", "_data", "_kinds", "_stack")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0
        self._stack: list[tuple[int, int]] = []  # (offset, opening byte)
        self._kinds = dict.fromkeys(b"[({", 0)  # how many of each opener the stack holds

    def innermost(self, pos: int, openers: bytes = b"[({") -> int:
        """Offset of the innermost bracket open at ``pos`` (one of ``openers``), or -1."""
        if pos > self._at:
            stack = self._stack
            kinds = self._kinds
            for m in _BRACKET_RE.finditer(self._data, self._at, pos):
                c = self._data[m.start()]
                if c in b"[({":
                    stack.append((m.start(), c))
                    kinds[c] += 1
                    if len(stack) > _MAX_DEPTH:
                        kinds[stack.pop(0)[1]] -= 1
                    continue
                opener = _CLOSES.get(c)
                if opener is None or not kinds[opener]:
                    continue  # a string (skipped whole), or a stray closer: closes nothing
                # Close the innermost bracket of the closer's kind (and any left open in
                # it): each entry is removed once, so the work stays linear.
                while True:
                    _, top = stack.pop()
                    kinds[top] -= 1
                    if top == opener:
                        break
            self._at = pos
        elif pos < self._at:
            return -1  # asked out of order: no answer rather than a wrong one
        if not self._stack:
            return -1
        offset, c = self._stack[-1]
        if c not in openers or pos - offset > _BLOCK_REACH:
            return -1
        return offset


def _window(data: bytes, lo: int, hi: int) -> str:
    return data[max(lo, hi - _WINDOW) : hi].decode("utf-8", errors="replace")


def _word_before(text: str, end: int) -> tuple[str, int]:
    """The identifier ending at ``end`` (blanks skipped) and where it starts."""
    j = end
    while j > 0 and text[j - 1] in " \t\r\n":
        j -= 1
    k = j
    while k > 0 and (text[k - 1].isalnum() or text[k - 1] in "_$!"):
        k -= 1
    return text[k:j], k


#: Words before ``[``/``(`` that make a list: an assignment's separator or a constructor.
_LIST_CALLS = frozenset(
    "list set tuple frozenset aslist of listof setof arrayof array vec!".split()
)
_CTOR_WORDS = (
    "fernet",
    "credentialmanager",
    "aes",
    "chacha20",
    "secretbox",
    "secretkeyspec",
    "hmac",
    "cookieparser",
    "setsigningkey",
    "signwith",
    "signedstring",
    "symmetricsecuritykey",
)
_SECOND_WORDS = ("jwt", "jsonwebtoken", "createhmac", "signwith")
_DECODER_WORDS = ("decode", "fromhex", "unhexlify", "a2b_", "from", "byte", "atob", "hex2bin")


def _list_head(text: str) -> str | None:
    """The name of the list (or tuple, array) whose bracket ends ``text``."""
    word, k = _word_before(text, len(text) - 1)
    before = text[:k].rstrip()[-1:]
    if word and word.lower() not in _LIST_CALLS and before != "]":
        return None  # a call's bracket (``compute(``), not a list's
    if not word and text[:k].rstrip()[-1:] not in ("=", ":", ">", "["):
        return None
    found = _LIST_RE.search(text)
    return found.group("name") if found is not None else None


def _head(data: bytes, pos: int) -> tuple[str, str, bool] | None:
    """(kind, name, keyed) of the code that gives the value at ``pos`` its meaning.

    Dispatched on the last character before the value, and each pattern is tried only
    when a cheap test of the text before it allows (a search anchored at the end tries
    every start: kept for the few values that can match)."""
    text = _window(data, 0, pos)
    tail = text.rstrip()
    last = tail[-1:]
    short = text[-_SHORT:]  # every head but a call's fits in this; less to search
    low = short.lower()
    found: re.Match[str] | None
    if last in ",=:(":
        paren = text.rfind("(")
        word, k = _word_before(text, paren) if paren >= 0 else ("", 0)
        word = word.lower()
        if word in _CONFIG_CALLS or word in _CONFIG_GETTERS:
            found = _CALL_RE.search(text, max(0, k - _SHORT))
            if found is not None:
                kw = found.group("kw")
                if _is_config_call(found.group("callee")) and (kw is None or _generic(kw)):
                    return "call", found.group("name"), False
                if kw is None:
                    return None  # another call's argument: not a setting
        if word in _CONFIG_SETTERS and last == ",":
            found = _SETTER_RE.search(text, max(0, k - _SHORT))
            if found is not None and _is_config_setter(found.group("callee"), found.group("first")):
                return "call", found.group("name"), False
    if last == ",":
        if "cipheriv" in low:
            found = _CTOR_RE.search(short)
            return ("ctor", found.group("cipheriv") + "()", True) if found is not None else None
        if any(w in low for w in _SECOND_WORDS):
            found = _KEYED_SECOND_RE.search(short)
            return ("ctor", found.group("call") + "()", True) if found is not None else None
        return None
    if tail.endswith(("||", "??", " or", "?:")):
        found = _FALLBACK_RE.search(short)
        gcallee = found.group("gcallee") if found is not None else None
        if found is not None and (gcallee is None or _is_config_call(gcallee)):
            name = found.group("attr") or found.group("name") or found.group("gname")
            return "fallback", name, False
    if last == "=":
        stem = tail[:-1].rstrip()
        if stem.endswith(("||", "??")):  # ``ENV['NAME'] ||= "…"``
            stem = stem[:-2].rstrip()
        if stem.endswith("]"):
            found = _INDEX_RE.search(short)
            if found is not None:
                return "index", found.group("name"), False
        if "value" in low:
            found = _APPSETTING_RE.search(short)
            if found is not None:
                return "setting", found.group("name"), False
    if last in "=(" and any(w in low for w in _CTOR_WORDS):
        found = _CTOR_RE.search(short)
        if found is not None and found.group("ctor"):
            return "ctor", found.group("ctor") + "()", True
    if last == "(" and any(w in low for w in _DECODER_WORDS) and "=" in short:
        found = _DECODER_RE.search(short)
        if found is not None:
            return "decoder", found.group("target"), False
    if last in "[({":
        name = _list_head(tail)
        return ("list", name, False) if name is not None else None
    if last == ">":
        found = _XML_OPEN_RE.search(text)
        return ("xml", found.group("name"), False) if found is not None else None
    if '"""' in short or "'''" in short:
        found = _TRIPLE_RE.search(short)
        if found is not None:
            return "string", found.group("name"), False
    if "<<" in short:
        found = _HEREDOC_RE.search(short)
        if found is not None:
            return "heredoc", found.group("name"), False
    if last in "=:>":
        found = _ASSIGN_RE.search(short)
        if found is not None:
            return "assign", found.group("name"), False
    return None


def _block_name(data: bytes, opener: int) -> str | None:
    m = _BLOCK_NAME_RE.search(_window(data, 0, opener + 1)[-_SHORT:])
    if m is None:
        return None
    return m.group("qname") or m.group("name")


def _resolve(data: bytes, pos: int, brackets: _Brackets) -> tuple[str, bool] | None:
    """(name, keyed) for a key-shaped value at ``pos``, or ``None`` when nothing names it."""
    head = _head(data, pos)
    if head is None and data[max(0, pos - _WINDOW) : pos].rstrip()[-1:] not in b",[({":
        return None  # neither named nor an item: nothing says what it is
    if head is not None:
        kind, name, keyed = head
        if not _generic(name):
            return name, keyed
        # ``default = "…"`` inside ``variable "encryption_key" { … }``: the block's name.
        opener = brackets.innermost(pos, b"{")
        if opener < 0:
            return None
        block = _block_name(data, opener)
        return (block, False) if block is not None and not _generic(block) else None
    # An item of a list or an argument list: the name in front of the bracket.
    opener = brackets.innermost(pos)
    if opener < 0:
        return None
    item_of = _list_head(_window(data, 0, opener + 1)[-_SHORT:])
    return (item_of, False) if item_of is not None else None


def _opens_value(data: bytes, line_start: int, named: bool) -> bool:
    """The line before ``line_start`` leaves a value to the next line (``name =``,
    a triple quote, ``<<EOF``, ``<tag>``): only then is a bare line a value of its own.
    ``named``: that line holds a key-ish word (a heredoc's may be further out)."""
    if line_start < 2:
        return False
    lo = max(0, line_start - 1 - _WINDOW)
    prev_start = data.rfind(b"\n", lo, line_start - 1) + 1
    if prev_start == 0 and lo > 0:
        return False  # a line longer than the window opens nothing
    if not named and data.find(b"<<", prev_start, line_start) < 0:
        return False
    prev = data[prev_start : line_start - 1].decode("utf-8", errors="replace")
    return _OPENER_LINE_RE.fullmatch(prev) is not None


class _Words:
    """Where the key-ish ``words`` occur in ``low`` (lower-cased bytes), found lazily.

    :meth:`any_in` is asked with non-decreasing ``lo``. Per word it keeps the next
    occurrence found, or how far the text is known to hold none, and searches again only
    past that, at most :data:`_LOOKAHEAD` bytes beyond the question: the searches of one
    word read the text about once, and a word the file lacks is not searched to its end
    for the first line that asks.
    """

    def __init__(self, low: bytes, words: tuple[bytes, ...]) -> None:
        self._low = low
        self._words = words
        self._at = [-1] * len(words)  # next occurrence found (valid while >= lo)
        self._clear = [0] * len(words)  # no occurrence starts before this, from lo on
        self._lo = 0

    def any_in(self, lo: int, hi: int) -> bool:
        """A word starts in ``[lo, hi)`` (``lo`` never below the previous call's)."""
        lo = max(lo, self._lo)
        self._lo = lo
        low = self._low
        found = self._at
        clear = self._clear
        for i, word in enumerate(self._words):
            at = found[i]
            if at < lo:
                since = max(lo, clear[i])
                if since >= hi:
                    continue
                end = min(len(low), hi + _LOOKAHEAD + len(word) - 1)
                at = low.find(word, since, end)
                if at < 0:
                    found[i] = -1
                    clear[i] = end - len(word) + 1
                    continue
                found[i] = clear[i] = at
            if at < hi:
                return True
        return False

    def on_line_before(self, data: bytes, start: int) -> bool:
        """A word is on the line before the one starting at ``start`` (searched directly:
        only bare-token lines ask)."""
        prev = data.rfind(b"\n", 0, max(0, start - 1)) + 1
        return any(self._low.find(word, prev, start) >= 0 for word in self._words)


def read_code(
    data: bytes,
    lines: Iterable[tuple[int, int, int]],
    judge: Callable[[str, bool], bool],
    words: tuple[bytes, ...],
    *,
    spaced: bool = False,
) -> Iterator[Candidate]:
    """Key-shaped values in ``data`` named by the code around them.

    ``lines`` are (0-based index, start, end offset) of the lines that can hold a key,
    in order; ``judge(value, literal)`` says whether a value would be key material in
    key context (``literal``: single-quoted, so ``$`` and backticks are its own);
    ``words`` are the lower-case words a key's name or constructor holds (``key``,
    ``secret``, ``fernet``…). A line is read only when such a word comes at
    most a block's reach before its end, and a value is named only when it is judged
    key material: only then is the code around it read. Candidates carry the name the
    code gives (``keyed`` for a key constructor's argument). ``spaced``: quoted strings
    with single blanks are values too (PHP, see ``_SPACED_VALUE_RE``).
    """
    low = data.lower()
    if not any(word in low for word in words):
        return
    near = _Words(low, words)
    values = _SPACED_VALUE_RE if spaced else _VALUE_RE
    brackets = _Brackets(data)
    verdicts: dict[tuple[str, bool], bool] = {}  # a minified bundle repeats its strings
    line: list[int] | None = None  # [line start, comment column, counted to, its column]
    for idx, start, end in lines:
        bare = _BARE_RE.match(data, start, end)
        near_word: bool | None = None  # asked once per line, and only of one with a value
        for m in (bare,) if bare is not None else _value_matches(data, start, end, values):
            if near_word is None:
                near_word = near.any_in(start - _BLOCK_REACH, end)
            if not near_word:
                break  # no key-ish word shortly before: nothing here can be named a key
            group = m.lastgroup or "b"
            vs, ve = m.span(group)
            if group == "b" and not _opens_value(data, start, near.on_line_before(data, start)):
                continue
            try:
                value = data[vs:ve].decode("ascii")
            except UnicodeDecodeError:
                continue
            quote = _QUOTES.get(group, "")
            asked = (value, quote == "'")
            verdict = verdicts.get(asked)
            if verdict is None:
                if len(verdicts) >= _VERDICTS_MAX:
                    verdicts.clear()
                verdict = verdicts[asked] = judge(*asked)
            if not verdict:
                continue
            pos = m.start() if quote else vs
            if quote:
                p = _PREFIX_RE.search(data, max(start, pos - 2), pos)
                if p is not None:
                    pos = p.start()
            found = _resolve(data, pos, brackets)
            if found is None:
                # A reference names its own default (``@Value("${jwt.secret:…}")``).
                ref = reference_default(value) if value[:2] == "${" else None
                if ref is None:
                    continue
                found = (ref[0], False)
            name, keyed = found
            if not keyed and not is_key_name(name):
                continue  # named, but not a key's name: nothing more to judge
            if line is None or line[0] != start:
                # Once per line: a long line holding many values is not decoded per value.
                text = data[start:end].decode("utf-8", errors="replace")
                cm = comment_start(text, markup=True)
                line = [start, cm if cm >= 0 else len(text), start, 1]
            # Columns in code points, counted on from the previous value of the line.
            line[3] += len(data[line[2] : vs].decode("utf-8", errors="replace"))
            line[2] = vs
            col = line[3]
            comment = line[1] < col - 1
            yield Candidate(
                name,
                value,
                idx + 1,
                col,
                quote,
                comment,
                keyed=keyed,
            )
