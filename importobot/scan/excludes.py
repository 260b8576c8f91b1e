"""Exclude globs, compiled once: a path is looked up in an index, not tried on every glob.

The answer is exactly the engine's per-glob test (``_excluded``): a path ``rel`` (as
shown, ``/``-separated) is excluded when, for some glob ``g``,

- ``fnmatchcase(rel, g)`` (``*`` matches ``/`` too, as in :mod:`fnmatch`), or
- ``fnmatchcase(rel, g.rstrip("/") + "/*")`` (a directory glob excludes what is under it), or
- ``g`` holds no ``/`` and ``fnmatchcase(basename(rel), g)``.

Trying every glob on every path (with :mod:`fnmatch`'s cache of 32,768 patterns
thrashing) made 40,000 globs cost seconds per file. Here each pattern is split once,
as :func:`fnmatch.translate` reads it, into literal runs, ``*``, ``?`` and ``[…]``
sets, and filed under its literal prefix and suffix and its longest other literal run:
text the path must hold for the pattern to match. A path looks up only the entries its
own prefixes, suffixes and substrings name. Patterns of literals and ``*`` are then
checked directly; the others by a regular expression from :func:`fnmatch.translate`
(so sets keep their exact meaning), compiled on first use.
"""

from __future__ import annotations

import re
from fnmatch import translate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ExcludeMatcher", "compile_excludes"]

#: With at most this many distinct required words, test each with ``in``; above it,
#: look the path's substrings up by length.
_SCAN_MAX = 32

# Token kinds.
_LIT, _STAR, _ONE = 0, 1, 2


def _tokens(glob: str) -> list[tuple[int, str]]:
    """``glob`` as :func:`fnmatch.translate` reads it: literal runs, ``*``, and single
    characters (``?`` or a ``[…]`` set, both ``_ONE``). An unclosed ``[`` is literal."""
    out: list[tuple[int, str]] = []
    lit: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        i += 1
        if c == "*" or c == "?":
            kind = _STAR if c == "*" else _ONE
        elif c == "[":
            j = i
            if j < n and glob[j] == "!":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:
                lit.append("[")
                continue
            i = j + 1
            kind = _ONE
        else:
            lit.append(c)
            continue
        if lit:
            out.append((_LIT, "".join(lit)))
            lit = []
        out.append((kind, ""))
    if lit:
        out.append((_LIT, "".join(lit)))
    return out


def _star_match(text: str, parts: tuple[str, ...]) -> bool:
    """``text`` matches ``parts[0]*parts[1]*…*parts[-1]`` (two parts at least)."""
    first, last = parts[0], parts[-1]
    if len(text) < len(first) + len(last):
        return False
    if not text.startswith(first) or not text.endswith(last):
        return False
    pos = len(first)
    stop = len(text) - len(last)
    for middle in parts[1:-1]:
        if middle:
            at = text.find(middle, pos, stop)
            if at < 0:
                return False
            pos = at + len(middle)
    return True


class _Entries:
    """Patterns that all need one word in the path: star patterns and regex sources."""

    __slots__ = ("_regex", "_sources", "stars")

    def __init__(self) -> None:
        self.stars: list[tuple[str, ...]] = []
        self._sources: list[str] = []
        self._regex: re.Pattern[str] | list[re.Pattern[str]] | None = None

    def add_regex(self, glob: str) -> None:
        self._sources.append(glob)
        self._regex = None

    def match(self, text: str) -> bool:
        for parts in self.stars:
            if _star_match(text, parts):
                return True
        if not self._sources:
            return False
        if self._regex is None:
            sources = [translate(g) for g in self._sources]
            try:
                self._regex = re.compile("|".join(f"(?:{s})" for s in sources))
            except re.error:  # pragma: no cover - translations that cannot be joined
                self._regex = [re.compile(s) for s in sources]
        if isinstance(self._regex, list):
            return any(r.match(text) for r in self._regex)
        return self._regex.match(text) is not None


