"""The bundled English print model: predict, eval and --init use it by name or by default."""

from __future__ import annotations

import random

import pytest
from rapidfuzz.distance import Levenshtein

from conftest import FONTS, ROOT, build_run
from pipeline.models import checkpoint
from pipeline.synth.render import RenderFailure, render
from pipeline.resources import DEFAULT_MODEL, bundled_models
from pipeline.synth.styles import Overrides, draw_effects

TEXT = "The results are shown in Fig. 3 (Smith et al., 1988)."


def line_image(tmp_path):
    """A scanned-style line; the first seed whose draw renders (a draw may be refused)."""
    path = tmp_path / "line.png"
    for seed in range(3, 20):
        fx = draw_effects("scanned", Overrides(), random.Random(seed))[1]
        try:
            render(TEXT, str(FONTS / "LiberationSerif-Regular.ttf"), 32, fx, seed).image.save(path)
            return path
        except RenderFailure:
            continue
    raise AssertionError("no draw rendered")


def test_the_model_ships_small_with_its_card():
    model = bundled_models()[DEFAULT_MODEL]
    assert model == ROOT / "models" / f"{DEFAULT_MODEL}.pt" and model.stat().st_size < 10_000_000
    state = checkpoint.load(model)
    assert "optimizer" not in state and state["height"] == 32 and len(state["charset"]) > 90
    card = (ROOT / "models" / f"{DEFAULT_MODEL}.md").read_text(encoding="utf-8")
    for heading in ("## Data and recipe", "## Scores", "## Charset", "## License"):
        assert heading in card
    decoding = state["decoding"]            # the LM settings measured for it, stated in its card
    assert f"weight {decoding['lm_weight']}, bonus {decoding['lm_bonus']}" in card


def test_predict_without_a_checkpoint_reads_with_the_bundled_model(tmp_path, run_cli):
    from click.testing import CliRunner

    from pipeline.cli import cli

    result = CliRunner().invoke(cli, ["predict", str(line_image(tmp_path)), "--device", "cpu",
                                      "--run", str(tmp_path / "fresh")])      # a run without a training
    assert result.exit_code == 0, result.output
    assert f"bundled model {DEFAULT_MODEL}" in result.output
    text = result.output.strip().splitlines()[-1].split("\t")[1]
    assert Levenshtein.distance(text, TEXT) <= 2, text


