"""The paper's objectives: L1, GAN, cGAN, L1+GAN, L1+cGAN (vanilla or least-squares GAN loss).

The GAN loss is binary cross-entropy on the discriminator's map of patch logits
(mean over patches), the non-saturating form for the generator; LSGAN uses the
squared error instead. The discriminator's loss is halved, as in the paper.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

LOSSES = ("l1", "gan", "cgan", "l1-gan", "l1-cgan")
GAN_MODES = ("vanilla", "lsgan")


@dataclass(frozen=True)
class LossConfig:
    name: str = "l1-cgan"  # one of LOSSES
    l1_weight: float = 100.0  # lambda; applies when the loss has an L1 term
    gan_mode: str = "vanilla"  # one of GAN_MODES; applies when the loss has a GAN term

    def __post_init__(self) -> None:
        if self.name not in LOSSES:
            raise ValueError(f"Expected loss `name` to be one of {LOSSES}, got {self.name!r}.")
        if self.gan_mode not in GAN_MODES:
            raise ValueError(f"Expected `gan_mode` to be one of {GAN_MODES}, got {self.gan_mode!r}.")
        if not self.l1_weight > 0:
            raise ValueError(f"Expected `l1_weight` (lambda) > 0, got {self.l1_weight}.")

    @property
    def uses_l1(self) -> bool:
        return self.name.startswith("l1")

    @property
    def uses_gan(self) -> bool:
        return self.name != "l1"

    @property
    def conditional(self) -> bool:
        """Whether the discriminator sees the input as well as the output."""
        return self.name.endswith("cgan")


def adversarial_loss(logits: torch.Tensor, is_real: bool, gan_mode: str = "vanilla") -> torch.Tensor:
    """GAN loss of a patch-logit map against an all-real or all-fake target.

    Parameters
    ----------
    logits : (N, 1, h, w) float tensor
        Discriminator output, one logit per patch.
    is_real : bool
        The target label of every patch.
    gan_mode : {"vanilla", "lsgan"}

    Returns
    -------
    loss : () float tensor
        Mean over patches and batch.

    Examples
    --------
    >>> float(adversarial_loss(torch.zeros(1, 1, 2, 2), True))  # -log(sigmoid(0)) = log 2
    0.6931...
    """
    logits = logits.float()  # losses in float32 under bf16 autocast
    target = torch.full_like(logits, 1.0 if is_real else 0.0)
    if gan_mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if gan_mode == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"Expected `gan_mode` to be one of {GAN_MODES}, got {gan_mode!r}.")


def discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, gan_mode: str
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Halved discriminator loss ``0.5 (L(D(real), 1) + L(D(fake), 0))`` and its two terms."""
    real = adversarial_loss(real_logits, True, gan_mode)
    fake = adversarial_loss(fake_logits, False, gan_mode)
    return 0.5 * (real + fake), {"d_real": real, "d_fake": fake}


def generator_loss(
    config: LossConfig, fake: torch.Tensor, target: torch.Tensor, fake_logits: torch.Tensor | None
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Generator loss ``L(D(fake), 1) + lambda * |fake - target|_1`` (terms per `config.name`).

    Parameters
    ----------
    config : LossConfig
    fake, target : (N, C, H, W) float tensor
    fake_logits : (N, 1, h, w) float tensor or None
        D's logits for the fake; None when the loss has no GAN term.

    Returns
    -------
    total : () float tensor
    terms : dict
        ``g_gan`` and ``g_l1`` (the L1 term before weighting), where present.
    """
    terms: dict[str, torch.Tensor] = {}
    total = fake.new_zeros((), dtype=torch.float32)
    if config.uses_gan:
        terms["g_gan"] = adversarial_loss(fake_logits, True, config.gan_mode)
        total = total + terms["g_gan"]
    if config.uses_l1:
        terms["g_l1"] = F.l1_loss(fake.float(), target.float())
        total = total + config.l1_weight * terms["g_l1"]
    return total, terms