class _ByWord:
    """Entries keyed by a word the path must contain (``""``: no word needed)."""

    __slots__ = ("_by_length", "_lengths", "words")

    def __init__(self) -> None:
        self.words: dict[str, _Entries] = {}
        self._by_length: dict[int, dict[str, _Entries]] | None = None
        self._lengths: list[int] = []

    def entries(self, word: str) -> _Entries:
        found = self.words.get(word)
        if found is None:
            found = self.words[word] = _Entries()
            self._by_length = None
        return found

    def match(self, text: str) -> bool:
        always = self.words.get("")
        if always is not None and always.match(text):
            return True
        if len(self.words) <= _SCAN_MAX:
            return any(w in text and e.match(text) for w, e in self.words.items() if w)
        if self._by_length is None:
            self._by_length = {}
            for word, entries in self.words.items():
                if word:
                    self._by_length.setdefault(len(word), {})[word] = entries
            self._lengths = sorted(self._by_length)
        n = len(text)
        seen: set[str] = set()
        for size in self._lengths:
            if size > n:
                break
            table = self._by_length[size]
            for i in range(n - size + 1):
                piece = text[i : i + size]
                hit = table.get(piece)
                if hit is not None and piece not in seen:
                    seen.add(piece)
                    if hit.match(text):
                        return True
        return False


class _Suffixes:
    """The entries under one literal prefix, by literal suffix."""

    __slots__ = ("lengths", "table")

    def __init__(self) -> None:
        self.table: dict[str, _ByWord] = {}
        self.lengths: list[int] = []

    def by_word(self, suffix: str) -> _ByWord:
        found = self.table.get(suffix)
        if found is None:
            found = self.table[suffix] = _ByWord()
            self.lengths = sorted({*self.lengths, len(suffix)})
        return found

    def match(self, text: str) -> bool:
        n = len(text)
        for size in self.lengths:
            if size > n:
                break
            by_word = self.table.get(text[n - size :])
            if by_word is not None and by_word.match(text):
                return True
        return False


class _GlobSet:
    """Does any of a set of :mod:`fnmatch` globs match a whole string?"""

    __slots__ = ("_literals", "_prefix_lengths", "_tree")

    def __init__(self, globs: Iterable[str]) -> None:
        self._literals: set[str] = set()
        self._tree: dict[str, _Suffixes] = {}  # literal prefix → suffix → required word
        for glob in globs:
            self._add(glob)
        self._prefix_lengths = sorted({len(p) for p in self._tree})

    def _add(self, glob: str) -> None:
        if "[" not in glob and "?" not in glob:
            if "*" not in glob:
                self._literals.add(glob)
                return
            parts = tuple(glob.split("*"))  # literals and stars: no need to tokenize
            word = max(parts[1:-1], key=len, default="")
            self._entries(parts[0], parts[-1], word).stars.append(parts)
            return
        tokens = _tokens(glob)
        if all(kind == _LIT for kind, _ in tokens):
            self._literals.add(glob)  # only unclosed ``[``: literal
            return
        prefix = tokens[0][1] if tokens[0][0] == _LIT else ""
        suffix = tokens[-1][1] if tokens[-1][0] == _LIT else ""
        inner = tokens[1 if prefix else 0 : len(tokens) - 1 if suffix else len(tokens)]
        word = max((text for kind, text in inner if kind == _LIT), key=len, default="")
        entries = self._entries(prefix, suffix, word)
        if all(kind != _ONE for kind, _ in tokens):
            entries.stars.append(tuple(glob.split("*")))
        else:
            entries.add_regex(glob)

    def _entries(self, prefix: str, suffix: str, word: str) -> _Entries:
        return self._tree.setdefault(prefix, _Suffixes()).by_word(suffix).entries(word)

    def match(self, text: str) -> bool:
        if text in self._literals:
            return True
        n = len(text)
        for size in self._prefix_lengths:
            if size > n:
                break
            suffixes = self._tree.get(text[:size])
            if suffixes is not None and suffixes.match(text):
                return True
        return False


# Not a record: compiled matching state behind a method, not a value.
class ExcludeMatcher:
    """The configured ``exclude`` globs, compiled once (see the module docstring)."""

    __slots__ = ("_base", "_full", "empty")

    def __init__(self, globs: Iterable[str]) -> None:
        globs = list(globs)
        self.empty = not globs
        full: list[str] = []
        for g in globs:
            full.append(g)
            full.append(g.rstrip("/") + "/*")
        self._full = _GlobSet(full)
        self._base = _GlobSet(g for g in globs if "/" not in g)

    def excluded(self, path: str) -> bool:
        """True when ``path`` (root-relative, ``/``-separated) is excluded."""
        if self.empty:
            return False
        return self._full.match(path) or self._base.match(path.rsplit("/", 1)[-1])

    __call__ = excluded


def compile_excludes(globs: Iterable[str]) -> ExcludeMatcher:
    """A matcher answering as the engine's ``_excluded(rel, globs)`` does, for every ``rel``."""
    return ExcludeMatcher(globs)
