"""Messages of the command line: after Ctrl-C."""

import importlib

import pytest

from camelyon.cli import main

# argv of each command, enough to get past argument parsing
COMMAND_ARGV = {
    "train": ["train", "tiles.h5", "--out", "model.npz"],
    "tiles": ["tiles", "slides", "--out", "tiles.h5"],
    "heatmap": ["heatmap", "slides", "--model", "model.npz", "--out", "maps"],
    "synth": ["synth", "cohort", "--patients", "2"],
    "pipeline": ["pipeline", "cohort", "--out", "run"],
    "features": ["features", "maps", "--out", "features.csv"],
    "classify": ["classify", "features.csv", "--model", "forest.npz", "--fit"],
}


def _interrupt(args):
    raise KeyboardInterrupt


@pytest.mark.parametrize(("command", "hint"), [
    ("train", "interrupted; run it again with --resume to continue from the last checkpoint."),
    ("tiles", "interrupted; run the same command again to resume."),
    ("heatmap", "interrupted; run the same command again to resume."),
    ("synth", "interrupted; run the same command again to resume."),
    ("pipeline", "interrupted; run the same command again to resume."),
    ("features", "interrupted; this command does not resume: run it again to start over."),
    ("classify", "interrupted; this command does not resume: run it again to start over."),
])
def test_interrupted_command_says_how_to_carry_on(command, hint, monkeypatch, capsys):
    module = importlib.import_module(f"camelyon.commands.{command}")
    monkeypatch.setattr(module, "run", _interrupt)  # register() picks it up when main builds the parser
    assert main(COMMAND_ARGV[command]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"camelyon {command}: {hint}"]
