"""Reports of fid, lpips and similarity beside FCN-scores: lower-is-better columns marked and bolded at their minimum."""

import subprocess

import pytest
from results_factory import DATA, PROTOCOL_FCN, fcn_entry

from p2p_eval.cli import main
from p2p_eval.results import results_document, write_results

FID_PROTOCOL = {
    "features": {"path": "pt_inception-2015-12-05-6726825d.pth", "sha256": "6726825d" + "0" * 56, "published": True},
    "resize": "clean", "bootstrap": {"resamples": 1000, "seed": 0, "confidence": 0.95, "centred": ["fid"]},
}


def _fid(name, fid, kid, warnings=()):
    return {"name": name, "variant": None, "fid": fid, "kid": kid, "fid_infinity": None,
            "intervals": {"fid": [fid - 2, fid + 3]},
            "kid_std": 0.001, "kid_subsets": 100, "kid_subset_size": 2, "warnings": list(warnings)}


@pytest.fixture
def documents(tmp_path):
    paths = {
        "fcn": tmp_path / "fcn.json", "fid": tmp_path / "fid.json",
        "lpips": tmp_path / "lpips.json", "similarity": tmp_path / "similarity.json",
    }
    write_results(paths["fcn"], results_document("fcn-score", [
        fcn_entry("sharp", None, 0.8, 1), fcn_entry("blurry", None, 0.6, 2)], protocol=PROTOCOL_FCN, data=DATA))
    small_n = ["FID from 2 images (< 2000): FID is biased upward at small N"]
    write_results(paths["fid"], results_document("fid", [_fid("sharp", 41.234, 0.01234, small_n),
                                                         _fid("blurry", 78.9, 0.05678, small_n)],
                                                 protocol=FID_PROTOCOL, data=DATA))
    write_results(paths["lpips"], results_document("lpips", [
        {"name": "sharp", "lpips": 0.312, "intervals": {"lpips": [0.3, 0.33]}},
        {"name": "blurry", "lpips": 0.254, "intervals": {"lpips": [0.24, 0.27]}}],
        protocol={"backbone": {"sha256": "ab" * 32, "published": False}}, data=DATA))
    write_results(paths["similarity"], results_document("similarity", [
        {"name": "sharp", "psnr": 18.5, "ssim": 0.41, "intervals": {}, "n_identical": 0},
        {"name": "blurry", "psnr": 21.25, "ssim": 0.52, "intervals": {}, "n_identical": 0}],
        protocol={}, data=DATA))
    return paths


def test_markdown_summary_marks_and_bolds_lower_is_better(documents, capsys):
    assert main(["report", "md", *map(str, documents.values())]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = [c.strip() for c in next(line for line in lines if line.startswith("| Run |")).strip("|").split("|")]
    assert header[4:] == ["Inception distances: FID ↓", "Inception distances: KID ↓",
                          "Inception distances: FID-infinity ↓", "LPIPS: LPIPS ↓", "Pixel similarity: PSNR (dB)",
                          "Pixel similarity: SSIM"]
    cells = {}
    for line in lines:  # the summary table comes first; each file's own table follows
        if line.startswith(("| sharp", "| blurry")):
            cells.setdefault(line.split("|")[1].strip(), [c.strip() for c in line.strip("|").split("|")[1:]])
    assert cells["sharp"][3:7] == ["**41.23**", "**0.0123**", "--", "0.312"]  # the lower FID and KID are best
    assert cells["blurry"][3:9] == ["78.90", "0.0568", "--", "**0.254**", "**21.25**", "**0.520**"]  # no --infinity
    text = "\n".join(lines)
    assert "↓: lower is better." in text
    assert "Inception sha256 6726825d0000" in text and "LPIPS backbone sha256 abababababab, not the published" in text
    assert "FID from fewer than 2,000 frames is biased upward" in text and "centred on the FID" in text


@pytest.mark.latex
def test_latex_summary_with_arrows_compiles(documents, tmp_path):
    out = tmp_path / "tables.tex"
    assert main(["report", "latex", *map(str, documents.values()), "--summary", "--standalone", "--out", str(out)]) == 0
    tex = out.read_text()
    assert r"FID $\downarrow$" in tex and r"\textbf{41.23}" in tex and r"\textbf{0.254}" in tex
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name],
                   cwd=tmp_path, check=True, capture_output=True, timeout=60)
    text = subprocess.run(["pdftotext", "tables.pdf", "-"], cwd=tmp_path, capture_output=True, text=True,
                          check=True).stdout
    assert "FID ↓" in text and "41.23" in text and "0.0123" in text


def test_a_null_psnr_from_identical_frames_is_explained_where_it_is_shown(tmp_path, capsys):
    """A run whose frames equal their real photos has infinite PSNR, stored as null: the tables showed
    "--"/"n/a" and bolded (starred) another run's PSNR as the best, with no word on why."""
    from p2p_eval.results import Results
    from p2p_eval.session import format_table

    document = results_document("similarity", [
        {"name": "copy", "psnr": None, "ssim": 1.0, "intervals": {}, "n_identical": 5, "n_images": 5},
        {"name": "blurry", "psnr": 21.25, "ssim": 0.52, "intervals": {}, "n_identical": 0, "n_images": 5}],
        protocol={}, data={**DATA, "frames": [f"city_{i:06d}_000019" for i in range(5)]})  # the 5 frames scored
    write_results(tmp_path / "s.json", document)
    assert main(["report", "md", str(tmp_path / "s.json")]) == 0
    said = "copy: 5 of 5 frames identical to their real photo (infinite PSNR): no mean PSNR"
    assert said in capsys.readouterr().out.replace("\\", "")
    table = format_table(Results.from_dict(document))
    assert said in table
    # "copy" may be the closest in PSNR (infinite): no run is starred best in that column; SSIM still is
    rows = {line.split()[0]: line for line in table.splitlines()[2:4]}
    assert "21.250*" not in rows["blurry"] and "1.000*" in rows["copy"]
    assert "no best marked in PSNR (dB): copy has no value" in table


def test_terminal_table_prints_the_confidence_and_kid_as_reports_and_notes_do(capsys):
    """The terminal title printed confidence 0.975 as "98%" (reports: "97.5%") and KID to 3 decimals
    (0.012) while its note gave 5 (0.01234): a reader saw three different figures for one number."""
    from p2p_eval.results import Results
    from p2p_eval.session import format_table

    protocol = {**FID_PROTOCOL, "bootstrap": {**FID_PROTOCOL["bootstrap"], "confidence": 0.975}}
    document = results_document("fid", [_fid("sharp", 41.234, 0.01234)], protocol=protocol, data=DATA)
    table = format_table(Results.from_dict(document))
    assert "97.5% bootstrap interval" in table and "98%" not in table
    assert "0.0123*" in table.splitlines()[2]  # KID's declared 4 decimals, as report tables
    assert "sharp: KID 0.0123 +- 0.0010 (std over 100 subsets of 2 frames)" in table
