"""The one exception type for mistakes a user can make (config, data, files, run folders).

The CLI turns it into a single line on stderr and exit status 2, without a traceback; anything
else that escapes is a bug in trainlab and keeps its traceback.
"""


class UserError(Exception):
    """A bad value, file or data set given by the user; the message names it and what is allowed."""


class CannotWrite(UserError):
    """A write the machine refused part-way through a command (disk full, read-only, no
    permission): what was written before is intact, and the command can be continued once the
    cause is fixed; the CLI adds the command that continues."""
