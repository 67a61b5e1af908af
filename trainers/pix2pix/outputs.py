"""What a run shows a person: the CSV loss log, sample grids and the HTML results page."""

import csv
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from p2p_eval.data.files import write_png, write_text
from p2p_eval.data.outputs import check_output_path

LOSS_LOG = "losses.csv"
PAGE = "index.html"


def check_run_folder(run: Path, splits: Sequence[str], *, option: str = "--out") -> None:
    """Check, before training or generating, that every file and folder a run writes can be written.

    Raises
    ------
    InputError
        Naming the path and the fix (`p2p_eval.data.outputs.check_output_path`).
    """
    check_output_path(run, folder=True, option=option)
    for folder in ("checkpoints", "samples", *(f"{kind}/{split}" for split in splits for kind in ("images", "html"))):
        check_output_path(run / folder, folder=True, option=option)
    for name in ("run.json", LOSS_LOG, PAGE, "checkpoints/latest.pt"):
        check_output_path(run / name, option=option)


def append_loss_rows(run: Path, rows: Sequence[dict[str, float]]) -> None:
    """Append rows (dicts with the same keys, ``step`` first) to ``<run>/losses.csv``."""
    if not rows:
        return
    path = run / LOSS_LOG
    new = not path.is_file()
    with path.open("a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)


def truncate_loss_log(run: Path, step: int) -> None:
    """Keep only the rows up to `step` (a resumed run redoes the later steps)."""
    path = run / LOSS_LOG
    if not path.is_file():
        return
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, [r for r in reader if int(r["step"]) <= step]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, out.getvalue())


def image_grid(rows: Sequence[Sequence[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Tile equal-sized (H, W, 3) uint8 images, one list per grid row, with white gaps.

    Returns
    -------
    grid : (R*(H+gap)-gap, C*(W+gap)-gap, 3) uint8 ndarray
    """
    h, w, _ = rows[0][0].shape
    n_cols = max(len(r) for r in rows)
    grid = np.full((len(rows) * (h + gap) - gap, n_cols * (w + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            grid[i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = image
    return grid


def write_sample_grid(
    run: Path, step: int, inputs: np.ndarray, outputs: np.ndarray, targets: np.ndarray
) -> Path:
    """``<run>/samples/step_NNNNNN.png``: one row per frame, input | output | target."""
    path = run / "samples" / f"step_{step:07d}.png"
    write_png(path, image_grid([list(triple) for triple in zip(inputs, outputs, targets)]))
    return path


def write_results_page(run: Path, split: str, frames: Sequence[str], title: str) -> Path:
    """``<run>/index.html``: input, output and target of every generated frame of `split`.

    Expects ``html/<split>/<frame>_input.png``, ``images/<split>/<frame>.png`` and
    ``html/<split>/<frame>_target.png`` under `run` (the PyTorch pix2pix
    results page shows the same three columns).
    """
    cells = []
    for frame in frames:
        f = html.escape(frame)
        cells.append(
            f"<tr><td>{f}</td>"
            f'<td><img src="html/{split}/{f}_input.png"></td>'
            f'<td><img src="images/{split}/{f}.png"></td>'
            f'<td><img src="html/{split}/{f}_target.png"></td></tr>'
        )
    page = (
        f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>\n"
        "<style>img{image-rendering:pixelated;width:256px}td{padding:2px;font:12px sans-serif}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><p>Split {html.escape(split)}, {len(frames)} frames.</p>\n"
        "<table><tr><th>frame</th><th>input</th><th>output</th><th>target</th></tr>\n"
        + "\n".join(cells)
        + "\n</table></body></html>\n"
    )
    path = run / PAGE
    write_text(path, page)
    return path


def format_losses(values: dict[str, float]) -> str:
    """Short progress-bar text, e.g. ``g_gan=0.71 g_l1=0.231 d_real=0.69``."""
    return " ".join(f"{k}={v:.3g}" if math.isfinite(v) else f"{k}={v}" for k, v in values.items())
