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
