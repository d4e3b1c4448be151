"""Errors that reach a user as one clear line (the CLI prints them and exits non-zero)."""


class WsdbError(Exception):
    """A problem the user can fix: bad input, wrong database state, missing file."""


class InvalidArchitecture(WsdbError):
    """An encoding that does not describe an architecture of its search space."""


class DatabaseError(WsdbError):
    """The database is missing, out of date, or not a wsdb warehouse."""


class BadFile(WsdbError):
    """A file whose content is not what it should be (names the file and the record)."""


class Interrupted(WsdbError):
    """Ctrl-C (SIGINT) during a command, with what the command kept; exit status 130."""
