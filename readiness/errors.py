"""The one exception type for errors a user can cause (bad file, missing column, wrong param),
and the scrubbing of credentials from any text that may be printed or logged."""

from __future__ import annotations

import re

# scheme://user:password@host -> scheme://user:***@host (database and tracking URLs)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"]*):[^\s@/'\"]+@")


class ReadinessError(Exception):
    """A problem the user can fix; the CLI prints its message (no traceback) and exits non-zero.

    The message names what is wrong (file, column, row count or parameter) and how to fix it.
    """


def scrub_secrets(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***, safe to print or log."""
    return _URL_PASSWORD.sub(r"\g<head>:***@", text)
