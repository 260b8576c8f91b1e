"""Durations, age verdicts with a fixed clock, and the registry file (D19)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest

from importobot._version import DOCS_URL
from importobot.exceptions import ConfigError
from importobot.keys.age import AgePolicy, judge_age, parse_duration, parse_timestamp
from importobot.keys.fingerprint import fingerprint
from importobot.keys.registry import Registry
from tests.keygen import contains_key, new_raw

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12w", timedelta(weeks=12)),
        ("36h", timedelta(hours=36)),
        (" 7d ", timedelta(days=7)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("3m", "ambiguous"),
        ("2mo", "months"),
        ("1y", "years"),
        ("90", "no unit"),
        ("0d", "more than zero"),
        ("1.5d", "whole number"),
        ("-3d", "whole number"),
        ("d", "whole number"),
    ],
)
def test_ambiguous_or_bad_durations(text, why):
    with pytest.raises(ValueError, match=why):
        parse_duration(text)


@pytest.mark.parametrize(
    ("age_days", "state"),
    [(10, "ok"), (74, "ok"), (75, "warn"), (89, "warn"), (90, "due"), (100, "due")],
)
def test_verdicts_with_a_fixed_clock(age_days, state):
    policy = AgePolicy(parse_duration("90d"), parse_duration("75d"))
    verdict = judge_age(NOW - timedelta(days=age_days), policy, NOW)
    assert verdict.state == state
    assert verdict.due == NOW - timedelta(days=age_days) + timedelta(days=90)


def test_warn_longer_than_max_is_refused():
    with pytest.raises(ValueError, match="longer than the max"):
        AgePolicy(timedelta(days=30), timedelta(days=40))


def test_timestamps_need_an_offset():
    assert parse_timestamp("2026-01-02") == datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert parse_timestamp("2026-01-02T03:04:05+02:00") == datetime(
        2026, 1, 2, 1, 4, 5, tzinfo=timezone.utc
    )
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_timestamp("2026-01-02T03:04:05")


def _fp() -> str:
    return fingerprint(new_raw())


def test_round_trip_sorted_and_stable(tmp_path):
    path = tmp_path / ".importobot-keys.toml"
    reg = Registry(str(path))
    fps = [_fp() for _ in range(3)]
    for n, fp in enumerate(fps):
        assert reg.register(fp, NOW - timedelta(days=10 * (n + 1)), note=f"key {n}")
    reg.retire(fps[2], NOW - timedelta(days=1))
    reg.save()
    text = path.read_text()
    back = Registry.load(str(path), now=NOW)
    assert back.records == reg.records
    assert back.dumps() == text  # stable: writing again changes nothing
    order = [line.split('"')[1] for line in text.splitlines() if line.startswith("fingerprint")]
    assert order == sorted(fps)
    assert not reg.register(fps[0], reg.get(fps[0]).created)


BAD = [
    (
        '[[key]]\nfingerprint = "iobfp1:0123456789abcdef"\ncreated = 2026-01-01T00:00:00Z\n'
        'colour = "red"\n',
        4,
        "unknown field",
    ),
    ('[[key]]\nfingerprint = "abc"\ncreated = 2026-01-01T00:00:00Z\n', 2, "iobfp1"),
    (
        '[[key]]\nfingerprint = "iobfp1:0123456789abcdef"\ncreated = 2027-06-01T00:00:00Z\n',
        3,
        "future",
    ),
    (
        '[[key]]\nfingerprint = "iobfp1:0123456789abcdef"\ncreated = 2026-05-01T00:00:00Z\n'
        "retired = 2026-04-01T00:00:00Z\n",
        4,
        "before",
    ),
    ('[[key]]\nfingerprint = "iobfp1:0123456789abcdef"\ncreated = "last tuesday"\n', 3, "RFC 3339"),
    (
        '[[key]]\nfingerprint = "iobfp1:0123456789abcdef"\ncreated = 2026-05-01T00:00:00\n',
        3,
        "offset",
    ),
    ('[[key]]\nfingerprint = "iobfp1:0123456789abcdef"\n', 1, "no `created`"),
    (
        '[[key]]\nfingerprint = "iobfp1:0123456789abcdef"\ncreated = 2026-01-01T00:00:00Z\n'
        '[[key]]\nfingerprint = "iobfp1:0123456789abcdef"\ncreated = 2026-02-01T00:00:00Z\n',
        4,
        "twice",
    ),
    ("[[key]\n", None, "invalid TOML"),
    ('color = "red"\n', 1, "unknown entry"),
]


@pytest.mark.parametrize(("text", "line", "why"), BAD)
def test_bad_registries_name_file_line_and_problem(tmp_path, text, line, why):
    path = tmp_path / "reg.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=why) as info:
        Registry.load(str(path), now=NOW)
    if line is not None:
        assert f"{path}:{line}:" in str(info.value)


def test_a_registry_holding_a_key_is_refused(tmp_path):
    raw = new_raw()
    path = tmp_path / "reg.toml"
    path.write_text(
        f'[[key]]\nfingerprint = "{fingerprint(raw)}"\ncreated = 2026-01-01T00:00:00Z\n'
        f'note = "{base64.b64encode(raw).decode()}"\n'
    )
    with pytest.raises(ConfigError, match="key-shaped") as info:
        Registry.load(str(path), now=NOW)
    assert base64.b64encode(raw).decode() not in str(info.value)
    # A long readable note is fine.
    path.write_text(
        f'[[key]]\nfingerprint = "{fingerprint(raw)}"\ncreated = 2026-01-01T00:00:00Z\n'
        f'note = "production-payments-service-primary-key-for-eu"\n'
    )
    assert Registry.load(str(path), now=NOW).get(fingerprint(raw)) is not None


def test_a_retired_key_may_have_no_created_date(tmp_path):
    """A key never registered while active is recorded at retirement, creation unknown."""
    fp = fingerprint(new_raw())
    path = tmp_path / "reg.toml"
    reg = Registry(str(path))
    reg.add_retired(fp, NOW - timedelta(days=1), "created date unknown")
    reg.save()
    text = path.read_text()
    assert "created =" not in text and "retired = " in text
    assert f"{DOCS_URL}/registry.md" in text and "docs/registry.md" not in text.replace(
        DOCS_URL, ""
    )
    loaded = Registry.load(str(path), now=NOW)
    record = loaded.get(fp)
    assert record is not None and record.created is None and record.note == "created date unknown"
    assert record.to_dict()["created"] is None and "created=None" in repr(record)
    assert loaded.dumps() == reg.dumps()
    with pytest.raises(ConfigError, match="already registered"):
        loaded.add_retired(fp, NOW, "again")
    with pytest.raises(ConfigError, match=r"already registered \(retired\)"):
        loaded.register(fp, NOW - timedelta(days=3))
    loaded.retire(fp, NOW)  # no created date to be before
    with pytest.raises(ConfigError, match="fingerprint"):
        loaded.add_retired("iobfp1:nothex", NOW, "x")
    # Only a retired key may leave `created` out (an active key's age must be known).
    path.write_text(f'[[key]]\nfingerprint = "{fp}"\nnote = "x"\n')
    with pytest.raises(ConfigError, match="only a retired or compromised key may leave it out"):
        Registry.load(str(path), now=NOW)


# -- errors never echo a value in the wrong place (issue 17, item 4) -------------------


def _registry_errors(raw: bytes) -> dict[str, str]:
    """Registry texts whose error would echo ``raw`` (a key) if it echoed the value."""
    b64 = base64.b64encode(raw).decode()
    hex_name = "k" + raw.hex()  # a hex key behind a letter: a "name"
    head = '[[key]]\nfingerprint = "iobfp1:0123456789abcdef"\n'
    dated = head + "created = 2026-01-01T00:00:00Z\n"
    return {
        "date holding a key behind a letter": head + f'created = "{hex_name}"\n',
        "date holding a key split by a line-ending backslash": (
            head + f'created = """{b64[:22]}\\\n    {b64[22:]}"""\n'
        ),
        "date holding a key split over lines": head + f'created = """{b64[:22]}\n{b64[22:]}"""\n',
        "field named by a key": dated + f"{hex_name} = 1\n",
        "entry named by a key": f"{hex_name} = 1\n",
        "retired date holding a key": dated + f'retired = "{b64}"\n',
        "version holding a split key": f'version = """{b64[:22]}\\\n    {b64[22:]}"""\n',
    }


@pytest.mark.parametrize("case", sorted(_registry_errors(b"\0" * 32)))
def test_registry_errors_never_echo_a_key(tmp_path, case):
    raw = new_raw()
    path = tmp_path / "reg.toml"
    path.write_text(_registry_errors(raw)[case])
    with pytest.raises(ConfigError) as info:
        Registry.load(str(path), now=NOW)
    message = str(info.value)
    assert not contains_key(message, raw), message
    assert raw.hex() not in message and base64.b64encode(raw).decode()[:22] not in message
    assert "key-shaped" in message
    assert message.startswith(f"{path}:")


def test_fingerprint_arguments_are_not_echoed_when_key_shaped(tmp_path):
    raw = new_raw()
    reg = Registry(str(tmp_path / "reg.toml"))
    for bad in (base64.urlsafe_b64encode(raw).decode(), "k" + raw.hex()):
        with pytest.raises(ConfigError) as info:
            reg.register(bad, NOW)
        assert not contains_key(str(info.value), raw) and raw.hex() not in str(info.value)
        assert "key-shaped value iobfp1:" in str(info.value)
        for call in (reg.retire, reg.mark_compromised):
            with pytest.raises(ConfigError) as info:
                call(bad, NOW)
            assert not contains_key(str(info.value), raw) and raw.hex() not in str(info.value)
        with pytest.raises(ConfigError) as info:
            reg.add_retired(bad, NOW, "note")
        assert not contains_key(str(info.value), raw) and raw.hex() not in str(info.value)
    # An ordinary mistake is still shown, to be fixed.
    with pytest.raises(ConfigError, match="'iobfp1:xyz'"):
        reg.register("iobfp1:xyz", NOW)


@pytest.mark.parametrize("kind", ["link-to-dev-zero", "fifo", "directory", "not-utf8"])
def test_a_registry_that_is_not_a_regular_text_file_is_one_error(tmp_path, kind):
    """The registry is repository content: a committed link to /dev/zero ran out of
    memory, a FIFO hung (issue 17, item 3). Each is one ConfigError line, at once."""
    import os
    import subprocess
    import sys
    import textwrap

    path = tmp_path / ".importobot-keys.toml"
    if kind == "link-to-dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"version = 2\n\xff\xfe\n")
    probe = textwrap.dedent(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from importobot.exceptions import ConfigError
        from importobot.keys.registry import Registry
        try:
            Registry.load({str(path)!r})
        except ConfigError as exc:
            print(exc)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and "cannot read the key registry" in lines[0], lines
