"""The one exception type for errors a user can cause (bad file, missing column, wrong param)."""


class ReadinessError(Exception):
    """A problem the user can fix; the CLI prints its message (no traceback) and exits non-zero.

    The message names what is wrong (file, column, row count or parameter) and how to fix it.
    """
