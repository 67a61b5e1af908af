"""Reading p2p-eval's ``torch.save`` files, and saying what a file is when it is not one.

Every p2p-eval checkpoint holds only tensors and plain values, so it loads with
``weights_only=True``: unpickling anything else could run code. When a file
does not load, torch's message advises retrying with ``weights_only=False``,
which is unsafe advice for a file from elsewhere; `describe_file` says instead
what the file is (a JSON document, an image, a pickled model, a truncated
archive ...), and the caller says what was expected.
"""

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

from p2p_eval.errors import InputError

_JSON_FORMATS = {
    "p2p-eval-prepared": "a prepared dataset's dataset.json",
    "p2p-eval-run": "a run's run.json",
}


def describe_file(path: str | os.PathLike, error: BaseException | None = None) -> str:
    """What `path` is, in a few words, for a message about a file that did not load as expected.

    Parameters
    ----------
    path : path-like
        An existing file.
    error : exception, optional
        What ``torch.load(..., weights_only=True)`` raised for it, if it was tried.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
    ...     _ = f.write('{"format": "p2p-eval-prepared", "name": "city"}')
    >>> describe_file(f.name)
    "a JSON file (a prepared dataset's dataset.json)"
    """
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(512)
    if not head:
        return "an empty file"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "a PNG image"
    if head.startswith(b"\xff\xd8\xff"):
        return "a JPEG image"
    if head.lstrip()[:1] in (b"{", b"["):
        return _describe_json(path)
    if head.startswith(b"PK\x03\x04"):
        return _describe_archive(path, error)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle (an old-style torch.save, or other Python objects), which p2p-eval does not unpickle"
    try:
        head.decode("utf-8")
        return "a text file"
    except UnicodeDecodeError:
        return f"a file of {path.stat().st_size:,} bytes in no format p2p-eval knows (it starts {head[:8].hex(' ')})"


def _describe_json(path: Path) -> str:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "a text file that looks like JSON but does not parse"
    if isinstance(document, dict):
        if document.get("schema") == "p2p-eval/results":
            return f"a JSON file (a p2p-eval {document.get('kind')} results document)"
        if document.get("format") in _JSON_FORMATS:
            return f"a JSON file ({_JSON_FORMATS[document['format']]})"
    return "a JSON file"


def _describe_archive(path: Path, error: BaseException | None) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            damaged = archive.testzip() is not None
    except (zipfile.BadZipFile, OSError):
        return "a damaged or truncated zip archive (a torch.save file cut short, perhaps)"
    if damaged:
        return "a damaged zip archive (a torch.save file with a corrupt entry, perhaps)"
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        return "a TorchScript archive (torch.jit.save), not a torch.save of tensors"
    if any(n.endswith("/data.pkl") for n in names):
        if isinstance(error, pickle.UnpicklingError):
            return ("a torch.save file that holds Python objects besides tensors and plain values (a whole pickled "
                    "model, say), which p2p-eval does not unpickle: loading such a file can run any code")
        return "a torch.save file"
    return "a zip archive"


def read_torch_file(path: str | os.PathLike, fmt: str, *, what: str, fix: str) -> dict[str, Any]:
    """Load a p2p-eval ``torch.save`` file of plain types onto the CPU.

    Parameters
    ----------
    path : path-like
    fmt : str
        The ``"format"`` the file must declare (e.g. ``"p2p-eval-segmenter"``).
    what : str
        What the file is, for messages ("segmenter checkpoint").
    fix : str
        What to do when the file cannot be used, appended to the messages.

    Raises
    ------
    InputError
        If the file is missing, unreadable (corrupt, truncated), not a torch
        file of plain values, or of another format: the message says what the
        file is (`describe_file`) and what was expected.
    """
    import torch  # here, so that modules reading only images and JSON need no torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no {what}; {fix}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a file it cannot load
        raise InputError(f"{path}: not a {what} (format {fmt!r}): this is {describe_file(path, err)}; {fix}") from None
    if not isinstance(blob, dict) or blob.get("format") != fmt:
        found = (f"a p2p-eval {blob['format']!r} file" if isinstance(blob, dict) and isinstance(blob.get("format"), str)
                 else f"a torch.save file of a {type(blob).__name__} without p2p-eval's \"format\"")
        raise InputError(f"{path}: not a {what} (format {fmt!r}): this is {found}; {fix}")
    return blob
