"""The bundled Korean and Chinese (simplified and Traditional) models: small, with a card, read by
name in predict and eval."""

from __future__ import annotations

import random

import pytest
from rapidfuzz.distance import Levenshtein

from conftest import ROOT
from pipeline.models import checkpoint
from pipeline.resources import bundled_models
from pipeline.synth.render import RenderFailure, render
from pipeline.synth.styles import Overrides, draw_effects

LINES = {"ko": ("fonts/ko/NotoSansCJKkr-Regular.otf", "서울특별시 강남구 테헤란로 123, 5층"),
         "zh": ("fonts/zh/NotoSerifCJKsc-Regular.otf", "北京市朝阳区建国路88号"),
         "zh-Hant": ("fonts/zh-Hant/cwTeXHeiBold-big5.ttf", "臺北市信義區信義路五段7號")}


def line_image(folder, name: str):
    """A `print`-style line of the language in one of its bundled fonts (the first draw that renders)."""
    font, text = LINES[name]
    path = folder / f"{name}.png"
    for seed in range(20):
        fx = draw_effects("print", Overrides(), random.Random(seed))[1]
        try:
            render(text, str(ROOT / font), 32, fx, seed).image.save(path)
            return path
        except RenderFailure:
            continue
    raise AssertionError("no draw rendered")


@pytest.mark.parametrize("name", sorted(LINES))
def test_the_model_ships_small_with_its_card(name):
    model = bundled_models()[name]
    assert model.stat().st_size < 10_000_000
    state = checkpoint.load(model)
    assert state["stored_as"] == "int8" and "optimizer" not in state
    assert len(state["charset"]) > 2400
    card = (ROOT / "models" / f"{name}.md").read_text(encoding="utf-8")
    for heading in ("## Data and recipe", "## Scores", "## Charset", "## License"):
        assert heading in card
    decoding = state["decoding"]            # the LM settings measured for it, stated in its card
    assert f"{decoding['lm_weight']} and {decoding['lm_bonus']}" in card
    assert ("train --ink-rows" in card) == state["model"]["config"].get("ink_rows", False)   # how it reads, stated


@pytest.mark.parametrize("name", sorted(LINES))
def test_predict_and_eval_read_a_rendered_line_with_the_model_by_name(name, tmp_path, run_cli):
    folder = tmp_path / "lines"
    folder.mkdir()
    image = line_image(folder, name)
    text = LINES[name][1]
    result = run_cli("predict", "--checkpoint", name, image, "--device", "cpu")
    assert result.exit_code == 0, result.output
    read = result.output.strip().splitlines()[-1].split("\t")[1]
    assert Levenshtein.distance(read, text) <= 1, read
    (folder / "labels.tsv").write_text(f"{image.name}\t{text}\n", encoding="utf-8")
    scored = run_cli("eval", "--run", tmp_path / "run", "--checkpoint", name, "--data", folder, "--no-progress",
                     "--device", "cpu")
    assert scored.exit_code == 0, scored.output
    assert f"models/{name}.pt" in scored.output
