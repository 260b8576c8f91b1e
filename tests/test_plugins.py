"""importobot.plugins: one lookup for every entry-point group, one missing-extra message;
importobot_enterprise's public names resolve lazily (PEP 562)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from importobot import plugins
from importobot.exceptions import ImportobotError

ROOT = Path(__file__).resolve().parent.parent


def _dist(site: Path, entry_points: str, modules: dict[str, str]) -> Path:
    """A distribution on disk (a ``*.dist-info`` directory), found by importlib.metadata."""
    dist = site / "importobot_testplugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: importobot-testplugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(entry_points)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(source)
    return site


def test_the_one_message() -> None:
    assert plugins.missing_extra_message("`importobot rotate`") == (
        "`importobot rotate` needs the 'enterprise' extra: pip install 'importobot[enterprise]'"
    )
    assert plugins.missing_extra_message("the pkcs11: key backend", "pkcs11", "missing pkcs11") == (
        "the pkcs11: key backend needs the 'pkcs11' extra: pip install 'importobot[pkcs11]' "
        "(missing pkcs11)"
    )


def test_every_group_in_pyproject_is_known() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert set(groups) <= set(plugins.GROUPS)
    assert plugins.GROUPS == (
        "importobot.commands",
        "importobot.retire_checks",
        "importobot.event_sinks",
        "importobot.kek_backends",
    )


def test_load_through_a_real_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _dist(
        tmp_path,
        "[importobot.kek_backends]\n"
        "testkms = importobot_testplugin:Backend\n"
        "broken = importobot_testplugin_broken:Backend\n",
        {
            "importobot_testplugin": "class Backend:\n    scheme = 'testkms'\n",
            "importobot_testplugin_broken": "import no_such_module_xyz\n",
        },
    )
    monkeypatch.syspath_prepend(str(site))
    assert set(plugins.entry_points(plugins.KEK_BACKENDS)) >= {"testkms", "broken"}
    backend = plugins.load(plugins.KEK_BACKENDS, "testkms", feature="the testkms: key backend")
    assert backend.scheme == "testkms"

    with pytest.raises(plugins.MissingExtraError) as info:
        plugins.load(plugins.KEK_BACKENDS, "broken", feature="the broken: key backend")
    assert info.value.installed
    assert str(info.value) == (
        "the broken: key backend needs the 'enterprise' extra: "
        "pip install 'importobot[enterprise]' (missing no_such_module_xyz)"
    )
    assert isinstance(info.value, ImportobotError) and info.value.exit_code == 2

    with pytest.raises(plugins.MissingExtraError) as absent:
        plugins.load(plugins.KEK_BACKENDS, "nope", feature="the nope: key backend")
    assert not absent.value.installed
    assert "it is not installed" in str(absent.value)


def test_retire_check_is_found_through_its_group() -> None:
    from importobot_enterprise.key_rotation.retire_check import stores_still_holding

    check = plugins.load(plugins.RETIRE_CHECKS, "stores", feature="`importobot key retire`")
    assert check is stores_still_holding


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "importobot.cli", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
        check=False,
    )


#: The CLI as it runs where the enterprise extra is not installed: no command entry points.
_WITHOUT_EXTRA = (
    "import sys\n"
    "from importobot import plugins\n"
    "real = plugins.entry_points\n"
    "plugins.entry_points = lambda group: {} if group == plugins.COMMANDS else real(group)\n"
    "from importobot.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@pytest.mark.parametrize("command", sorted(plugins.EXTRA_COMMANDS))
def test_enterprise_commands_without_the_extra_name_it(command: str) -> None:
    full = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRA, command, "--anything"],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"importobot: error: `importobot {command}` needs the 'enterprise' extra: "
        f"pip install 'importobot[enterprise]' (it is not installed)\n"
    )


def test_unknown_command_is_still_a_usage_error() -> None:
    proc = _cli("no-such-command")
    assert proc.returncode == 2
    assert "No such command" in proc.stderr


# -- importobot_enterprise: lazy public names ------------------------------------------------
_PROBE = """
import json, sys
before = set(sys.modules)
{body}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _loaded(body: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(body=body)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    loaded: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return set(loaded)


def test_importing_the_package_imports_no_feature() -> None:
    loaded = _loaded("import importobot_enterprise")
    assert not {m for m in loaded if m.startswith("importobot_enterprise.")}
    assert not loaded & {"click", "cryptography", "keyring", "importobot.security"}


def test_a_name_imports_only_what_it_needs() -> None:
    loaded = _loaded("from importobot_enterprise import RotationPlan")
    assert "importobot_enterprise.key_rotation" in loaded
    assert "importobot_enterprise.cli" not in loaded
    assert not loaded & {"click", "rich", "psycopg"}


def test_public_names_are_the_real_objects() -> None:
    import importlib

    import importobot_enterprise

    for name in importobot_enterprise.__all__:
        module = importlib.import_module(importobot_enterprise._EXPORTS[name])
        assert getattr(importobot_enterprise, name) is getattr(module, name), name
    assert set(importobot_enterprise.__all__) <= set(dir(importobot_enterprise))
    assert "SIEMManager" in importobot_enterprise.__all__


def test_names_not_shipped_say_so() -> None:
    """Every 0.1.5 / DESIGN name ships now; a name listed as not shipped still says so."""
    code = (
        "import importobot_enterprise as e\n"
        "e._NOT_SHIPPED['FutureThing'] = 'a future feature'\n"
        "from importobot_enterprise import FutureThing\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: importobot_enterprise.")
    assert "FutureThing is not available" in last and "a future feature" in last
    assert "not implemented in this release" in last


def test_unknown_name_is_an_attribute_error() -> None:
    import importobot_enterprise

    with pytest.raises(AttributeError):
        importobot_enterprise.NoSuchThing  # noqa: B018
    assert not hasattr(importobot_enterprise, "NoSuchThing")
