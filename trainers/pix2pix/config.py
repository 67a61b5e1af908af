"""The resolved configuration of a training run, and the operational options beside it.

`TrainConfig` is everything that decides the numbers (it goes into run.json and
every checkpoint, and a resume must match it); `RunOptions` is how the run is
carried out (device, workers, how often to write), which may change on resume.
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from p2p_eval.errors import InputError
from trainers.pix2pix.discriminators import DiscriminatorConfig, min_input_size
from trainers.pix2pix.generators import GeneratorConfig, depth_for_size
from trainers.pix2pix.losses import LossConfig
from trainers.pix2pix.protocol import QUANTIZE
from trainers.pix2pix.schedule import ScheduleConfig
from trainers.pix2pix.variants import DIRECTIONS, get_variant


@dataclass(frozen=True)
class TrainConfig:
    variant: str
    direction: str = "AtoB"  # one of variants.DIRECTIONS
    size: int = 256  # side of the square images the networks see
    batch_size: int = 1
    seed: int = 0
    jitter: bool = True  # resize to 286/256 of `size`, random crop back
    mirror: bool = True  # random horizontal flip of input and target together
    amp: bool = False  # bf16 autocast
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig | None = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"Expected `direction` in {DIRECTIONS}, got {self.direction!r}.")
        if self.batch_size < 1:
            raise ValueError(f"Expected `batch_size` >= 1, got {self.batch_size}.")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"Expected `seed` in [0, 2**32), got {self.seed}.")
        if (self.discriminator is None) == self.loss.uses_gan:
            raise ValueError(f"Loss {self.loss.name!r} and discriminator {self.discriminator} do not fit.")
        if self.discriminator is not None and self.discriminator.conditional != self.loss.conditional:
            raise ValueError(f"Loss {self.loss.name!r} needs conditional={self.loss.conditional} D.")
        if self.discriminator is not None and self.size < min_input_size(self.discriminator.receptive_field):
            raise ValueError(
                f"The {self.discriminator.receptive_field}x{self.discriminator.receptive_field} discriminator needs "
                f"images of at least {min_input_size(self.discriminator.receptive_field)} px, got --size {self.size}; "
                "train at a larger --size."
            )
        if self.generator.depth != depth_for_size(self.size, self.size):
            raise ValueError(f"Generator depth {self.generator.depth} does not fit size {self.size}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        d = dict(d)
        d["generator"] = GeneratorConfig(**d["generator"])
        d["discriminator"] = DiscriminatorConfig(**d["discriminator"]) if d["discriminator"] else None
        d["loss"] = LossConfig(**d["loss"])
        if "kind" not in d["schedule"]:
            raise InputError(
                "the run was trained by an older p2p-eval, whose lr schedule (a per-step linear decay) is "
                "neither `--schedule torch` nor `pytorch`; train it again into a new --out."
            )
        d["schedule"] = ScheduleConfig(**d["schedule"])
        return cls(**d)


def config_for_variant(
    variant: str,
    *,
    size: int = 256,
    ngf: int = 64,
    ndf: int = 64,
    norm: str = "batch",
    dropout: bool = True,
    l1_weight: float = 100.0,
    gan_mode: str = "vanilla",
    schedule: ScheduleConfig | None = None,
    **run: Any,
) -> TrainConfig:
    """Resolve a named variant and the user's settings into a validated `TrainConfig`.

    `run` takes the remaining `TrainConfig` fields (batch_size, seed, jitter, mirror, amp).

    Raises
    ------
    ValueError
        For an unknown variant or a setting that does not fit it.
    """
    v = get_variant(variant)
    generator = GeneratorConfig(v.arch, depth_for_size(size, size), ngf, norm, dropout)
    loss = LossConfig(v.loss, l1_weight, gan_mode)
    discriminator = None
    if v.receptive_field is not None:
        discriminator = DiscriminatorConfig(v.receptive_field, loss.conditional, ndf, norm)
    return TrainConfig(
        variant=v.name, direction=v.direction, size=size, generator=generator,
        discriminator=discriminator, loss=loss, schedule=schedule or ScheduleConfig(), **run,
    )


@dataclass(frozen=True)
class RunOptions:
    out: Path  # the run folder
    device: str = "auto"
    workers: int = 0  # DataLoader worker processes (0: load in the training process)
    threads: int | None = None  # torch CPU threads (None: torch's default)
    checkpoint_every: int = 500  # steps; also at the end
    sample_every: int = 500  # steps between sample grids (0: none)
    resume: bool = False
    preset: str | None = None  # recorded in run.json
    progress: bool = True
    generate_splits: tuple[str, ...] = ("val",)  # generated at the end of training
    quantize: str = "truncate"  # how generated images become 8-bit: one of protocol.QUANTIZE

    def __post_init__(self) -> None:
        if self.quantize not in QUANTIZE:
            raise ValueError(f"Expected `quantize` in {QUANTIZE}, got {self.quantize!r}.")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"Expected `threads` >= 1, got {self.threads}.")
        if self.workers < 0 or self.checkpoint_every < 1 or self.sample_every < 0:
            raise ValueError(
                f"Expected workers >= 0, checkpoint_every >= 1 and sample_every >= 0, got "
                f"{self.workers}, {self.checkpoint_every}, {self.sample_every}."
            )
