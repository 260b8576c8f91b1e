"""The project context one run works in: repository root, settings, registry, policy.

Hooks, commands and ``check`` all start here, so they agree on which repository a path
belongs to, which configuration applies, where the registry and baseline are, and
whether key checks are on (D16). :func:`load_project` is cheap on the hook path (D17):
it finds the root by looking for ``.git`` (no git call), and parses configuration only
when a byte search finds some.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from importobot.config import Settings
    from importobot.keys.age import AgePolicy
    from importobot.scan.finding import Finding

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "KEY_SOURCE_VARIABLES",
    "WRAPPED_KEY_FILE",
    "Project",
    "find_root",
    "load_policy",
    "load_project",
]

#: Same as importobot.config.DEFAULT_MAX_FILE_SIZE (a test keeps them equal); kept here so
#: the hook need not import the configuration module when there is no configuration.
DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024

#: D16: the variables whose presence opts a repository into key checks (an explicit list).
KEY_SOURCE_VARIABLES = (
    "IMPORTOBOT_ENCRYPTION_KEY",
    "IMPORTOBOT_PREVIOUS_KEYS",
    "IMPORTOBOT_PREVIOUS_KEYS_FILE",
    "IMPORTOBOT_WRAPPED_KEY",
    "IMPORTOBOT_WRAPPED_KEY_FILE",
    "IMPORTOBOT_KEYRING_SERVICE",
)

#: D24: the default wrapped-key file at the repository root.
WRAPPED_KEY_FILE = ".importobot-key.wrapped"

_REGISTRY_FILE = ".importobot-keys.toml"


def find_root(start: str | None = None) -> str | None:
    """The nearest directory at or above ``start`` holding ``.git`` (dir or file), else None.

    ``start`` may be a file; its directory is searched from. No git call (hook start-up).
    """
    here = os.path.abspath(start or os.getcwd())
    if not os.path.isdir(here):
        here = os.path.dirname(here)
    probe = here
    while True:
        if os.path.lexists(os.path.join(probe, ".git")):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent


# Not a record: a run's context with behaviour (settings, registry, policy), not a value.
class Project:
    """One repository (or directory) and its configuration, computed once per run.

    ``root`` is the work-tree top (or the start directory outside git); ``in_git`` says
    which. ``settings`` is ``None`` when the repository has no configuration and none was
    named; the properties below then give the defaults without importing the config module.
    """

    __slots__ = ("config_file", "in_git", "root", "settings")

    def __init__(
        self, root: str, in_git: bool, settings: Settings | None, config_file: str | None
    ) -> None:
        self.root = root
        self.in_git = in_git
        self.settings = settings
        self.config_file = config_file

    # -- scan settings ---------------------------------------------------------------
    @property
    def max_file_size(self) -> int:
        return self.settings.max_file_size if self.settings is not None else DEFAULT_MAX_FILE_SIZE

    @property
    def env_globs(self) -> tuple[str, ...]:
        return tuple(self.settings.env_files) if self.settings is not None else ()

    @property
    def include_vendored(self) -> bool:
        return self.settings.include_vendored if self.settings is not None else False

    @property
    def exclude(self) -> tuple[str, ...]:
        return tuple(self.settings.exclude) if self.settings is not None else ()

    def full_settings(self) -> Settings:
        """The settings, defaults filled in (imports the config module)."""
        if self.settings is not None:
            return self.settings
        from importobot.config import Settings

        return Settings()

    # -- paths -----------------------------------------------------------------------
    def resolve(self, name: str) -> str:
        """``name`` relative to the root unless absolute."""
        return name if os.path.isabs(name) else os.path.join(self.root, name)

    def rel(self, path: str) -> str | None:
        """``path`` relative to the root, ``/``-separated; ``None`` when outside it."""
        full = os.path.abspath(path)
        try:
            rel = os.path.relpath(full, self.root)
        except ValueError:  # pragma: no cover - other drive on Windows
            return None
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            return None
        return rel.replace(os.sep, "/")

    def registry_path(self, override: str | None = None) -> str:
        """The registry file: ``override``, else config ``registry``, else the default."""
        if override:
            return override
        name = self.settings.registry if self.settings is not None else _REGISTRY_FILE
        return self.resolve(name)

    def baseline_path(self, override: str | None = None) -> str | None:
        """The baseline file: ``override`` (as given), else config ``baseline`` (root-relative)."""
        if override:
            return override
        name = self.settings.baseline if self.settings is not None else None
        return self.resolve(name) if name else None

    def wrapped_key_path(self) -> str:
        return self.resolve(WRAPPED_KEY_FILE)

    # -- key checks --------------------------------------------------------------------
    def key_checks_on(self, env: Mapping[str, str] | None = None) -> bool:
        """D16: key checks run only when the repository opts in.

        ``key-check`` in the configuration decides when set; otherwise a registry file, a
        wrapped-key file, or one of :data:`KEY_SOURCE_VARIABLES` (non-empty) opts in.
        """
        if self.settings is not None and self.settings.key_check is not None:
            return bool(self.settings.key_check)
        if os.path.isfile(self.registry_path()) or os.path.isfile(self.wrapped_key_path()):
            return True
        environ = os.environ if env is None else env
        return any(environ.get(name) for name in KEY_SOURCE_VARIABLES)

    def policy(self, max_age: str | None = None, warn_age: str | None = None) -> AgePolicy:
        return load_policy(self.settings, max_age, warn_age)

    def origin_url(self) -> str | None:
        """``remote.origin.url`` from the repository's own config file (no git call), or
        ``None``. Events name the repository by it (user:password removed there)."""
        from importobot.git import git_dir

        gdir = git_dir(self.root) if self.in_git else None
        if gdir is None:
            return None
        try:
            with open(os.path.join(gdir, "config"), "rb") as handle:
                text = handle.read(256 * 1024).decode("utf-8", "replace")
        except OSError:
            return None
        in_origin = False
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("["):
                in_origin = line.replace(" ", "") in ('[remote"origin"]',)
            elif in_origin and line.split("=", 1)[0].strip().lower() == "url" and "=" in line:
                return line.split("=", 1)[1].strip() or None
        return None

    def emit_findings(self, findings: list[Finding], default: str) -> None:
        """Hand ``findings`` to the configured event sinks (nothing to do when none)."""
        from importobot.config import EVENTS_CONFIG_ENV

        if not findings:
            return
        table = self.settings.plugin("events") if self.settings is not None else None
        if table is None and not os.environ.get(EVENTS_CONFIG_ENV):
            # Neither the repository nor the environment names a sink: spare the hook the
            # events module (the same first test events._sink_config makes).
            return
        from importobot.events import configured, emit_findings

        root, settings = self.root, self.settings
        if configured(root, settings):
            emit_findings(
                findings, default, root=root, settings=settings, repository=self.origin_url()
            )


def load_project(start: str | None = None, config: str | None = None) -> Project:
    """The project holding ``start`` (a file or directory; default the working directory).

    ``config`` names a configuration file explicitly (``check --config``); otherwise the
    root's ``.importobot.toml`` or ``pyproject.toml`` ``[tool.importobot]`` is read when a
    byte search finds one. Raises :class:`~importobot.exceptions.ConfigError` for an
    invalid file.
    """
    found = find_root(start)
    in_git = found is not None or bool(os.environ.get("GIT_DIR"))
    if found is None:
        here = os.path.abspath(start or os.getcwd())
        found = here if os.path.isdir(here) else os.path.dirname(here)
    from importobot.config import find_config, read_settings

    settings = None
    if config is not None:
        settings = read_settings(config, follow_symlinks=True)  # the operator named it
    else:
        path = find_config(found)  # a byte search (D17): no parsing when there is none
        if path is not None:
            settings = read_settings(path)
    return Project(found, in_git, settings, settings.source if settings else None)


def load_policy(
    settings: Settings | None, max_age: str | None = None, warn_age: str | None = None
) -> AgePolicy:
    """The age policy: options, else config, else 90 days (warn 15 days before).

    Raises :class:`ValueError` for an unreadable duration.
    """
    from importobot.keys.age import DEFAULT_MAX_AGE, AgePolicy, parse_duration

    max_td = parse_duration(max_age) if max_age else None
    warn_td = parse_duration(warn_age) if warn_age else None
    if settings is not None:
        max_td = max_td or settings.max_key_age
        warn_td = warn_td or settings.warn_key_age
    return AgePolicy(max_td or DEFAULT_MAX_AGE, warn_td)
