"""The one base of every refusal ctrack shows a person.

str() is the reason, one line an admin can act on (a few lines at most, such as one per
bad row of an import). The CLI (ctrack/cli/common.py) and the HTTP app (ctrack/web/app.py)
translate it once at their boundary; this module imports nothing so that the pure core may
raise it too.
"""


class CtrackError(Exception):
    """A refusal with a reason for the admin; nothing was changed."""

    exit_code = 1  # the CLI's exit status (configuration errors use 2, as click's usage errors)
