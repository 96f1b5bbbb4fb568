"""Logging for `tunesmith run|sync`: one stdout handler, and a filter on it that masks secrets.

At DEBUG, discord.py logs every REST call with its URL and payload and every gateway event whole:
interaction tokens sit in `/interactions/<id>/<token>/callback` and `/webhooks/<app>/<token>` URLs
and in the `'token'` field of INTERACTION_CREATE. An interaction token lets anyone answer as the bot
for 15 minutes; the bot token, for ever. `RedactSecrets` masks them in the message, its arguments
and any traceback, whatever logger the record comes from (it sits on the root handler).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

MASK = "[redacted]"
_PATTERNS = (
    # REST/webhook URLs: the token is the path segment after the id
    (re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/\s'\"?#]+"), rf"\1{MASK}"),
    # dict reprs and JSON: 'token': '...', "token": "...", token=...
    (
        re.compile(
            r"""(['"]?\b(?:token|access_token|refresh_token|client_secret)['"]?\s*[:=]\s*)(['"])[^'"]*\2""",
            re.IGNORECASE,
        ),
        rf"\1\2{MASK}\2",
    ),
    # Authorization header values
    (re.compile(r"\b(Bot|Bearer)\s+[A-Za-z0-9._\-]{16,}"), rf"\1 {MASK}"),
    # interaction tokens (base64 of "interaction:...") wherever they appear
    (re.compile(r"aW50ZXJhY3Rpb246[A-Za-z0-9_\-.]+"), MASK),
    # bot tokens: base64 user id . timestamp . HMAC
    (re.compile(r"\b[A-Za-z0-9_\-]{23,28}\.[A-Za-z0-9_\-]{6,7}\.[A-Za-z0-9_\-]{27,}"), MASK),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with tokens and the given secrets masked."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Masks tokens in every record that passes (put it on a handler: handler filters see records
    from all loggers; a logger's filter would not see its children's)."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  a bad format string: logging reports it later, with the raw text
            return True
        record.msg, record.args = redact(message, self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def make_handler(stream=None, secrets: Iterable[str] = ()) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    return handler


def setup_logging(level: str, secrets: Iterable[str] = ()) -> logging.Handler:
    """The root logger writes to stdout at `level` through one handler that masks tokens and `secrets`
    (pass the bot token)."""
    handler = make_handler(secrets=secrets)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return handler
