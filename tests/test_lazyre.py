"""importobot._lazyre: a pattern compiles on first use and then behaves as re.compile's."""

from __future__ import annotations

import re

import pytest

from importobot._lazyre import _METHODS, _LazyPattern, lazy_compile


def test_nothing_compiles_before_first_use() -> None:
    pattern = lazy_compile(r"(unbalanced")  # an invalid pattern only fails when used
    assert isinstance(pattern, _LazyPattern)
    assert repr(pattern) == "lazy_compile('(unbalanced')"
    with pytest.raises(re.error):
        pattern.search("x")


def test_first_use_binds_the_compiled_methods() -> None:
    pattern = lazy_compile(r"a(b)")
    assert not set(_METHODS) & set(vars(pattern))
    assert pattern.search("xab") is not None
    assert set(_METHODS) <= set(vars(pattern))
    # Later calls go straight to the compiled pattern's bound methods.
    compiled = re.compile(r"a(b)")
    assert vars(pattern)["search"].__self__ == compiled


@pytest.mark.parametrize("flags", [0, re.IGNORECASE, re.MULTILINE | re.DOTALL])
def test_same_results_as_re_compile(flags: int) -> None:
    source = r"^(?P<name>[a-z]+)=(\d+)$"
    text = "a=1\nB=2\nccc=33\n"
    lazy, real = lazy_compile(source, flags), re.compile(source, flags)
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in real.finditer(text)]
    assert lazy.findall(text) == real.findall(text)
    assert lazy.sub(r"\2", text) == real.sub(r"\2", text)
    assert lazy.subn("-", text) == real.subn("-", text)
    assert lazy.split(text) == real.split(text)
    assert bool(lazy.match(text)) == bool(real.match(text))
    assert bool(lazy.fullmatch("a=1")) == bool(real.fullmatch("a=1"))
    assert (lazy.pattern, lazy.flags, lazy.groups) == (real.pattern, real.flags, real.groups)
    assert lazy.groupindex == real.groupindex


def test_bytes_patterns() -> None:
    pattern = lazy_compile(rb"gAAAA[A-Za-z0-9_-]+")
    assert pattern.findall(b"x gAAAAbc y") == [b"gAAAAbc"]


def test_unlisted_attributes_still_reach_the_compiled_pattern() -> None:
    pattern = lazy_compile(r"a+")
    scanner = pattern.scanner("aaa")  # not one of the bound methods
    assert scanner.match().group() == "aaa"


def test_dunder_lookups_do_not_compile() -> None:
    # copy/pickle probe for __deepcopy__, __getstate__, ...: they must not trigger a compile.
    pattern = lazy_compile(r"(unbalanced")
    with pytest.raises(AttributeError):
        pattern.__deepcopy__  # noqa: B018
    assert not set(_METHODS) & set(vars(pattern))
