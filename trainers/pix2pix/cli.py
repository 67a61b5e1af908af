"""`p2p-eval train` and `p2p-eval generate`: the command-line edge of the pix2pix trainers.

Settings are validated here, once, into a `TrainConfig`; a setting that does not
apply to the chosen variant (--ndf for L1 alone, say) is an error, not ignored.
"""

import argparse
import json
import sys
from pathlib import Path

from p2p_eval.commands.argtypes import positive_float, positive_int, seed
from trainers.pix2pix.protocol import DEFAULT_EPOCHS, QUANTIZE, SCHEDULES

TRAIN_EPILOG = """examples:
  p2p-eval train --list
  p2p-eval train --describe unet-l1-cgan --size 256 --json
  p2p-eval train --data data/city --variant unet-l1-cgan --out runs/unet-l1-cgan
  p2p-eval train --data data/city --variant unet-l1-cgan --out runs/unet-l1-cgan --schedule pytorch
  p2p-eval train --data data/city --variant unet-l1-cgan --out runs/unet-l1-cgan --resume
  p2p-eval train --data data/city --preset generators --out runs/      # batch size 10, as Table 2
  p2p-eval train --data data/city --preset losses --out runs/ --size 64 --ngf 32 --epochs 5
  torchrun --nproc_per_node 4 -m p2p_eval train --data data/city --variant unet-l1-cgan --out runs/x

Defaults follow the paper's Torch code (train.lua): 200 epochs at a constant lr 2e-4
(--schedule torch), batch size 1 (10 for --preset generators, as Table 2's caption says),
outputs made 8-bit by truncation. --schedule pytorch is the PyTorch port's: 100 epochs at
constant lr, then 100 epochs of linear decay (1 - k/101 in the k-th epoch from epoch 100).
"""
GENERATE_EPILOG = """examples:
  p2p-eval generate runs/unet-l1-cgan --split val
  p2p-eval generate runs/unet-l1-cgan --data data/city --split val --eval-mode
  p2p-eval generate runs/unet-l1-cgan --split val --quantize round
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train pix2pix variants of the paper (or --list / --describe them)",
        description="Train a pix2pix variant (or a preset: every variant of one paper table) on a "
        "prepared dataset, then generate its val split.",
        epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--list", action="store_true", help="list presets and variants")
    what.add_argument("--describe", metavar="VARIANT", help="print parameter counts and D receptive field")
    what.add_argument("--variant", help="train one variant into --out")
    what.add_argument("--preset", help="train every variant of a paper table into --out/<variant>")
    p.add_argument("--data", type=Path, help="prepared dataset (from `p2p-eval prepare`)")
    p.add_argument("--out", type=Path, help="run folder (--variant) or folder of runs (--preset)")
    p.add_argument("--json", action="store_true", help="with --describe: print JSON")
    net = p.add_argument_group("networks")
    net.add_argument("--size", type=int, help="side of the images the nets see (default: the dataset's; 256 for --describe)")
    net.add_argument("--ngf", type=int, default=64, help="generator filters in the first layer (default 64)")
    net.add_argument("--ndf", type=int, help="discriminator filters in the first layer (default 64)")
    net.add_argument("--norm", choices=("batch", "instance"), default="batch", help="normalisation (default batch)")
    net.add_argument("--dropout", action=argparse.BooleanOptionalAction, default=True, help="dropout in the decoder (default on)")
    opt = p.add_argument_group("objective and optimisation")
    opt.add_argument("--lambda-l1", type=float, help="weight of the L1 term (default 100)")
    opt.add_argument("--gan-mode", choices=("vanilla", "lsgan"), help="GAN loss (default vanilla: BCE on the patch logits)")
    opt.add_argument("--schedule", choices=SCHEDULES, default="torch",
                     help="lr schedule: torch (the paper's code: constant lr) or pytorch (constant, then linear "
                     "decay) (default torch)")
    opt.add_argument("--epochs", type=_epochs, help="epochs at constant lr (default: %d for torch, %d for pytorch)"
                     % (DEFAULT_EPOCHS["torch"][0], DEFAULT_EPOCHS["pytorch"][0]))
    opt.add_argument("--decay-epochs", type=_epochs,
                     help="--schedule pytorch: epochs of linear decay after --epochs (default %d)" % DEFAULT_EPOCHS["pytorch"][1])
    opt.add_argument("--lr", type=positive_float, default=2e-4, help="Adam learning rate (default 2e-4)")
    opt.add_argument("--beta1", type=float, default=0.5, help="Adam beta1 (default 0.5)")
    opt.add_argument("--batch-size", type=positive_int,
                     help="batch size per process (default: the preset's, as in the paper: 10 for generators, else 1)")
    opt.add_argument("--jitter", action=argparse.BooleanOptionalAction, default=True, help="resize to 286/256 and random-crop (default on)")
    opt.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=True, help="random horizontal flips (default on)")
    opt.add_argument("--seed", type=seed, default=0, help="random seed, 0 to 2**32-1 (default 0)")
    opt.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA)")
    opt.add_argument("--quantize", choices=QUANTIZE, default="truncate",
                     help="how generated images become 8-bit: truncate as the reference code, or round (default truncate)")
    run = p.add_argument_group("running")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    run.add_argument("--workers", type=int, default=0, help="data-loading worker processes (default 0)")
    run.add_argument("--threads", type=int, help="torch CPU threads (default: torch's; 1 is far faster on a busy CPU)")
    run.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints (default 500)")
    run.add_argument("--sample-every", type=int, default=500, help="steps between sample grids, 0 for none (default 500)")
    run.add_argument("--resume", action="store_true", help="continue from <out>/checkpoints/latest.pt")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_train)

    g = subparsers.add_parser(
        "generate", help="translate a split with a trained run's generator",
        description="Write <run>/images/<split>/<frame>.png for every frame of a split, dropout on and "
        "batch statistics as in the paper (--eval-mode for eval-mode inference).",
        epilog=GENERATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("run", type=Path, help="run folder with checkpoints/latest.pt")
    g.add_argument("--data", type=Path, help="prepared dataset (default: the one in run.json)")
    g.add_argument("--split", default="val", help="split to translate (default val)")
    g.add_argument("--eval-mode", action="store_true", help="no dropout, running BN statistics")
    g.add_argument("--quantize", choices=QUANTIZE,
                   help="truncate (as the reference code) or round (default: what run.json records, else truncate)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=run_generate)


def _epochs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _schedule(args: argparse.Namespace):
    """The `ScheduleConfig` asked for: each schedule's epochs default to its own code's."""
    from trainers.pix2pix.schedule import ScheduleConfig

    if args.schedule == "torch" and args.decay_epochs is not None:
        raise ValueError("--decay-epochs applies to --schedule pytorch; the Torch schedule (the paper's code) "
                         "keeps the lr constant for all --epochs.")
    epochs, decay_epochs = DEFAULT_EPOCHS[args.schedule]
    return ScheduleConfig(
        args.schedule, args.lr, args.beta1, 0.999,
        epochs if args.epochs is None else args.epochs,
        decay_epochs if args.decay_epochs is None else args.decay_epochs,
    )


def _batch_size(args: argparse.Namespace) -> int:
    """As asked, else the batch size the paper trained the preset's table with (1 for a single variant)."""
    from p2p_eval.paper import TABLES

    if args.batch_size is not None:
        return args.batch_size
    return TABLES[args.preset].batch_size if args.preset else 1


