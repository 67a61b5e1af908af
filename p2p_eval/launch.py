"""``p2p-eval --nproc-per-node N COMMAND ...``: torchrun, with p2p-eval's own error reporting.

Under plain ``torchrun``, a process that stops on bad input makes torchrun
print its ``ChildFailedError`` block (a Python traceback and a failure table)
after p2p-eval's one message, whatever the exit status. This launcher runs
the same elastic agent (``torch.distributed.run``, ``--standalone``: one
machine), then turns a failed worker into the worker's exit status: the
message rank 0 printed stays the only one. A crash (not bad input) keeps its
traceback from the worker, and the launcher names the rank that failed.
"""

import logging
import sys
from collections.abc import Sequence

_AGENT_LOGGERS = "torch.distributed"


def launch(nproc_per_node: int, argv: Sequence[str]) -> int:
    """Run ``python -m p2p_eval ARGV`` in `nproc_per_node` processes under torchrun's agent.

    Returns
    -------
    status : int
        0 when every process succeeded, else the exit status of the first
        process that failed (2 for bad input, as without torchrun).
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    _quiet_agent()  # the loggers those imports made
    args = parse_args(["--standalone", "--nproc-per-node", str(nproc_per_node), "--module", "p2p_eval", *argv])
    try:
        run(args)
    except ChildFailedError as err:
        rank, failure = err.get_first_failure()
        if failure.exitcode != 2:  # bad input: rank 0 has said what and why; anything else, say who
            print(f"p2p-eval: process {rank} of {nproc_per_node} failed with exit status {failure.exitcode} "
                  "(its output is above).", file=sys.stderr)
        return failure.exitcode if failure.exitcode > 0 else 1
    return 0


def _quiet_agent() -> None:
    """The agent's own log lines (rendezvous info, "failed (exitcode: 2)", "closing signal") off.

    torch.distributed.elastic gives each of its module loggers a level of its
    own when the module is imported, so the level is set on every one that exists.
    """
    for name in [_AGENT_LOGGERS, *logging.root.manager.loggerDict]:
        if name.startswith(_AGENT_LOGGERS):
            logging.getLogger(name).setLevel(logging.CRITICAL)
