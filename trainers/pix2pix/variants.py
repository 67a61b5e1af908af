"""Named variants (one per row of the paper's comparisons) and the presets that train a table.

Names follow `p2p_eval.paper`: ``<generator>-<loss>[-<discriminator>]`` and
``photo2labels-<loss>``; `PRESETS` come from the paper's tables.
"""

from dataclasses import dataclass

from p2p_eval.paper import PRESETS, TABLES
from trainers.pix2pix.generators import ARCHS
from trainers.pix2pix.losses import LOSSES

DIRECTIONS = ("AtoB", "BtoA")
"""AtoB: colour label map -> photo (labels->photo); BtoA: photo -> colour label map."""
_NAMED_FIELDS = {"pixel": "pixel", "16": "16", "286": "286"}  # the default 70x70 has no suffix


@dataclass(frozen=True)
class Variant:
    name: str
    arch: str  # generator, one of generators.ARCHS
    loss: str  # one of losses.LOSSES
    receptive_field: str | None  # discriminator; None for L1 alone (no discriminator)
    direction: str  # one of DIRECTIONS


def _all_variants() -> dict[str, Variant]:
    found = []
    for arch in ARCHS:
        for loss in LOSSES:
            if loss == "l1":
                found.append(Variant(f"{arch}-l1", arch, loss, None, "AtoB"))
                continue
            found.append(Variant(f"{arch}-{loss}", arch, loss, "70", "AtoB"))
            found += [Variant(f"{arch}-{loss}-{s}", arch, loss, rf, "AtoB") for s, rf in _NAMED_FIELDS.items()]
    for loss in LOSSES:
        found.append(Variant(f"photo2labels-{loss}", "unet", loss, None if loss == "l1" else "70", "BtoA"))
    return {v.name: v for v in found}


VARIANTS: dict[str, Variant] = _all_variants()


def get_variant(name: str) -> Variant:
    """The variant called `name`; unknown names raise `ValueError` listing the choices."""
    if name not in VARIANTS:
        raise ValueError(f"Unknown variant {name!r}; choose one of: {', '.join(VARIANTS)}.")
    return VARIANTS[name]


def get_preset(name: str) -> tuple[str, ...]:
    """The variants of a preset; unknown names raise `ValueError` listing the presets."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of: {', '.join(PRESETS)}.")
    return PRESETS[name]


def describe_presets() -> str:
    """Human-readable list of presets (with their paper table) and of every variant."""
    lines = ["Presets (each trains every variant of one paper table, with the table's batch size):"]
    for key, variants in PRESETS.items():
        table = TABLES[key]
        lines.append(f"  {key:16s} {table.citation}, batch size {table.batch_size}: {', '.join(variants)}")
    lines.append("Variants:")
    for v in VARIANTS.values():
        disc = "no discriminator" if v.receptive_field is None else f"{v.receptive_field} D"
        lines.append(f"  {v.name:26s} {v.arch:7s} {v.loss:8s} {disc:17s} {v.direction}")
    return "\n".join(lines)