def _config(variant: str, args: argparse.Namespace, size: int, strict: bool):
    """The `TrainConfig` of `variant`; with `strict`, settings that do not apply are errors."""
    from trainers.pix2pix.config import config_for_variant
    from trainers.pix2pix.losses import LossConfig
    from trainers.pix2pix.variants import get_variant

    loss = LossConfig(get_variant(variant).loss)
    unused = [flag for flag, value, applies in (
        ("--ndf", args.ndf, loss.uses_gan), ("--gan-mode", args.gan_mode, loss.uses_gan),
        ("--lambda-l1", args.lambda_l1, loss.uses_l1)) if value is not None and not applies]
    if unused and strict:
        raise ValueError(f"{', '.join(unused)} do(es) not apply to variant {variant!r} (loss {loss.name}).")
    return config_for_variant(
        variant, size=size, ngf=args.ngf, ndf=args.ndf or 64, norm=args.norm, dropout=args.dropout,
        l1_weight=args.lambda_l1 or 100.0, gan_mode=args.gan_mode or "vanilla",
        schedule=_schedule(args),
        batch_size=_batch_size(args), seed=args.seed, jitter=args.jitter, mirror=args.mirror, amp=args.amp,
    )


def run_train(args: argparse.Namespace) -> int:
    from trainers.pix2pix.variants import describe_presets, get_preset

    if args.list:
        print(describe_presets())
        return 0
    try:
        if args.describe:
            return _describe(_config(args.describe, args, args.size or 256, strict=True), args.json)
        variants = get_preset(args.preset) if args.preset else (args.variant,)
    except ValueError as err:
        print(f"p2p-eval train: error: {err}", file=sys.stderr)
        return 2
    if args.data is None or args.out is None:
        print("p2p-eval train: error: --data and --out are required to train.", file=sys.stderr)
        return 2
    return _train_all(args, variants)


def _train_all(args: argparse.Namespace, variants: tuple[str, ...]) -> int:
    from p2p_eval.data.prepared import PreparedDataset
    from p2p_eval.distributed import teardown_distributed
    from trainers.pix2pix.config import RunOptions
    from trainers.pix2pix.outputs import check_run_folder
    from trainers.pix2pix.train import TrainingDiverged, train

    data = PreparedDataset.load(args.data)
    size = args.size or data.image_size[0]
    try:
        configs = [_config(v, args, size, strict=not args.preset) for v in variants]
        options = [RunOptions(out=args.out / v if args.preset else args.out, device=args.device,
                              workers=args.workers, threads=args.threads, checkpoint_every=args.checkpoint_every,
                              sample_every=args.sample_every, resume=args.resume, preset=args.preset,
                              quantize=args.quantize, progress=not args.quiet)
                   for v in variants]
    except ValueError as err:
        print(f"p2p-eval train: error: {err}", file=sys.stderr)
        return 2
    for option in options:  # every run of a preset, before the first one trains
        check_run_folder(option.out, option.generate_splits)
    completed = False
    try:
        for config, option in zip(configs, options):
            try:
                meta = train(config, data, option)
            except TrainingDiverged as err:
                print(f"p2p-eval train: error: {err}", file=sys.stderr)
                return 1
            if meta:
                print(f"{option.out}: {config.variant}, {meta['steps']} steps; generated {sorted(meta['generated'])}")
        completed = True
    finally:
        teardown_distributed(completed=completed)  # torchrun: other ranks wait while rank 0 generates
    return 0


