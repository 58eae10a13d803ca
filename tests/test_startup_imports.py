"""Start-up of the ``camelyon`` command line: building the parser must not import the slide generator."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_building_the_parser_does_not_import_camelyon_synthetic():
    # camelyon.synthetic (painters, Numba kernels) took most of `camelyon info`'s start-up when synth's
    # help text imported it for its defaults; the presets now live in camelyon.synth_presets
    code = ("import sys, camelyon.cli as cli; cli.build_parser(); "
            "print(sorted(m for m in sys.modules if m.startswith('camelyon.synthetic')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", f"building the parser imported {out.stdout.strip()}"


def test_synthetic_reexports_the_presets():
    import camelyon.synth_presets as presets
    from camelyon import synthetic

    assert (synthetic.DEFAULT_MPP, synthetic.DEMO_MPP, synthetic.DEMO_SIZE) == (
        presets.DEFAULT_MPP, presets.DEMO_MPP, presets.DEMO_SIZE)
