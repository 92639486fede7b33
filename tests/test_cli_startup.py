"""The CLI starts at once: ``seqae --help``/``--version`` and ``import seqae`` import neither numpy, pandas nor
torch; a command imports what it uses when it runs. (The seconds are measured in benchmarks/startup.py.)"""
from __future__ import annotations

import subprocess
import sys

import pytest

from seqae.cli import main
from seqae.cli._base import COMMANDS

_HEAVY = ("torch", "numpy", "pandas", "sklearn", "scipy", "matplotlib")


def _imported_after(code: str) -> list[str]:
    probe = code + f"\nimport sys\nprint('MODULES:' + ','.join(m for m in {_HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    last = done.stdout.rsplit("MODULES:", 1)[1].strip()
    return [m for m in last.split(",") if m]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], []])
def test_help_and_version_import_nothing_heavy(argv):
    code = f"from seqae.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    assert _imported_after(code) == []


def test_import_seqae_is_light_and_the_estimators_load_on_first_use():
    assert _imported_after("import seqae") == []
    assert "torch" in _imported_after("import seqae\nseqae.AnomalyDetector")


def test_lazy_names_are_the_classes_and_listed():
    import seqae
    from seqae.autoencoder import LSTMAutoencoder

    assert seqae.LSTMAutoencoder is LSTMAutoencoder
    assert set(seqae.__all__) <= set(dir(seqae))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        seqae.Nope  # noqa: B018


def test_top_level_help_lists_every_command_with_its_one_line_help(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, (_, summary) in COMMANDS.items():
        assert name in out and summary.split("(")[0].strip() in out


def test_a_command_gets_its_full_options_and_an_unknown_one_a_clear_error(capsys):
    assert main(["detect", "--help"]) == 0
    assert "--train-fraction" in capsys.readouterr().out
    assert main(["--threads", "1", "score-sequences", "--help"]) == 0
    assert "--train" in capsys.readouterr().out
    assert main(["detekt", "x.csv"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'detekt'" in err and "detect" in err