def test_eval_of_a_folder_without_a_trained_run_uses_the_bundled_model(tmp_path, run_cli):
    folder = tmp_path / "lines"
    folder.mkdir()
    line_image(folder).rename(folder / "line.png")
    (folder / "labels.tsv").write_text(f"line.png\t{TEXT}\n", encoding="utf-8")
    result = run_cli("eval", "--run", tmp_path / "run", "--data", folder, "--no-progress", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert f"models/{DEFAULT_MODEL}.pt" in result.output


def test_init_takes_the_bundled_model_by_name(tmp_path, run_cli):
    run = build_run(tmp_path, "--max-words", "2", "--val-fraction", "0.2", "--style", "plain", count=60)
    result = run_cli("train", "--run", run, "--init", DEFAULT_MODEL, "--steps", "2", "--batch-size", "4",
                     "--val-every", "2", "--no-progress", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert f"models/{DEFAULT_MODEL}.pt" in result.output and "crnn-small" in result.output


def test_a_run_whose_training_has_not_finished_is_never_read_with_another_model(tmp_path, run_cli):
    from pipeline.run.manifest import Manifest

    run = tmp_path / "run"
    Manifest(run).begin("train", {})            # what a running (or killed) `train --force` leaves
    image = line_image(tmp_path)
    for args in (["predict", image], ["export", "--format", "checkpoint", "--output", tmp_path / "m.pt"],
                 ["eval", "--data", tmp_path, "--no-progress"]):
        result = run_cli(*args, "--run", run)
        assert result.exit_code == 2 and "not finished" in result.output and "--checkpoint" in result.output, args
    assert not (tmp_path / "m.pt").exists()


def test_a_best_pt_replaced_after_training_is_not_taken_for_the_runs_model(tmp_path, run_cli):
    import shutil

    from conftest import build_run

    run = build_run(tmp_path, "--max-words", "2", "--style", "plain", count=60,
                    train=["--arch", "crnn-small", "--steps", "2", "--val-every", "2", "--batch-size", "8",
                           "--no-progress", "--device", "cpu"])
    shutil.copy(bundled_models()[DEFAULT_MODEL], run / "train" / "best.pt")      # another model in its place
    image = line_image(tmp_path)
    for args in (["predict", image], ["export", "--format", "checkpoint", "--output", tmp_path / "m.pt"]):
        result = run_cli(*args, "--run", run)
        assert result.exit_code == 2 and "best.pt has other content" in result.output, result.output
    named = run_cli("predict", image, "--run", run, "--checkpoint", run / "train" / "best.pt")
    assert named.exit_code == 0, named.output


def test_min_confidence_flags_lines_the_model_is_unsure_of(tmp_path, run_cli):
    from PIL import Image

    line = line_image(tmp_path)
    noise = tmp_path / "noise.png"
    Image.effect_noise((200, 32), 90).save(noise)                   # no text at all
    result = run_cli("predict", "--checkpoint", "en-print", "--min-confidence", "0.5", line, noise)
    assert result.exit_code == 0, result.output
    rows = {r.split("\t")[0]: r.split("\t") for r in result.output.splitlines() if "\t" in r}
    assert rows[str(line)][3] == "ok" and rows[str(noise)][3] == "low"
    assert float(rows[str(noise)][2]) < 0.5 <= float(rows[str(line)][2])
    assert "1 line(s) read with confidence below 0.5" in result.output
    as_json = run_cli("predict", "--checkpoint", "en-print", "--min-confidence", "0.5", "--json", noise)
    assert '"low_confidence": true' in as_json.output


def test_confidence_over_views_reads_the_same_text_and_averages_three_readings(tmp_path, run_cli):
    line = line_image(tmp_path)
    single = run_cli("predict", "--checkpoint", "en", line)
    views = run_cli("predict", "--checkpoint", "en", "--confidence", "views", line)
    assert single.exit_code == 0 and views.exit_code == 0, views.output
    (_, text, p_single), (_, text_views, p_views) = (r.output.strip().split("\t") for r in (single, views))
    assert text == text_views and 0.0 < float(p_views) <= 1.0
    assert float(p_views) != float(p_single)         # the two other widths gave their own probability


def test_a_view_with_too_few_frames_for_the_text_counts_as_zero():
    import torch

    from pipeline.models import checkpoint as ckpt
    from pipeline.models.inference import VIEW_SCALES, mean_over_views
    from pipeline.models.runtime import setup

    model, charset = ckpt.model_from(ckpt.load(bundled_models()[DEFAULT_MODEL]), DEFAULT_MODEL)
    images = torch.rand(1, 1, 32, 40)                 # 40 px: about ten frames, none of them room for 60 letters
    out = mean_over_views(model.eval(), images, torch.tensor([40]), setup("cpu", amp=False), [("a" * 60, 0.9)],
                          charset)
    assert out == [("a" * 60, pytest.approx(0.9 / (1 + len(VIEW_SCALES))))]


def test_read_over_views_keeps_the_text_the_three_widths_find_most_probable():
    import torch

    from pipeline.models import checkpoint as ckpt
    from pipeline.models.inference import forward, other_views, read_over_views, summed_probabilities
    from pipeline.models.runtime import setup

    model, charset = ckpt.model_from(ckpt.load(bundled_models()[DEFAULT_MODEL]), DEFAULT_MODEL)
    model, runtime = model.eval(), setup("cpu", amp=False)
    torch.manual_seed(0)
    images, widths = torch.rand(2, 1, 32, 120), torch.tensor([120, 100])
    with torch.no_grad():
        outputs = [forward(model, images, widths, runtime), *other_views(model, images, widths, runtime)]
    offered = iter([["cat", "dog"], ["cot", "dog"], ["cat", "bird"]])     # what each view's decoding says
    chosen = read_over_views(model, images, widths, runtime, lambda lp, ln: [(t, 0.0) for t in next(offered)],
                             outputs[0], charset)
    for k, candidates in enumerate((["cat", "cot"], ["dog", "bird"])):
        means = {t: summed_probabilities(outputs, [t, t], charset)[k] / 3 for t in candidates}
        best = max(candidates, key=lambda t: means[t])
        assert chosen[k] == (best, pytest.approx(means[best]))


def test_read_views_agrees_with_the_single_reading_on_a_clean_line(tmp_path, run_cli):
    line = line_image(tmp_path)
    single = run_cli("predict", "--checkpoint", "en", "--confidence", "views", line)
    read = run_cli("predict", "--checkpoint", "en", "--read", "views", line)
    assert single.exit_code == 0 and read.exit_code == 0, read.output
    (_, text, p_single), (_, text_read, p_read) = (r.output.strip().split("\t") for r in (single, read))
    assert text_read == text and float(p_read) == pytest.approx(float(p_single), rel=1e-3)
    bad = run_cli("predict", "--checkpoint", "en", "--read", "twice", line)
    assert bad.exit_code == 2 and "--read" in bad.output


def test_report_names_say_how_the_lines_were_read():
    from pipeline.config import DecodeConfig

    assert DecodeConfig(read="views").suffix() == "-read-views"
    assert DecodeConfig(confidence="views").suffix() == "-views"
    assert DecodeConfig(beam=10, read="views").suffix() == "-beam10-read-views"
    assert DecodeConfig(read="views").over_views and not DecodeConfig().over_views
