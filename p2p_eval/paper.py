"""The pix2pix paper's comparisons: which variant is which row, and the published numbers.

One table, one truth: trainers take their presets from `TABLES`, reports take
row labels, captions and the reference numbers from it. Numbers are copied from
the paper (v3 numbering; CVPR numbering in `cvpr`), see shared/reference/PAPER.md.

Variant names: ``<generator>-<loss>[-<discriminator>]`` with generator ``unet``
or ``encdec``, loss ``l1``, ``gan``, ``cgan``, ``l1-gan`` or ``l1-cgan``, and
the discriminator's receptive field ``pixel``, ``16`` or ``286`` when it is not
the default 70x70; ``photo2labels-<loss>`` runs the photo->labels direction.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperRow:
    variant: str | None  # the bundled trainer variant that reproduces the row (None: no model)
    label: str  # the row's label in the paper
    numbers: tuple[float, ...]  # in the order of the table's columns


@dataclass(frozen=True)
class PaperTable:
    key: str  # preset name, also the report's table name
    v3: str  # "Table 1" etc. in arXiv v3
    cvpr: str | None  # numbering in the CVPR 2017 version; None: in arXiv v3 only
    caption: str  # the paper's, LaTeX; `caption_on` names the dataset a result came from
    kind: str  # the results kind it is rendered from
    columns: tuple[str, ...]  # column headers, LaTeX
    rows: tuple[PaperRow, ...]
    row_header: str = "Loss"  # header of the row-label column, LaTeX
    batch_size: int = 1  # the batch size its models were trained with (the trainer preset's default)

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(r.variant for r in self.rows if r.variant)

    def label_of(self, variant: str) -> str | None:
        """The paper's label of `variant` in this table, else the label `variant_label` makes (None: unknown)."""
        return next((r.label for r in self.rows if r.variant == variant), None) or variant_label(variant)

    def caption_on(self, dataset: str | None) -> str:
        r"""The caption, naming `dataset` (LaTeX) where the paper names `PAPER_DATASET`; the paper's own for None.

        Examples
        --------
        >>> print(TABLES["photo2labels"].caption_on("synthetic-city"))
        Performance of photo$\to$labels on synthetic-city.
        """
        return self.caption if not dataset else self.caption.replace(PAPER_DATASET, dataset)

    @property
    def citation(self) -> str:
        """Where the table is in the paper, in both numberings.

        Examples
        --------
        >>> TABLES["losses"].citation, TABLES["generators"].citation
        ('CVPR 2017 Table 1; arXiv v3 Table 1', 'arXiv v3 Table 2; not in the CVPR 2017 version')
        """
        if self.cvpr is None:
            return f"arXiv v3 {self.v3}; not in the CVPR 2017 version"
        return f"CVPR 2017 {self.cvpr}; arXiv v3 {self.v3}"


PAPER_DATASET = "Cityscapes"
"""The dataset the paper's Cityscapes tables were measured on, as their captions name it."""

_GENERATORS = {"unet": "U-net", "encdec": "Encoder-decoder", "photo2labels": "Photo$\\to$labels"}
_LOSSES = {"l1": "L1", "gan": "GAN", "cgan": "cGAN", "l1-gan": "L1+GAN", "l1-cgan": "L1+cGAN"}
_DISCRIMINATORS = {"pixel": "1$\\times$1", "16": "16$\\times$16", "286": "286$\\times$286"}  # 70x70: no suffix


def variant_label(variant: str | None) -> str | None:
    r"""A label in the paper's words for any variant the bundled trainers name (None for any other name).

    Used for runs of a paper table's kind whose variant is not one of its rows,
    so a table never mixes paper labels with raw variant names.

    Examples
    --------
    >>> variant_label("unet-cgan"), variant_label("encdec-l1")
    ('U-net (cGAN)', 'Encoder-decoder (L1)')
    >>> print(variant_label("unet-l1-cgan-pixel"), variant_label("photo2labels-l1-cgan"), sep="; ")
    U-net (L1+cGAN, 1$\times$1 D); Photo$\to$labels (L1+cGAN)
    >>> variant_label("my-model") is None
    True
    """
    generator, _, rest = (variant or "").partition("-")
    for loss in sorted(_LOSSES, key=len, reverse=True):  # "l1-cgan" before "l1"
        if rest == loss or rest.startswith(f"{loss}-"):
            discriminator = rest[len(loss) + 1:]
            break
    else:
        return None
    if generator not in _GENERATORS or (discriminator and (discriminator not in _DISCRIMINATORS or "gan" not in loss)):
        return None
    suffix = f", {_DISCRIMINATORS[discriminator]} D" if discriminator else ""
    return f"{_GENERATORS[generator]} ({_LOSSES[loss]}{suffix})"


FCN_COLUMNS = ("Per-pixel acc.", "Per-class acc.", "Class IOU")
GROUND_TRUTH = "Ground truth"

