"""Configuration: [tool.importobot] / .importobot.toml → Settings; errors name file and key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from importobot.config import Settings, load_settings, parse_duration, parse_size
from importobot.exceptions import ConfigError


def test_defaults_without_a_file(tmp_path: Path) -> None:
    assert load_settings(tmp_path) == Settings()


def test_pyproject_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.importobot]\nexclude = ["a/**"]\n'
        'env-files = ["*.conf"]\nmax-file-size = "2MB"\nmax-key-age = "90d"\n'
        'warn-key-age = "10w"\nkey-check = true\nbaseline = "bl.json"\n'
    )
    s = load_settings(tmp_path)
    assert s.exclude == ("a/**",)
    assert s.env_files == ("*.conf",)
    assert s.max_file_size == 2 * 1024 * 1024
    assert (s.max_key_age, s.warn_key_age, s.key_check, s.baseline) == (
        timedelta(days=90),
        timedelta(weeks=10),
        True,
        "bl.json",
    )


def test_pyproject_without_section_is_defaults(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_settings(tmp_path) == Settings()


def test_dot_file_wins_and_takes_top_level_keys(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.importobot]\nmax-key-age = "1d"\n')
    (tmp_path / ".importobot.toml").write_text('max_key_age = "30d"\n')
    assert load_settings(tmp_path).max_key_age == timedelta(days=30)


ERRORS = [
    ("unknown = 1\n", "unknown: unknown setting"),
    ("exclude = [1]\n", "exclude must be a list of strings"),
    ('max-file-size = "huge"\n', "max-file-size"),
    ('max-key-age = "3 months"\n', "max-key-age"),
    ("key-check = 1\n", "key-check must be true or false"),
    ('max-key-age = "10d"\nwarn-key-age = "20d"\n', "warn-key-age must not exceed"),
    ("max-key-age = 10\n", "duration string"),
    ('max-key-age = "1y"\n', "years vary"),
    ("not toml = = =\n", "invalid TOML"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_invalid_config_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / ".importobot.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_explicit_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path, tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "delta"),
    [("90d", timedelta(days=90)), ("2w", timedelta(weeks=2)), ("36h", timedelta(hours=36))],
)
def test_parse_duration(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta


@pytest.mark.parametrize(
    ("text", "size"), [("10MB", 10 * 1024**2), ("512k", 512 * 1024), ("1GiB", 1024**3), (99, 99)]
)
def test_parse_size(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["", "-1", "1.5d", True, 0, "1y", "7"])
def test_parse_bad(bad: str | int) -> None:
    with pytest.raises(ValueError):
        if isinstance(bad, str) and (bad.endswith(("d", "y")) or bad == "7"):
            parse_duration(bad)
        else:
            parse_size(bad)


# -- one table of keys, by owner ----------------------------------------------------------
def test_every_documented_key_is_in_the_table() -> None:
    from importobot.config import CONFIG_KEYS

    doc = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    rows = {
        line.split("|")[1].strip().strip("`") for line in doc.splitlines() if line.startswith("| `")
    }
    assert rows == {k.name for k in CONFIG_KEYS}
    for key in CONFIG_KEYS:
        assert f"| `{key.name}` | {key.kind} | {key.owner} |" in doc


def test_plugin_keys_are_left_raw_to_their_owner(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.importobot]\nexclude = ["a"]\nrotation-log = "log.jsonl"\n'
        '[tool.importobot.events]\nuse = ["corp"]\nfuture-key = 1\n'
        '[[tool.importobot.events.connector]]\nname = "x"\ntype = "syslog"\n'
        '[tool.importobot.compliance]\npolicy = "pci"\n'
    )
    s = load_settings(tmp_path)
    assert s.exclude == ("a",)
    assert s.plugin("events") == {
        "use": ["corp"],
        "future-key": 1,
        "connector": [{"name": "x", "type": "syslog"}],
    }
    assert s.plugin("compliance") == {"policy": "pci"}
    assert s.plugin("rotation-log") == "log.jsonl"
    assert Settings().plugin("events") is None
    with pytest.raises(KeyError):
        s.plugin("exclude")
    hash(s)  # plugin tables (dicts) do not make settings unhashable


def test_dot_file_events_table_at_top_level(tmp_path: Path) -> None:
    (tmp_path / ".importobot.toml").write_text('[events]\nuse = ["corp"]\n')
    assert load_settings(tmp_path).plugin("events") == {"use": ["corp"]}


def test_aliases_and_snake_case(tmp_path: Path) -> None:
    for spelling in ("extra-env-globs", "env-files", "extra_env_globs", "env_files"):
        (tmp_path / ".importobot.toml").write_text(f'{spelling} = ["*.conf"]\n')
        assert load_settings(tmp_path).env_files == ("*.conf",)
    (tmp_path / ".importobot.toml").write_text('env-files = ["a"]\nextra-env-globs = ["b"]\n')
    with pytest.raises(ConfigError, match="set twice"):
        load_settings(tmp_path)


def test_unknown_key_in_pyproject_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.importobot]\nmax-age = "90d"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == f"{path}: max-age: unknown setting"


# -- errors never echo a key (issue 17 item 4) ----------------------------------------------
def _key_spellings() -> list[str]:
    import base64

    from tests.keygen import new_raw

    raw = new_raw()
    return [
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        raw.hex(),
        "base64:" + base64.b64encode(raw).decode(),
    ]


@pytest.mark.parametrize("template", ['max-key-age = "{k}"', 'max-file-size = "{k}"', '"{k}" = 1'])
def test_config_errors_never_echo_a_key_shaped_value(tmp_path: Path, template: str) -> None:
    for key in _key_spellings():
        (tmp_path / ".importobot.toml").write_text(template.format(k=key) + "\n")
        with pytest.raises(ConfigError) as info:
            load_settings(tmp_path)
        message = str(info.value)
        assert key not in message and key[:16] not in message
        assert "key-shaped" in message


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("3 months", "'3 months'"),
        ("tests/fixtures/**", "'tests/fixtures/**'"),
        (10, "10"),
        (10**40, "a large integer (not shown)"),
        ("x" * 40 + " y", "a value of 42 characters (not shown)"),
        ([1], "a list"),
    ],
)
def test_describe_value(value: object, shown: str) -> None:
    from importobot.config import describe_value

    assert describe_value(value) == shown


# -- hostile files (issue 17 items 3 and 5) -------------------------------------------------
def test_deeply_nested_config_is_one_config_error(tmp_path: Path) -> None:
    (tmp_path / ".importobot.toml").write_text("exclude = " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply") as info:
        load_settings(tmp_path)
    assert "\n" not in str(info.value)


def test_symlinked_dot_file_is_refused_and_pyproject_link_skipped(tmp_path: Path) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_text('[tool.importobot]\nexclude = ["x"]\n')
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").symlink_to(outside)
    assert load_settings(repo) == Settings()
    (repo / ".importobot.toml").symlink_to(outside)
    with pytest.raises(ConfigError, match="symbolic link"):
        load_settings(repo)
    # Named by the operator (--config), a symlink is followed.
    assert load_settings(repo, repo / ".importobot.toml").exclude == ("x",)


def test_fifo_and_directory_are_refused_without_hanging(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / ".importobot.toml")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_settings(tmp_path)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_settings(tmp_path, tmp_path / ".importobot.toml")
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError):
        load_settings(tmp_path, tmp_path / "dir.toml")


def test_huge_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".importobot.toml").write_text("# " + "x" * (2 * 1024 * 1024) + "\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_settings(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / ".importobot.toml").write_bytes(b'exclude = ["\xff"]\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(tmp_path)


# -- the sniffer (D17) ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("files", "found"),
    [
        ({}, None),
        ({"pyproject.toml": '[project]\nname = "x"\n'}, None),
        ({"pyproject.toml": '[project]\ndependencies = ["importobot"]\n'}, None),
        ({"pyproject.toml": "[tool.importobot]\n"}, "pyproject.toml"),
        ({"pyproject.toml": "[tool.importobot.events]\nuse = []\n"}, "pyproject.toml"),
        ({".importobot.toml": ""}, ".importobot.toml"),
        ({".importobot.toml": "", "pyproject.toml": "[tool.importobot]\n"}, ".importobot.toml"),
    ],
)
def test_find_config(tmp_path: Path, files: dict[str, str], found: str | None) -> None:
    from importobot.config import find_config

    for name, text in files.items():
        (tmp_path / name).write_text(text)
    expected = None if found is None else str(tmp_path / found)
    assert find_config(str(tmp_path)) == expected
    assert find_config(tmp_path) == expected


def test_events_only_pyproject_is_configuration(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.importobot.events]\nuse = ["corp"]\n')
    assert load_settings(tmp_path).plugin("events") == {"use": ["corp"]}


_LIGHT_PROBE = """
import sys
before = set(sys.modules)
from importobot.config import find_config, read_settings
path = find_config({root!r})
settings = read_settings(path)
assert settings.exclude == ("vendor/**",), settings
print(" ".join(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize("name", ["pyproject.toml", ".importobot.toml"])
def test_reading_settings_is_light(tmp_path: Path, name: str) -> None:
    """The hook reads config on every commit: no dataclasses, inspect, typing or tomllib."""
    import subprocess
    import sys

    header = "[tool.importobot]\n" if name == "pyproject.toml" else ""
    (tmp_path / name).write_text(
        '[project]\nname = "x"\nauthors = [{name = "A"}]\n' * (name == "pyproject.toml")
        + header
        + 'exclude = [\n  "vendor/**",\n]\nmax-file-size = "2MB"\nkey-check = true\n'
    )
    proc = subprocess.run(
        [sys.executable, "-c", _LIGHT_PROBE.format(root=str(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.split())
    heavy = {"dataclasses", "inspect", "typing", "tomllib", "tomli", "pathlib", "datetime", "re"}
    assert not loaded & heavy, sorted(loaded & heavy)
