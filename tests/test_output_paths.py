"""Writing outputs: permissions follow the umask, and bad output paths stop a command before its work."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import make_prepared_dataset
from p2p_eval.cli import main
from p2p_eval.data.files import write_jpeg, write_json, write_png, write_text
from p2p_eval.data.outputs import check_output_path
from p2p_eval.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_atomic_writes_honour_the_umask(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        write_png(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))
        write_jpeg(tmp_path / "a.jpg", np.zeros((8, 8, 3), np.uint8))
        write_json(tmp_path / "a.json", {"x": 1})
        write_text(tmp_path / "sub" / "a.tex", "x")
    finally:
        os.umask(old)
    for name in ("a.png", "a.jpg", "a.json", "sub/a.tex"):
        assert _mode(tmp_path / name) == expected, name
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_prepared_dataset_is_readable_by_others_under_umask_022(tmp_path):
    old = os.umask(0o022)
    try:
        assert main(["prepare", "synthetic", "--out", str(tmp_path / "d"), "--n-train", "1", "--n-val", "1",
                     "--size", "32", "--label-size", "32x64", "--workers", "1", "--quiet"]) == 0
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "d").rglob("*") if p.is_file()]
    assert len(files) == 7 and {_mode(p) for p in files} == {0o644}


def test_check_output_path_names_each_problem(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    assert check_output_path(tmp_path / "new" / "deeper" / "out.json") == tmp_path / "new" / "deeper" / "out.json"
    assert check_output_path(tmp_path / "folder", folder=True) == tmp_path / "folder"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    with pytest.raises(InputError, match=r"--json .*folder: this is a folder, but --json must name a file"):
        check_output_path(tmp_path / "folder", option="--json")
    with pytest.raises(InputError, match=r"file.txt: this is a file, but --out must name a folder"):
        check_output_path(tmp_path / "file.txt", folder=True)
    with pytest.raises(InputError, match=r"cannot be created, because .*file.txt is a file"):
        check_output_path(tmp_path / "file.txt" / "sub" / "out.png")


def test_a_symlinked_output_keeps_its_link_and_updates_the_file_it_names(tmp_path):
    shared = tmp_path / "shared" / "fcn.json"
    write_json(shared, {"old": True})
    link = tmp_path / "fcn.json"
    link.symlink_to(shared)
    write_json(link, {"new": True})
    assert link.is_symlink() and json.loads(shared.read_text()) == {"new": True}
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_stream_is_written_to_not_replaced(tmp_path):
    """`--csv /dev/stdout` or `--json /dev/null` write to the stream: renaming a file over it replaced the
    device node itself as root (/dev/null became a regular file) and failed after the work as anyone else."""
    import threading

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()), daemon=True)
    reader.start()
    assert check_output_path(pipe, option="--json") == pipe
    write_json(pipe, {"x": 1})
    reader.join(timeout=10)
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert received and json.loads(received[0]) == {"x": 1}


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_a_folder_no_file_can_be_created_in_stops_before_the_work():
    """/proc lets root pass `os.access`, and then refused the results file after the scoring."""
    with pytest.raises(InputError, match=r"--json /proc/p2p-eval\.json: cannot write into /proc"):
        check_output_path("/proc/p2p-eval.json", option="--json")


def _prepare(data: Path, out: Path, *extra: str) -> list[str]:
    return ["prepare", "synthetic", "--out", str(out), "--n-train", "1", "--n-val", "1", "--size", "32",
            "--label-size", "32x64", "--workers", "1", "--quiet", *extra]


def _commands(data: Path, out: Path, kind: str) -> dict[str, list[str]]:
    """The data and trainer commands that write to `out` (a file or a folder by `kind`)."""
    file_outputs = {
        "show": ["show", str(data), "--out", str(out), "--quiet"],
        "train-segmenter": ["train-segmenter", "--data", str(data), "--out", str(out), "--epochs", "1", "--workers", "1"],
        # checked before the (here missing) .caffemodel is even opened
        "import-caffe": ["segmenter", "import-caffe", str(data / "fcn-8s.caffemodel"), "--out", str(out)],
    }
    folder_outputs = {
        "prepare": _prepare(data, out),
        "export": ["export", "pix2pix-ab", str(data), "--out", str(out)],
        "train": ["train", "--data", str(data), "--variant", "unet-l1", "--out", str(out), "--size", "32",
                  "--ngf", "4", "--epochs", "1"],
    }
    return file_outputs if kind == "file" else folder_outputs


@pytest.fixture
def tiny(tmp_path) -> Path:
    return make_prepared_dataset(tmp_path / "data", splits={"train": 2, "val": 1})


@pytest.mark.parametrize("command", ["show", "train-segmenter", "import-caffe"])
def test_file_outputs_that_are_folders_or_below_files_stop_at_once(tiny, tmp_path, capsys, command):
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_text("x")
    for out, message in ((tmp_path / "folder", "this is a folder, but --out must name a file"),
                         (tmp_path / "plain" / "x.png", "plain is a file, not a folder")):
        assert main(_commands(tiny, out, "file")[command]) == 2
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "folder", "plain"]  # nothing written
    assert json.loads((tiny / "dataset.json").read_text())["segmenter"] is None


@pytest.mark.parametrize("command", ["prepare", "export", "train"])
def test_folder_outputs_that_are_files_stop_at_once(tiny, tmp_path, capsys, command):
    (tmp_path / "plain").write_text("x")
    for out, message in ((tmp_path / "plain", "this is a file, but --out must name a folder"),
                         (tmp_path / "plain" / "sub", "plain is a file, not a folder")):
        assert main(_commands(tiny, out, "folder")[command]) == 2
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "plain"]


def test_a_preset_checks_every_run_folder_before_the_first_trains(tiny, tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "unet-l1-cgan").write_text("in the way")  # the last variant of the losses preset
    assert main(["train", "--data", str(tiny), "--preset", "losses", "--out", str(runs), "--size", "32",
                 "--ngf", "4", "--ndf", "4", "--epochs", "1", "--batch-size", "1"]) == 2
    assert "unet-l1-cgan: this is a file" in capsys.readouterr().err
    assert sorted(p.name for p in runs.iterdir()) == ["unet-l1-cgan"]  # not one run trained


def _without_write_permission(args: list[str]) -> subprocess.CompletedProcess:
    """Run ``python -m p2p_eval ARGS`` as a process that read-only folders stop, even as root."""
    command = [sys.executable, "-m", "p2p_eval", *args]
    if os.geteuid() == 0:  # root writes anywhere, unless it drops the capability to override permissions
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv (util-linux): cannot make a folder read-only to us")
        drop = "-dac_override,-dac_read_search"
        command = [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}", *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_read_only_folders_stop_every_command_before_its_work(tiny, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    assert main(["train", "--data", str(tiny), "--variant", "unet-l1", "--out", str(tmp_path / "run"),
                 "--size", "32", "--ngf", "4", "--epochs", "1", "--sample-every", "0"]) == 0
    (tmp_path / "run" / "images" / "val").chmod(0o555)
    locked.chmod(0o555)
    try:
        cases = {**_commands(tiny, locked / "out.png", "file"), **_commands(tiny, locked / "out", "folder")}
        cases["generate"] = ["generate", str(tmp_path / "run"), "--split", "val"]
        cases["train-segmenter (dataset.json)"] = ["train-segmenter", "--data", str(tiny), "--out",
                                                   str(tmp_path / "seg.pt"), "--epochs", "1"]
        tiny.chmod(0o555)  # dataset.json, where train-segmenter records its checkpoint, cannot be replaced
        for name, args in cases.items():
            done = _without_write_permission(args)
            assert done.returncode == 2, (name, done.stderr[-2000:])
            assert "read-only for this user" in done.stderr and "Traceback" not in done.stderr, (name, done.stderr)
        assert not list(locked.iterdir()) and not (tmp_path / "seg.pt").exists()
    finally:
        for folder in (locked, tiny, tmp_path / "run" / "images" / "val"):
            folder.chmod(0o755)


@pytest.mark.parametrize("form", ["md", "latex"])
def test_a_report_written_over_its_own_results_file_is_refused(tmp_path, capsys, form):
    """`report md fcn.json --out fcn.json` replaced the results file (hours of scoring) with the report."""
    from results_factory import fcn_document
    from p2p_eval.results import write_results

    write_results(tmp_path / "fcn.json", fcn_document([("a", None, 0.4)]))
    before = (tmp_path / "fcn.json").read_bytes()
    os.link(tmp_path / "fcn.json", tmp_path / "hard.json")  # another name of the same file
    for out in ("fcn.json", "hard.json", "./sub/../fcn.json"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        assert main(["report", form, str(tmp_path / "fcn.json"), "--out", str(tmp_path / out)]) == 2
        assert "--out" in (err := capsys.readouterr().err) and "is also an input (RESULTS.json)" in err
    assert (tmp_path / "fcn.json").read_bytes() == before


def test_two_outputs_of_one_scoring_command_naming_one_file_are_refused(tmp_path, capsys):
    """`colorfulness runs --json out --csv out` wrote the CSV over the JSON it had just written, exit 0."""
    from conftest import make_run

    data = make_prepared_dataset(tmp_path / "data", splits={"val": 2})
    run = make_run(tmp_path / "runs" / "a", data)
    out = tmp_path / "results.json"
    assert main(["colorfulness", str(run), "--json", str(out), "--csv", str(tmp_path / "." / "results.json"),
                 "--quiet", "--resamples", "100"]) == 2
    assert "--json and --csv both name" in capsys.readouterr().err and not out.exists()
    # --plot fig.png writes fig.pdf beside it too
    assert main(["colorfulness", str(run), "--json", str(tmp_path / "fig.pdf"), "--plot", str(tmp_path / "fig.png"),
                 "--quiet", "--resamples", "100"]) == 2
    assert "--json and --plot both name" in capsys.readouterr().err and not list(tmp_path.glob("fig.*"))