def _describe(config, as_json: bool) -> int:
    from trainers.pix2pix.discriminators import build_discriminator, patch_map_size, receptive_field
    from trainers.pix2pix.generators import build_generator
    from trainers.pix2pix.init import count_parameters

    disc = build_discriminator(config.discriminator) if config.discriminator else None
    info = {
        "variant": config.variant, "size": config.size, "direction": config.direction,
        "generator": config.generator.arch, "depth": config.generator.depth,
        "generator_params": count_parameters(build_generator(config.generator)),
        "discriminator_params": count_parameters(disc) if disc else 0,
        "receptive_field": receptive_field(disc) if disc else None,
        "patch_map": patch_map_size(disc, config.size) if disc else None,
        "conditional": config.discriminator.conditional if disc else None,
    }
    if as_json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['variant']} at {config.size}x{config.size} ({config.direction})")
    print(f"  generator      {info['generator']}, {info['depth']} downsamplings, {info['generator_params']:,} parameters")
    if disc:
        kind = "conditional" if info["conditional"] else "unconditional"
        print(f"  discriminator  {kind}, {info['discriminator_params']:,} parameters, receptive field "
              f"{info['receptive_field']}x{info['receptive_field']}, {info['patch_map']}x{info['patch_map']} patch map")
    else:
        print("  discriminator  none (L1 alone)")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    import torch

    from p2p_eval.data.files import read_json
    from p2p_eval.data.prepared import PreparedDataset, split_record
    from p2p_eval.data.runs import write_run_json
    from p2p_eval.device import pick_device
    from p2p_eval.errors import InputError
    from trainers.pix2pix.checkpoint import LATEST, read_checkpoint
    from trainers.pix2pix.config import TrainConfig
    from trainers.pix2pix.generate import generate_split
    from trainers.pix2pix.generators import build_generator
    from trainers.pix2pix.outputs import check_run_folder
    from trainers.pix2pix.train import run_protocol

    meta = read_json(args.run / "run.json")
    check_run_folder(args.run, (args.split,), option="RUN")
    blob = read_checkpoint(args.run / LATEST)
    try:
        config = TrainConfig.from_dict(blob["config"])
    except InputError as err:
        raise InputError(f"{args.run / LATEST}: {err}") from None
    data = PreparedDataset.load(args.data or meta["dataset"])
    try:
        device = pick_device(args.device)
    except ValueError as err:
        print(f"p2p-eval generate: error: {err}", file=sys.stderr)
        return 2
    quantize = args.quantize or (meta.get("protocol") or {}).get("quantize", "truncate")
    generator = build_generator(config.generator).to(device)
    generator.load_state_dict(blob["generator"])
    source = split_record(data, args.split)  # what the images come from, checked by every scorer
    count = generate_split(generator, data, args.split, run=args.run, direction=config.direction,
                           size=config.size, eval_mode=args.eval_mode, seed=config.seed, quantize=quantize,
                           progress=not args.quiet, title=f"{args.run.name} ({config.variant}), step {blob['step']}")
    generated = dict(meta.get("generated") or {})
    generated[args.split] = {"frames": count, "step": blob["step"], "eval_mode": args.eval_mode, "quantize": quantize,
                             "dataset": source}
    moved = _generated_from(meta, data)
    write_run_json(args.run, {**meta, **moved, "eval_mode": args.eval_mode, "generated": generated,
                              "protocol": run_protocol(config, quantize),
                              "versions": {**meta.get("versions", {}), "torch": torch.__version__}})
    print(f"{args.run}: wrote {count} {args.split} images from {data.root} (step {blob['step']}, "
          f"eval_mode={args.eval_mode}, quantize={quantize})")
    if moved:
        print(f"{args.run}: run.json's dataset is now {moved['dataset']} (it was trained on {moved['trained_on']}), "
              "so scorers default to the data these images came from.")
    return 0


def _generated_from(meta: dict, data) -> dict:
    """run.json fields to change when a run generates from another dataset than the one it records.

    Scorers take their default dataset from run.json's ``dataset``; left at the
    training data, they would score these images against labels they were not
    made from. The training data is kept as ``trained_on``.
    """
    from pathlib import Path

    recorded = meta.get("dataset")
    current = str(data.root.resolve())
    if recorded and Path(recorded).resolve() == Path(current):
        return {}
    return {"dataset": current, "trained_on": meta.get("trained_on") or recorded}