# fmt: off
TABLES: dict[str, PaperTable] = {t.key: t for t in (
    PaperTable("losses", "Table 1", "Table 1",
               "FCN-scores for different losses, evaluated on Cityscapes labels$\\to$photos.",
               "fcn-score", FCN_COLUMNS, (
        PaperRow("unet-l1",      "L1",           (0.42, 0.15, 0.11)),
        PaperRow("unet-gan",     "GAN",          (0.22, 0.05, 0.01)),
        PaperRow("unet-cgan",    "cGAN",         (0.57, 0.22, 0.16)),
        PaperRow("unet-l1-gan",  "L1+GAN",       (0.64, 0.20, 0.15)),
        PaperRow("unet-l1-cgan", "L1+cGAN",      (0.66, 0.23, 0.17)),
        PaperRow(None,           GROUND_TRUTH,   (0.80, 0.26, 0.21)),
    )),
    # v3 Table 2's caption: this experiment used batch size 10 (the others batch size 1).
    PaperTable("generators", "Table 2", None,
               "FCN-scores for different generator architectures (and objectives), evaluated on "
               "Cityscapes labels$\\to$photos.",
               "fcn-score", FCN_COLUMNS, batch_size=10, rows=(
        PaperRow("encdec-l1",      "Encoder-decoder (L1)",      (0.35, 0.12, 0.08)),
        PaperRow("encdec-l1-cgan", "Encoder-decoder (L1+cGAN)", (0.29, 0.09, 0.05)),
        PaperRow("unet-l1",        "U-net (L1)",                (0.48, 0.18, 0.13)),
        PaperRow("unet-l1-cgan",   "U-net (L1+cGAN)",           (0.55, 0.20, 0.14)),
    )),
    PaperTable("receptive-field", "Table 3", "Table 2",
               "FCN-scores for different receptive field sizes of the discriminator, evaluated on "
               "Cityscapes labels$\\to$photos.",
               "fcn-score", FCN_COLUMNS, row_header="Discriminator receptive field", rows=(
        PaperRow("unet-l1-cgan-pixel", "1$\\times$1",     (0.39, 0.15, 0.10)),
        PaperRow("unet-l1-cgan-16",    "16$\\times$16",   (0.65, 0.21, 0.17)),
        PaperRow("unet-l1-cgan",       "70$\\times$70",   (0.66, 0.23, 0.17)),
        PaperRow("unet-l1-cgan-286",   "286$\\times$286", (0.42, 0.16, 0.11)),
    )),
    PaperTable("colorfulness", "Figure 7(d)", "Figure 6",
               "Histogram intersection against ground truth (Cityscapes labels$\\to$photos).",
               "colorfulness", ("L", "a", "b"), (
        PaperRow("unet-l1",            "L1",       (0.81, 0.69, 0.70)),
        PaperRow("unet-cgan",          "cGAN",     (0.87, 0.74, 0.84)),
        PaperRow("unet-l1-cgan",       "L1+cGAN",  (0.86, 0.84, 0.82)),
        PaperRow("unet-l1-cgan-pixel", "PixelGAN", (0.83, 0.68, 0.78)),
    )),
    PaperTable("amt-maps", "Table 4", "Table 3",
               "AMT ``real vs fake'' test on maps$\\leftrightarrow$aerial photos "
               "(\\% of trials labeled real, $\\pm$ bootstrap SD (raters, then trials)).",
               "study", ("Photo$\\to$Map", "Map$\\to$Photo"), (
        PaperRow(None, "L1",      (2.8, 0.8)),
        PaperRow(None, "L1+cGAN", (6.1, 18.9)),
    )),
    PaperTable("amt-colorization", "Table 5", "Table 4",
               "AMT ``real vs fake'' test on colorization (\\% of trials labeled real).",
               "study", ("\\% Turkers labeled real",), row_header="Method", rows=(
        PaperRow(None, "L2 regression from [62]", (16.3,)),
        PaperRow(None, "Zhang et al. 2016 [62]",  (27.8,)),
        PaperRow(None, "Ours",                    (22.5,)),
    )),
    PaperTable("photo2labels", "Table 6", "Table 5",
               "Performance of photo$\\to$labels on Cityscapes.",
               "label-score", FCN_COLUMNS, (
        PaperRow("photo2labels-l1",      "L1",      (0.86, 0.42, 0.35)),
        PaperRow("photo2labels-cgan",    "cGAN",    (0.74, 0.28, 0.22)),
        PaperRow("photo2labels-l1-cgan", "L1+cGAN", (0.83, 0.36, 0.29)),
    )),
)}
# fmt: on

PAPER_ERRORS = {
    # The "+-" of the AMT tables, as printed (percentage points).
    "amt-maps": {"L1": (1.0, 0.3), "L1+cGAN": (1.3, 2.5)},
    "amt-colorization": {"L2 regression from [62]": (2.4,), "Zhang et al. 2016 [62]": (2.7,), "Ours": (1.6,)},
}

PRESETS: dict[str, tuple[str, ...]] = {
    key: TABLES[key].variants for key in ("losses", "receptive-field", "generators", "photo2labels")
}
"""Trainer presets: each trains every variant of one paper table, with the table's `PaperTable.batch_size`
and the schedule of the paper's Torch code (200 epochs at constant lr; `trainers.pix2pix.schedule`)."""


def table_of(kind: str, variants: list[str]) -> PaperTable | None:
    """The paper table whose variants best cover a result's runs (None if none match)."""
    candidates = [t for t in TABLES.values() if t.kind == kind and t.variants]
    scored = [(len(set(variants) & set(t.variants)), t) for t in candidates]
    best = max(scored, key=lambda s: s[0], default=(0, None))
    return best[1] if best[0] else None
