"""`p2p-eval fcn-score` and `p2p-eval label-score`: score runs, print the table, write results."""

import argparse
import logging
import os

FCN_EPILOG = """\
examples:
  p2p-eval fcn-score runs/                  # dataset from run.json, segmenter from dataset.json
  p2p-eval fcn-score runs/ --with-real --json fcn.json --csv fcn.csv
  p2p-eval fcn-score results/label2photo --data data/cityscapes --segmenter seg.pt   # PyTorch pix2pix layout
  p2p-eval fcn-score runs/ --baseline unet-l1 --resamples 2000 --seed 1
  p2p-eval fcn-score gen/ --data data/cityscapes --segmenter fcn8s-cityscapes.pt --protocol official
  torchrun --standalone --nproc_per_node 2 -m p2p_eval fcn-score runs/   # frames sharded, all-reduced

Runs are p2p-eval runs (run.json + images/<split>/<frame>.png), PyTorch pix2pix
results (<name>/test_latest/images/<id>_fake_B.png), flat folders of
<frame>_leftImg8bit.png, or folders of such runs. Each image is resized
(Pillow bilinear on uint8, as the official scipy.misc.imresize) to its frame's
label resolution and segmented there. Per-frame results are cached in each
run folder: a re-run computes only what changed.
"""

LABEL_EPILOG = """\
examples:
  p2p-eval label-score runs/photo2labels-l1 runs/photo2labels-l1-cgan --json labels.json
  p2p-eval label-score results/photo2label --data data/cityscapes --with-real --csv labels.csv

Generated colour label maps are decoded by nearest Cityscapes label colour at
their own size, then upsampled (nearest) to the label resolution and compared
with the trainIds (paper Table 6, photo->labels).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    fcn = subparsers.add_parser(
        "fcn-score", help="FCN-score of generated photos (per-pixel acc., per-class acc., class IoU)",
        description="Segment generated photos with a segmenter trained on real photos and score the "
                    "segmentation against the label maps they were generated from (pix2pix Tables 1-3).",
        epilog=FCN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(fcn)
    fcn.add_argument("--segmenter", metavar="SEG.pt",
                     help="segmenter checkpoint (default: the one recorded in dataset.json)")
    fcn.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    fcn.add_argument("--protocol", choices=("default", "official"), default="default",
                     help="official: the pix2pix evaluate.py protocol (full-resolution Cityscapes labels, "
                          "absent classes counted as 0)")
    fcn.set_defaults(func=lambda args: _run(args, "fcn-score", fcn))
    label = subparsers.add_parser(
        "label-score", help="score generated colour label maps against the trainIds (photo->labels)",
        description="Decode generated colour label maps by nearest label colour and score them against the "
                    "ground-truth trainIds (pix2pix Table 6).",
        epilog=LABEL_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(label)
    label.set_defaults(func=lambda args: _run(args, "label-score", label), device="cpu", protocol="default",
                       segmenter=None)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN_OR_RUNS_DIR", help="run folders, or folders of runs")
    parser.add_argument("--data", metavar="PREPARED", help="prepared dataset (default: from the runs' run.json)")
    parser.add_argument("--split", default="val", help="split to score (default: val)")
    parser.add_argument("--json", metavar="OUT", help="write the results document here")
    parser.add_argument("--csv", metavar="OUT", help="write one CSV row per run here")
    parser.add_argument("--with-real", action="store_true",
                        help="add the ground-truth row: the dataset's real images scored the same way")
    parser.add_argument("--baseline", metavar="RUN",
                        help="paired bootstrap test of every run against this one (a run name or folder)")
    parser.add_argument("--batch-size", type=int, default=4, help="frames per forward pass (default: 4)")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="decoding threads, 0 = decode between forward passes (default: min(4, CPUs))")
    parser.add_argument("--absent-classes", choices=("nan", "zero"), default=None,
                        help="classes absent from the ground truth: nan = left out of the means "
                             "(cityscapesScripts, default), zero = counted as 0 (official pix2pix script)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score the frames a run has, warning how many are left out, instead of refusing")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")


def _run(args: argparse.Namespace, measure: str, parser: argparse.ArgumentParser) -> int:
    from p2p_eval.data.files import write_text
    from p2p_eval.device import pick_device
    from p2p_eval.results import write_results
    from p2p_eval.scoring.report import Bootstrap, format_table, to_csv
    from p2p_eval.scoring.session import ScoreConfig, score_runs

    try:
        config = ScoreConfig(
            measure=measure, runs=tuple(args.runs), data=args.data, segmenter=args.segmenter, split=args.split,
            with_real=args.with_real, baseline=args.baseline, batch_size=args.batch_size, workers=args.workers,
            absent_classes=args.absent_classes, allow_missing=args.allow_missing,
            protocol=args.protocol, bootstrap=Bootstrap(resamples=args.resamples, seed=args.seed),
        )
        device = pick_device(args.device)
    except ValueError as err:
        parser.error(str(err))
    device, rank = _join_process_group(device)
    try:
        document = score_runs(config, device=device)
    finally:
        _leave_process_group()
    if rank != 0:
        return 0
    print(format_table(document["runs"]))
    if args.json:
        write_results(args.json, document)
        print(f"results: {args.json}")
    if args.csv:
        write_text(args.csv, to_csv(document["runs"]))
        print(f"csv: {args.csv}")
    return 0


def _join_process_group(device):
    """Under torchrun (WORLD_SIZE > 1): join the group; one GPU per process; only rank 0 logs."""
    import torch

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device, 0
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = torch.distributed.get_rank()
    if rank != 0:
        logging.getLogger().setLevel(logging.ERROR)
    return device, rank


def _leave_process_group() -> None:
    import torch

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
