"""Errors of the SIEM forwarder. Messages never hold a secret, a key or an event's content."""

from __future__ import annotations

from importobot.exceptions import ConfigError, ImportobotError

__all__ = ["ConfigError", "DeliveryError", "SIEMError", "SpoolError"]


class SIEMError(ImportobotError):
    """Something the SIEM forwarder could not do (base of the errors below)."""


class SpoolError(SIEMError):
    """The spool cannot be used: no state directory, unsafe directory, disk full, locked."""


class DeliveryError(SIEMError):
    """A connector could not deliver: ``retry`` says whether trying again may help, ``sent``
    whether the receiver may have got some of it anyway.

    The message is built from a status code, an errno name or a fixed text, never from a
    server's reply verbatim (a reply could echo a token).
    """

    def __init__(self, message: str, *, retry: bool = True, sent: bool = False) -> None:
        super().__init__(message)
        self.retry = retry
        #: Whether some of the batch may have reached the receiver (a resend may duplicate).
        self.sent = sent
