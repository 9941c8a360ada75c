"""The command line as a newcomer meets it: help for every option, one-line errors."""

from __future__ import annotations

import click
import pytest

from pipeline.cli import cli


def test_every_option_of_every_command_says_what_it_does():
    ctx = click.Context(cli)
    missing = [f"{name} {param.opts[0]}" for name in cli.list_commands(ctx)
               for param in cli.get_command(ctx, name).params
               if isinstance(param, click.Option) and not param.help]
    assert missing == []


def test_the_commands_are_listed_once_in_pipeline_order(run_cli):
    shown = run_cli("--help").output
    assert [c for c in ("generate", "pack", "train", "eval", "predict", "export", "status")
            if f"  {c} " in shown] == ["generate", "pack", "train", "eval", "predict", "export", "status"]
    assert shown.count("  generate ") == 1


@pytest.mark.parametrize("args, message", [
    (["generate", "--count", "x"], "Invalid value for '--count'"),
    (["train", "--schedule", "linear"], "Invalid value for '--schedule'"),
    (["pack", "--no-such-option"], "No such option '--no-such-option'"),
    (["eval", "--beam", "-1"], "Invalid value for '--beam'"),
])
def test_a_bad_option_is_one_line_with_exit_code_2(run_cli, args, message):
    result = run_cli(*args)
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1 and f"ocrpipe {args[0]} --help" in result.output


def test_onecycle_refuses_a_warmup_it_would_ignore(run_cli, tmp_path):
    result = run_cli("train", "--run", tmp_path / "run", "--schedule", "onecycle", "--warmup", "10")
    assert result.exit_code == 2 and "--warmup applies to --schedule cosine" in result.output


@pytest.mark.parametrize("args", [
    ["train", "--lr", "inf"], ["train", "--lr", "nan"], ["train", "--grad-clip", "nan"],
    ["train", "--weight-decay", "nan"], ["train", "--mix", "nan,1", "--train-split", "train", "--train-split", "b"],
    ["generate", "--skew", "nan"], ["generate", "--blur", "nan"], ["generate", "--codes-fraction", "nan"],
    ["eval", "--beam", "4", "--lm", "corpora", "--lm-weight", "nan"], ["eval", "--oov-cost", "inf"],
    ["predict", "--lm-bonus", "-inf", "x.png"],
    ["export", "--format", "checkpoint", "--output", "x.pt", "--lm-weight", "nan"],
])
def test_nan_and_infinity_are_refused_in_one_line_before_anything_is_made(run_cli, tmp_path, args):
    run = tmp_path / "run"
    result = run_cli(*args, "--run", run)
    assert result.exit_code == 2 and "not a finite number" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (run / "manifest.json").exists()
