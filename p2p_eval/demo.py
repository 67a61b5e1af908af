"""`p2p-eval demo`: the paper's evaluation in miniature, on the embedded synthetic city.

The demo is a script of ordinary `p2p-eval` commands (each one also a step a
user can run by hand), so it shows exactly what the suite does and reuses
every command's own resumability: a finished step is skipped, an interrupted
one resumes. It reaches the trainers, scorers and reports only through
`p2p_eval.cli.main`, keeping the library free of imports from them.
"""

import json
import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from p2p_eval.measures import entry_type

log = logging.getLogger(__name__)

SUMMARY_KINDS = ("fcn-score", "colorfulness", "similarity")
"""The results the demo writes (``results/<kind>.json``), reported and summarised in this order."""


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of one demo; `QUICK` and `DEFAULT` below are the two offered."""

    n_train: int
    n_val: int
    size: int  # generation size (pix2pix input/output side)
    label_size: str  # HxW of the trainIds the scorer segments at
    variants: tuple[str, ...]
    epochs: int  # at constant lr: `p2p-eval train`'s default schedule, the paper's Torch code
    ngf: int
    segmenter_epochs: int
    segmenter_crop: str  # HxW random crops at label scale (the whole frame costs 4x more)


DEFAULT = DemoConfig(
    n_train=200, n_val=50, size=64, label_size="128x256",
    variants=("unet-l1", "unet-cgan", "unet-l1-cgan", "encdec-l1", "encdec-l1-cgan"),
    epochs=6, ngf=32, segmenter_epochs=8, segmenter_crop="64x128",
)
QUICK = DemoConfig(
    n_train=100, n_val=24, size=64, label_size="64x128",
    variants=("unet-l1", "unet-cgan", "unet-l1-cgan", "encdec-l1-cgan"),
    epochs=2, ngf=32, segmenter_epochs=5, segmenter_crop="64x128",
)


class Demo:
    """The demo's steps over one output folder."""

    def __init__(self, out: Path, config: DemoConfig, run_command: Callable[[list[str]], int], echo: Callable[[str], None]):
        self.out, self.config, self._run, self._echo = out, config, run_command, echo
        self.data = out / "data"
        self.segmenter = self.data / "segmenter.pt"
        self.runs = out / "runs"
        self.results = out / "results"
        self.report = out / "report"
        self.written: list[Path] = []

    def command(self, *args: str) -> None:
        self._echo("$ p2p-eval " + " ".join(args))
        status = self._run(list(args))
        if status != 0:
            raise RuntimeError(f"`p2p-eval {' '.join(args)}` failed with status {status}; see the messages above.")

    def prepare(self) -> None:
        c = self.config
        self.command("prepare", "synthetic", "--out", str(self.data), "--n-train", str(c.n_train),
                     "--n-val", str(c.n_val), "--size", str(c.size), "--label-size", c.label_size, "--quiet")

    def train_segmenter(self) -> None:
        if self.segmenter.is_file():
            self._echo(f"reusing the segmenter {self.segmenter}")
            return
        c = self.config
        resume = ("--resume",) if self.segmenter.with_name(self.segmenter.name + ".state").exists() else ()
        self.command("train-segmenter", "--data", str(self.data), "--out", str(self.segmenter),
                     "--crop", c.segmenter_crop, "--epochs", str(c.segmenter_epochs), *resume)

    def train(self, variant: str) -> None:
        run = self.runs / variant
        if _generated(run, self.config.n_val):
            self._echo(f"reusing the run {run} (trained, val generated)")
            return
        c = self.config
        resume = ("--resume",) if (run / "checkpoints" / "latest.pt").is_file() else ()
        self.command("train", "--data", str(self.data), "--variant", variant, "--out", str(run),
                     "--size", str(c.size), "--ngf", str(c.ngf),
                     *(() if variant.endswith("-l1") else ("--ndf", str(c.ngf))),  # L1 alone has no D
                     "--epochs", str(c.epochs),
                     "--sample-every", "0", "--threads", "1", *resume)

    def score(self) -> None:
        fcn, color = self.results / "fcn-score.json", self.results / "colorfulness.json"
        similarity = self.results / "similarity.json"
        self.command("fcn-score", str(self.runs), "--with-real", "--baseline", "unet-l1",
                     "--json", str(fcn), "--csv", str(self.results / "fcn-score.csv"))
        self.command("colorfulness", str(self.runs), "--with-real", "--baseline", "unet-l1",
                     "--json", str(color), "--plot", str(self.results / "colorfulness.png"), "--quiet")
        # PSNR/SSIM need no weights file (FID and LPIPS do: README "FID, KID, LPIPS, PSNR/SSIM").
        self.command("similarity", str(self.runs), "--baseline", "unet-l1", "--json", str(similarity), "--quiet")
        self.written += [fcn, self.results / "fcn-score.csv", color,
                         self.results / "colorfulness.png", self.results / "colorfulness.pdf", similarity]

    def reports(self) -> None:
        docs = [str(self.results / f"{kind}.json") for kind in SUMMARY_KINDS]
        tex = self.report / "tables.tex"
        self.command("report", "latex", *docs, "--out", str(tex), "--standalone", "--paper")
        self.written.append(tex)
        pdf = _compile(tex)
        if pdf:
            self.written.append(pdf)
        else:
            self._echo("pdflatex not found: tables.tex written, not compiled (apt-get install texlive-latex-extra)")
        self.command("report", "html", *docs, "--runs", str(self.runs), "--data", str(self.data),
                     "--out", str(self.report / "html"))
        self.command("report", "md", *docs, "--out", str(self.report / "summary.md"))
        self.written += [self.report / "html" / "index.html", self.report / "summary.md"]


def _generated(run: Path, n_val: int) -> bool:
    """Has this run finished training and written every val image?"""
    meta = run / "run.json"
    if not meta.is_file():
        return False
    folder = run / "images" / "val"
    return folder.is_dir() and sum(1 for _ in folder.glob("*.png")) >= n_val


def _compile(tex: Path) -> Path | None:
    """Compile a standalone LaTeX file with pdflatex, if installed; the PDF's path."""
    if shutil.which("pdflatex") is None:
        return None
    subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
        cwd=tex.parent, check=True, stdout=subprocess.DEVNULL, timeout=120,
    )
    return tex.with_suffix(".pdf")


def run_demo(out: Path, config: DemoConfig, run_command: Callable[[list[str]], int], echo: Callable[[str], None]) -> list[Path]:
    """Run every step; returns the files written, in order."""
    demo = Demo(out, config, run_command, echo)
    started = time.monotonic()
    demo.prepare()
    demo.train_segmenter()
    for variant in config.variants:
        demo.train(variant)
    demo.score()
    demo.reports()
    echo(f"demo finished in {time.monotonic() - started:.0f} s")
    return [demo.segmenter, demo.runs, *demo.written]


def summary_rows(results: Path) -> list[dict]:
    """One row per run of the FCN-score file: its scores, then the other `SUMMARY_KINDS`' side by side."""
    documents = {kind: json.loads((results / f"{kind}.json").read_text()) for kind in SUMMARY_KINDS}
    by_name = {kind: {r["name"]: r for r in d["runs"]} for kind, d in documents.items()}
    return [{"run": run["name"], **{key: by_name[kind].get(run["name"], {}).get(key)
                                    for kind in SUMMARY_KINDS for key in entry_type(kind).score_keys()}}
            for run in documents["fcn-score"]["runs"]]
