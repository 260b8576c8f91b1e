"""The rules registry: every rule code importobot reports, declared once (DESIGN "Rules", D14).

Each :class:`RuleInfo` holds the code, the kebab-case name, the default severity, a
one-line summary, the rule's page under ``docs/rules/`` and the module that reports it
(``checked_in``, a dotted name: this table imports none of them, so it stays cheap on
the hook path). Findings, reports (SARIF ``rules``/``helpUri``) and the docs index all
read this table; ``tests/test_rules.py`` checks that every code has its page and that
each ``checked_in`` module exists and names its code.
"""

from __future__ import annotations

from importobot._record import Record
from importobot._version import DOCS_URL

__all__ = ["RULES", "RuleInfo", "rule_info"]


class RuleInfo(Record):
    """A rule: code, kebab-case name, default severity, summary, docs page, checking module."""

    code: str
    name: str
    #: ``error`` or ``warning`` (D15: errors fail, warnings only under ``--strict``).
    severity: str
    summary: str
    #: The rule's page, relative to the ``docs`` directory (``rules/IOB101.md``).
    docs: str = ""
    #: The module that reports the rule (dotted name, never imported from here).
    checked_in: str = ""

    @property
    def help_uri(self) -> str:
        """The published URL of the rule's page (SARIF ``helpUri``)."""
        return f"{DOCS_URL}/{self.docs}" if self.docs else ""


def _rule(code: str, name: str, severity: str, summary: str, checked_in: str) -> RuleInfo:
    return RuleInfo(code, name, severity, summary, f"rules/{code}.md", checked_in)


_FILES = "importobot.scan.rules.files"
_KEY_SETUP = "importobot.scan.rules.key_setup"
_KEY_HEALTH = "importobot.scan.rules.key_health"
_KEY_AGE = "importobot.scan.rules.key_age"
_KEY_STATUS = "importobot.scan.rules.key_status"

#: Every rule importobot reports, by code.
RULES: dict[str, RuleInfo] = {
    r.code: r
    for r in (
        # Keys in repository content.
        _rule("IOB101", "key-in-env-file", "error",
              "Plaintext encryption key in an env-style file", _FILES),
        _rule("IOB102", "key-in-source", "error",
              "Plaintext key in a source or config file", _FILES),
        _rule("IOB103", "env-file-not-ignored", "warning",
              "Env file holding secrets is not git-ignored", "importobot.scan.rules.env_ignored"),
        # The set-up key (D16 opt-in).
        _rule("IOB201", "no-key", "error", "No encryption key is set up", _KEY_SETUP),
        _rule("IOB202", "malformed-key", "error", "The set-up key is malformed", _KEY_SETUP),
        _rule("IOB203", "weak-key", "error", "The set-up key is weak", _KEY_SETUP),
        _rule("IOB204", "compromised-key", "error",
              "The set-up key was found committed in the repository", _KEY_HEALTH),
        # Key and ciphertext age.
        _rule("IOB301", "key-rotation-due", "error",
              "The key is older than the maximum age", _KEY_AGE),
        _rule("IOB302", "key-rotation-soon", "warning",
              "The key is within the warning window", _KEY_AGE),
        _rule("IOB303", "stale-ciphertext", "warning",
              "Committed Fernet ciphertext is older than the maximum age", _KEY_HEALTH),
        _rule("IOB304", "unregistered-key", "warning",
              "The set-up key is not in the key registry", _KEY_AGE),
        _rule("IOB305", "retired-key-configured", "warning",
              "A retired key is still configured as a previous key", _KEY_STATUS),
    )
}  # fmt: skip


def rule_info(code: str) -> RuleInfo:
    """The :class:`RuleInfo` of ``code``; an unknown code (a plugin's) gets a generic entry."""
    return RULES.get(code) or RuleInfo(code, code.lower(), "error", code)
