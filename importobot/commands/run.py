"""``importobot run -- CMD``: start CMD with the values ``importobot fix`` moved to the keyring.

``importobot fix --to keyring`` takes a key out of ``.env`` and puts it in the OS keyring
under the service :func:`keyring_service` (``importobot:<normalised origin URL>``, else
``importobot:<the repository's real path>``) and the user = the variable name, and writes
a marker line above the variable in ``.env.example``::

    # APP_ENCRYPTION_KEY <- OS keyring "importobot:github.com/acme/app" (importobot run)
    APP_ENCRYPTION_KEY=

``run`` reads those markers (the ``.env.example`` files from the working directory up to
the repository root), looks each value up, and starts CMD with them in its environment —
never on its command line. A keyring value replaces an inherited one (said on stderr by
name). For ``IMPORTOBOT_ENCRYPTION_KEY`` the keyring's ``<user>.previous`` entry (what
``importobot key store --overwrite`` keeps) becomes ``IMPORTOBOT_PREVIOUS_KEYS``, so a key
rotation started with the runbook ``fix`` prints keeps old values readable.

A missing entry is an error (exit 2) naming the variable and the service: the keyring is
per machine, so a teammate's clone has to be given the values (or its own keys).
"""

from __future__ import annotations

import os
import re

from importobot.exceptions import ImportobotError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "MARKER_RE",
    "RunError",
    "keyring_service",
    "marker_line",
    "normalise_remote",
    "prepare",
    "read_markers",
]

EXAMPLE_FILE = ".env.example"
#: ``# NAME <- OS keyring "SERVICE" (importobot run)`` above a variable in .env.example.
MARKER_RE = re.compile(
    r"^#[ \t]*(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*<-[ \t]*OS keyring"
    r'(?:[ \t]+"(?P<service>[^"\n]*)")?'
)
_DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}
_PRIMARY = "IMPORTOBOT_ENCRYPTION_KEY"
_PREVIOUS = "IMPORTOBOT_PREVIOUS_KEYS"


class RunError(ImportobotError):
    """``run`` cannot start the command (missing values, nothing to load): exit 2."""


def normalise_remote(url: str) -> str | None:
    """A remote URL as ``host[:port]/path``: scheme, user and password dropped (so https
    and ssh clones of one repository agree and no credential lands in a service name),
    the host lower-cased, a default port, a trailing ``/`` and ``.git`` dropped.
    ``None`` for a local path (the caller uses the repository's real path)."""
    from urllib.parse import urlsplit

    text = url.strip()
    if not text:
        return None
    if "://" in text:
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            return None
        if parts.scheme == "file" or not parts.hostname:
            return None
        host = parts.hostname.lower()
        if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
            host = f"{host}:{port}"
        path = parts.path
    else:
        m = re.match(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>.+)$", text)
        if m is None:
            return None  # a local path
        host, path = m.group("host").lower(), m.group("path")
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    path = path.rstrip("/")
    return f"{host}/{path}" if path else host


def keyring_service(root: str) -> str:
    """The keyring service of the repository at ``root`` (D26)."""
    from importobot.git import remote_url

    try:
        url = remote_url(root)
    except ImportobotError:
        url = None
    normal = normalise_remote(url) if url else None
    return f"importobot:{normal or os.path.realpath(root)}"


def marker_line(name: str, service: str) -> str:
    """The ``.env.example`` line that tells ``run`` where ``name`` comes from."""
    return f'# {name} <- OS keyring "{service}" (importobot run)'


def read_markers(text: str) -> dict[str, str | None]:
    """``{variable: recorded service or None}`` of the marker lines in ``text``."""
    found: dict[str, str | None] = {}
    for line in text.splitlines():
        m = MARKER_RE.match(line.strip())
        if m is not None:
            found[m.group("name")] = m.group("service")
    return found


def _example_files(start: str, root: str) -> list[str]:
    """``.env.example`` from ``start`` up to ``root`` (nearest first)."""
    out: list[str] = []
    here = os.path.abspath(start)
    top = os.path.abspath(root)
    while True:
        candidate = os.path.join(here, EXAMPLE_FILE)
        if os.path.isfile(candidate) and not os.path.islink(candidate):
            out.append(candidate)
        if here == top or os.path.dirname(here) == here:
            break
        here = os.path.dirname(here)
    return out


def prepare(
    command: Sequence[str],
    *,
    start: str | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[list[str], dict[str, str], list[str]]:
    """``(argv, environment, notes)`` for running ``command`` with the keyring values.

    Raises :class:`RunError` (exit 2) when there is no command, no marker, or a value is
    missing from the keyring; keyring failures raise their own one-line errors.
    """
    from importobot.fsio import FileRefused, read_content
    from importobot.project import load_project
    from importobot.security.key_sources import keyring_get

    if not command:
        raise RunError("no command given: importobot run -- CMD [ARG...]")
    base = dict(os.environ if env is None else env)
    here = start or os.getcwd()
    project = load_project(here)
    markers: dict[str, str | None] = {}
    files = _example_files(here, project.root)
    for path in files:
        try:
            text = read_content(path, 1024 * 1024).decode("utf-8", "replace")
        except FileRefused:
            continue
        for name, service in read_markers(text).items():
            markers.setdefault(name, service)
    if not markers:
        where = os.path.join(project.root, EXAMPLE_FILE)
        raise RunError(
            f"nothing to load: no variable in {where} is marked as coming from the OS "
            f"keyring (importobot fix --apply --to keyring writes the markers)"
        )
    service = keyring_service(project.root)
    out = dict(base)
    notes: list[str] = []
    missing: list[str] = []
    for name, recorded in markers.items():
        value = keyring_get(service, name, base)
        used = service
        if value is None and recorded and recorded != service:
            value, used = keyring_get(recorded, name, base), recorded
        if value is None:
            missing.append(name)
            continue
        if name in base and base[name] != value:
            notes.append(f"{name}: the keyring value ({used}) replaces the inherited one")
        out[name] = value
        if name == _PRIMARY and _PREVIOUS not in base:
            previous = keyring_get(used, f"{name}.previous", base)
            if previous:
                out[_PREVIOUS] = previous
    if missing:
        from importobot._text import printable

        names = ", ".join(printable(n) for n in missing)
        raise RunError(
            f"no keyring entry for {names} in service {printable(service)} on this machine "
            f"(the keyring is per machine: store the values with `keyring set` or run "
            f"importobot fix where they are)"
        )
    return list(command), out, notes
