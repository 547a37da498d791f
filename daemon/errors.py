"""One error base: every error stylecam explains to its user (the message names the fix) is a
StylecamError, so the command line catches one type and the HTTP API maps them to statuses in
one table (api.ERROR_STATUS). Anything else is a bug: a traceback on the command line, a 500
from the API, and the daemon keeps running."""
from __future__ import annotations


class StylecamError(Exception):
    """A problem the user can fix; str() says what and how."""
