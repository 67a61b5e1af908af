"""Where a command writes: output paths checked before work, and files written whole or not at all.

Every write goes to a temporary name in the same folder and is renamed into
place, so an interrupted program never leaves a half-written file behind
(`atomic_output`; a symlink keeps pointing at the replaced file, and a stream
such as ``/dev/stdout`` is written to as it is).
`check_output_path` checks, before any work starts, that a command will be
able to write where it was told to; `check_distinct_outputs` that no two
outputs, or an output and an input, name one file.
"""

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from p2p_eval.errors import InputError


def _atomic_target(path: Path) -> tuple[int, str]:
    """Create ``.<name>.<random>.tmp`` beside `path`; return its descriptor and name.

    Opened with mode 0666 so that the umask decides the permissions, as for
    any file a program creates (0644 under umask 022). ``tempfile.mkstemp``
    would make every output 0600, unreadable to other users and web servers.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), str(tmp)
        except FileExistsError:  # another writer drew the same name: draw again
            continue


def _is_stream(path: Path) -> bool:
    """`path` names no regular file to replace but a stream: a device, a pipe (``/dev/stdout``, ``/dev/null``),
    or the file this process's standard output or error is redirected to."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        return True
    return stat.S_ISREG(info.st_mode) and any(_same_file(info, fd) for fd in (1, 2))


def _same_file(info: os.stat_result, fd: int) -> bool:
    try:
        return os.path.samestat(info, os.fstat(fd))
    except OSError:
        return False


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "wb", **open_options: Any) -> Iterator[IO]:
    """Open `path` for writing so that it appears whole or not at all.

    The file is written under a temporary name beside it and renamed into
    place on success (removed on any error), so an interrupted program never
    leaves a half-written file. Through a symlink, the file it names is
    replaced and the link kept. A stream is written to as it is:
    renaming over ``/dev/stdout`` or ``/dev/null`` would replace the device
    itself (as root) or fail after the work (as anyone else).

    Parameters
    ----------
    path : path-like
    mode : {"wb", "w"}, optional
    **open_options
        For `os.fdopen` / `open` (``encoding``).
    """
    path = Path(path)
    if _is_stream(path):
        with open(path, mode, **open_options) as f:
            yield f
        return
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    fd, tmp = _atomic_target(target)
    try:
        with os.fdopen(fd, mode, **open_options) as f:
            yield f
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_output_path(path: str | os.PathLike, *, folder: bool = False, option: str = "--out") -> Path:
    """Check, before any work starts, that `path` can be written; return it.

    Every command that writes calls this for each of its outputs first, so a
    bad output path stops it at once instead of after the work (a trained
    epoch, a scored dataset) that could not be saved.

    Parameters
    ----------
    path : path-like
        A file to write (created or replaced), or with `folder` a folder to
        write into (created when missing).
    folder : bool, optional
        Whether `path` names a folder.
    option : str, optional
        The command-line option that gave `path`, for the message.

    Returns
    -------
    path : Path

    Raises
    ------
    InputError
        If `path` is a folder where a file is expected or the reverse, if a
        parent on the way is a file, or if the folder that would receive the
        file (or the missing folders) is not writable by this user.

    Examples
    --------
    >>> check_output_path("results/fcn.json").name
    'fcn.json'
    """
    path = Path(path)
    if not folder and _is_stream(path):  # /dev/stdout, /dev/null: written as they are (`atomic_output`)
        if not os.access(path, os.W_OK):
            raise InputError(f"{option} {path}: not writable by this user; choose another path.")
        return path
    if folder and path.exists() and not path.is_dir():
        raise InputError(f"{option} {path}: this is a file, but {option} must name a folder; "
                         "pass a folder path (it is created when missing).")
    if not folder and path.is_dir():
        raise InputError(f"{option} {path}: this is a folder, but {option} must name a file to write; "
                         f"pass a file path (one inside {path}, if you like).")
    nearest = Path(os.path.abspath(path if folder else path.parent))
    try:
        while not nearest.exists():
            nearest = nearest.parent
    except PermissionError:
        raise InputError(f"{option} {path}: cannot reach {nearest}: permission denied; choose another path.") from None
    if not nearest.is_dir():
        raise InputError(f"{option} {path}: cannot be created, because {nearest} is a file, not a folder; "
                         "choose another path.")
    effective = {"effective_ids": True} if os.access in os.supports_effective_ids else {}
    if not os.access(nearest, os.W_OK | os.X_OK, **effective):
        raise InputError(f"{option} {path}: cannot write into {nearest}: the folder is read-only for this user; "
                         f"choose another path, or make it writable (chmod u+w {nearest}).")
    try:  # what `access` cannot tell: /proc, /sys, a full or read-only file system seen by root
        fd, probe = _atomic_target(nearest / ".p2p-eval-probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise InputError(f"{option} {path}: cannot write into {nearest} ({err.strerror}); choose another path.") from None
    return path


def check_distinct_outputs(outputs: Sequence[tuple[str | os.PathLike | None, str]],
                           inputs: Sequence[tuple[str | os.PathLike, str]] = ()) -> None:
    """Refuse two options naming one output file, and an output naming one of the command's inputs.

    Each would be lost without a word: ``--json out --csv out`` wrote the CSV over
    the JSON, ``report md fcn.json --out fcn.json`` the report over the results.
    Paths are compared as files (symlinks, ``..`` and hard links seen through);
    streams (``/dev/stdout``, ``/dev/null``) are written to, not replaced, and may repeat.

    Parameters
    ----------
    outputs : sequence of (path or None, option)
        None: the option was not given.
    inputs : sequence of (path, what)
        Files the command reads, ``what`` naming them for the message.

    Raises
    ------
    InputError
        Naming both options (or the option and the input) and the file.
    """
    read = {_file_key(Path(path)): what for path, what in inputs}
    written: dict[Any, str] = {}
    for path, option in outputs:
        if path is None or _is_stream(Path(path)):
            continue
        key = _file_key(Path(path))
        if key in read:
            raise InputError(f"{option} {path}: this file is also an input ({read[key]}); writing it would replace "
                             "what the command reads. Choose another path.")
        if key in written:
            raise InputError(f"{written[key]} and {option} both name {path}: the second would replace the first. "
                             "Give each its own path.")
        written[key] = option


def _file_key(path: Path) -> Any:
    """What identifies the file `path` names: its device and inode when it exists, else its resolved path."""
    try:
        info = os.stat(path)
        return info.st_dev, info.st_ino
    except OSError:
        return str(path.resolve())
