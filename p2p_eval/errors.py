"""The one exception type for bad input files and folders."""


class InputError(Exception):
    """A user-supplied file or folder cannot be used.

    The message names the path and says how to fix it; ``p2p-eval`` prints it
    without a traceback and exits with status 2.
    """
