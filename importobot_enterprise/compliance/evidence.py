"""Gathering the evidence a compliance report judges: looked at, never asserted.

One :func:`gather` call reads, for the project holding ``path``:

- the keys: :func:`importobot.scan.rules.key_status.key_status` (source label,
  fingerprint, validity, registry entry, age, previous keys, IOB2xx/IOB30x findings);
- the work tree and every commit (``check``'s scanners, in process): IOB101/IOB102,
  IOB204 for the configured and registered keys, IOB303 stale committed ciphertext,
  naming the configured key whose HMAC opens a stale token (no decryption, no plaintext);
- the rotation log and the attestation file, with git's word on who committed each
  attestation and whether the commit is signed;
- where KEKs are pinned (``IMPORTOBOT_KEK``) and whether a wrapped-key file exists.

Strings that come from the repository (paths, variable names, notes, names) go through
:func:`safe_text`: control characters escaped and anything key-shaped replaced by its
fingerprint, so no report can carry a key even when a file name is one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from importobot.git import GitError
from importobot.project import Project
from importobot.scan.finding import Finding, ScanResult
from importobot.scan.rules.key_status import KeyStatus
from importobot_enterprise.compliance.attestations import Attestation, AttestationProof
from importobot_enterprise.compliance.policy import CompliancePolicy
from importobot_enterprise.compliance.rotation_log import RotationLog

__all__ = [
    "Evidence",
    "StaleToken",
    "gather",
    "kek_pins",
    "line_text",
    "safe_text",
    "show_kek",
]

#: Findings kept per kind in the report (counts stay exact).
MAX_LISTED = 200


def safe_text(text: str) -> str:
    """A string from the repository (a path, a name, a note) as a report may show it: one
    line, and anything key-shaped replaced by its fingerprint (the events' redaction, D23).
    Messages importobot wrote itself only need :func:`line_text`."""
    from importobot.events import redact

    return line_text(redact(text))


def line_text(text: str) -> str:
    """One line: control characters escaped (:func:`importobot._text.printable`)."""
    from importobot._text import printable

    return printable(text)


@dataclass(frozen=True)
class StaleToken:
    """A committed Fernet token older than the originator-usage period (IOB303)."""

    finding: Finding
    made: datetime
    #: The fingerprint of the configured key whose HMAC opens it, else ``None``.
    key: str | None
    #: ``primary`` or ``previous`` when a configured key opens it.
    role: str | None


@dataclass
class Evidence:
    """Everything one report looked at."""

    project: Project
    now: datetime
    policy: CompliancePolicy
    status: KeyStatus
    tree: ScanResult
    history: ScanResult | None
    #: Why history was not scanned (or what limited it), for the report's notes.
    notes: list[str] = field(default_factory=list)
    compromised: list[Finding] = field(default_factory=list)
    stale: list[StaleToken] = field(default_factory=list)
    rotation_log: RotationLog | None = None
    attestations: list[Attestation] = field(default_factory=list)
    proofs: list[AttestationProof] = field(default_factory=list)
    wrapped_file: str | None = None
    kek_pins: list[str] = field(default_factory=list)
    repository: str | None = None

    @property
    def scan_findings(self) -> list[Finding]:
        """IOB1xx findings of the tree and the history (suppressed ones included)."""
        return self.tree.findings + (self.history.findings if self.history else [])


def kek_pins(env: Mapping[str, str]) -> list[str]:
    """The KEK URIs importobot trusts (``IMPORTOBOT_KEK``, then the user's ``kek.toml``
    outside the repository), shown without PINs, queries, fragments or credentials.

    A KEK configuration that cannot be read is reported as such (the unwrap would fail
    the same way), not raised.
    """
    from importobot.exceptions import SecurityError
    from importobot.security.key_sources import trusted_kek_uris

    try:
        uris = trusted_kek_uris(env)
    except SecurityError as exc:
        return [f"(KEK configuration not readable: {line_text(str(exc))})"]
    return [show_kek(uri) for uri in uris]


def show_kek(uri: str) -> str:
    """A KEK URI as a report shows it: no ``pin-*`` attribute, query, fragment or userinfo."""
    uri = uri.strip().split("?", 1)[0].split("#", 1)[0]
    if uri.startswith("pkcs11:"):
        attrs = [a for a in uri[7:].split(";") if not a.lower().startswith("pin-")]
        uri = "pkcs11:" + ";".join(attrs)
    else:
        uri = _without_userinfo(uri)
    return line_text(uri)  # configuration, not a secret, once PINs and credentials are gone


def _opens(raw: bytes, token: bytes) -> bool:
    """True when ``token``'s HMAC verifies under ``raw`` (Fernet's signing half); nothing
    is decrypted."""
    return hmac.compare_digest(
        hmac.new(raw[:16], token[:-32], hashlib.sha256).digest(), token[-32:]
    )


def _stale_tokens(
    project: Project, files: list[tuple[str, str, str | None]], ev: Evidence, env: Mapping[str, str]
) -> None:
    """IOB303 over ``files``, each stale token named by the configured key that opens it."""
    from importobot.fsio import FileRefused, read_content
    from importobot.keys.fingerprint import fingerprint
    from importobot.keys.tokens import find_tokens, token_bytes
    from importobot.scan.rules.key_health import stale_token_findings
    from importobot.scan.rules.key_setup import check_key_setup

    limit = project.max_file_size
    policy = ev.policy.originator
    found = stale_token_findings(
        ((Path(p), shown) for p, shown, _ in files), policy, ev.now, max_size=limit
    )
    if not found:
        return
    setup = check_key_setup(env, optional=True)
    keys: list[tuple[str, bytes]] = []
    if setup.key is not None:
        keys.append(("primary", setup.key.raw))
    keys += [("previous", k.raw) for k in setup.previous]
    by_path = {shown: p for p, shown, _ in files}
    cache: dict[str, bytes] = {}
    for f in found:
        data = b""
        path = by_path.get(f.path or "")
        if path is not None:
            if path not in cache:
                try:
                    cache[path] = read_content(path, limit)
                except FileRefused:
                    cache[path] = b""
            data = cache[path]
        key_fp = role = None
        made = ev.now - policy.max_age
        for start, end in find_tokens(data):
            line = data.count(b"\n", 0, start) + 1
            if line != f.line:
                continue
            token = token_bytes(data[start:end])
            if token is None:
                continue
            from datetime import timezone

            made = datetime.fromtimestamp(int.from_bytes(token[1:9], "big"), tz=timezone.utc)
            for kind, raw in keys:
                if _opens(raw, token):
                    key_fp, role = fingerprint(raw), kind
                    break
            break
        ev.stale.append(StaleToken(f, made, key_fp, role))


def gather(
    project: Project,
    policy: CompliancePolicy,
    *,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    history: bool = True,
) -> Evidence:
    """Read everything the report judges (see the module docstring).

    Raises :class:`~importobot.exceptions.ConfigError` (bad configuration, registry,
    baseline or attestation file) and
    :class:`~importobot.exceptions.KeyringUnavailableError` (the keyring cannot be read):
    both exit 2.
    """
    from importobot.keys.age import utc_now
    from importobot.scan.baseline import apply_baseline, load_baseline
    from importobot.scan.engine import ScanOptions, check_paths, collect_files
    from importobot.scan.rules.key_health import compromised_findings, watched_fingerprints
    from importobot.scan.rules.key_status import key_status
    from importobot.scan.sources import history_items, scan_items
    from importobot_enterprise.compliance.attestations import load_attestations, prove
    from importobot_enterprise.compliance.catalog import catalog
    from importobot_enterprise.compliance.rotation_log import log_path, read_log

    environ: Mapping[str, str] = os.environ if env is None else env
    moment = now or utc_now()
    root = project.root
    status = key_status(project, environ, moment, policy=policy.originator)
    settings = project.full_settings()
    options = ScanOptions(cwd=Path(root), root=Path(root))
    tree = check_paths((root,), settings, options)
    baseline = project.baseline_path()
    entries = load_baseline(baseline) if baseline else set()
    apply_baseline(tree, entries)
    ev = Evidence(project, moment, policy, status, tree, None)
    ev.notes += tree.notes
    if not history:
        ev.notes.append("history not scanned (--no-history)")
    elif not project.in_git:
        ev.notes.append("not a git repository: no history to scan")
    else:
        result = ScanResult()
        commits: set[str] = set()
        try:
            scan_items(
                history_items(root, None, [], commits),
                result,
                env_globs=project.env_globs,
                max_size=project.max_file_size,
                exclude=project.exclude,
            )
        except GitError as exc:
            ev.notes.append(f"history not scanned: {exc}")
        else:
            apply_baseline(result, entries)
            ev.history = result
            ev.notes.append(f"history: {len(commits)} commits with added lines scanned")
    watched = watched_fingerprints(status.fingerprint, status.source, status.registry)
    for prev in status.previous:
        watched.setdefault(prev.fingerprint, f"the previous key ({prev.source})")
    ev.compromised = compromised_findings(ev.scan_findings, watched)
    files = collect_files((root,), settings, options, ScanResult())
    _stale_tokens(project, files, ev, environ)
    ev.rotation_log = read_log(log_path(project))
    manual = tuple(s.id for s in catalog() if s.kind == "manual")
    shown = project.rel(policy.attestations) or os.path.basename(policy.attestations)
    ev.attestations = load_attestations(policy.attestations, shown, manual, moment)
    if ev.attestations:
        rel = project.rel(policy.attestations) if project.in_git else None
        ev.proofs = prove(root, rel, ev.attestations)
    wrapped = project.wrapped_key_path()
    ev.wrapped_file = os.path.basename(wrapped) if os.path.lexists(wrapped) else None
    ev.kek_pins = kek_pins(environ)
    url = project.origin_url()
    if url is not None:
        ev.repository = safe_text(_without_userinfo(url))
    return ev


def _without_userinfo(url: str) -> str:
    """``https://user:pass@host/x`` without ``user:pass@`` (D6); ``git@host:x`` is kept."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"
