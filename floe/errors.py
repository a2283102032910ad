"""Errors a user can cause and fix; the command line prints them without a traceback."""


class FloeError(Exception):
    """A mistake in the input (file, field, value) that the user must correct.

    The message is complete on its own: it names the file, the field and what is allowed.
    """

    exit_code = 2
