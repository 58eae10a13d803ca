"""The scanners of the challenge preset: one per centre, each with its own level-0 resolution and optics.

Real CAMELYON17 centres scanned with different scanners: level 0 is 0.226-0.243 um/px depending on
the centre, files differ in JPEG quality and in sharpness, and one lab's staining can be much
weaker than the others'. The challenge preset (``difficulty="challenge"``) gives each centre one
:class:`Scanner`; the easy preset ignores this module.

A cohort's ``mpp`` is then a *nominal* resolution: centre ``c`` is painted at
``mpp * SCANNERS[c].mpp / REFERENCE_MPP`` um/px, so at ``mpp=0.25`` every centre has its scanner's
real level-0 resolution (0.243, 0.226, ...), and at ``mpp=1.0`` every centre is 4x coarser but the
centres keep their ratios.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from camelyon.errors import SyntheticError
from camelyon.synthetic.stains import CenterStain

#: The nominal resolution at which centres are painted at their scanners' native level-0 um/px.
REFERENCE_MPP = 0.25


@dataclass(frozen=True)
class Scanner:
    """Optics and file settings of one centre's scanner (challenge preset).

    Attributes
    ----------
    name : str
        What it is modelled on (a description, not a vendor claim).
    mpp : float
        Native level-0 micrometres per pixel.
    jpeg_quality : int
        JPEG quality of the written tiles.
    blur_um : float
        Standard deviation of the focus blur (um): smaller is sharper.
    noise : float
        Half-width of the uniform sensor noise (0..255 grey levels).
    stitch_period_um : float
        Width of one camera field (um); the stitching seams of the slide lie on this grid.
    stitch_strength : float
        Relative brightness step at a seam (0 = none).
    stain_scale : float
        Multiplies the centre's hematoxylin and eosin amounts (< 1: weak staining).
    """

    name: str
    mpp: float
    jpeg_quality: int
    blur_um: float
    noise: float
    stitch_period_um: float
    stitch_strength: float
    stain_scale: float = 1.0


#: One scanner per centre (centres past the fifth reuse them in turn).
SCANNERS: tuple[Scanner, ...] = (
    Scanner("line-scan 40x, sharp, high JPEG quality", 0.243, 90, 0.30, 2.5, 1000.0, 0.015),
    Scanner("tile-scan 40x, fine pixels, strong compression", 0.226, 65, 0.40, 3.5, 600.0, 0.035),
    Scanner("line-scan 40x, medium", 0.243, 80, 0.45, 3.0, 1000.0, 0.02),
    Scanner("tile-scan 40x, soft focus, weakly stained lab", 0.2456, 75, 0.75, 4.0, 700.0, 0.04, 0.55),
    Scanner("tile-scan 40x, noisy, visible seams", 0.2527, 70, 0.55, 6.0, 500.0, 0.06),
)


def center_scanner(center: int) -> Scanner:
    """The scanner of centre ``center`` (cycling through :data:`SCANNERS`)."""
    if center < 0:
        raise SyntheticError(f"center must be >= 0, got {center}")
    return SCANNERS[center % len(SCANNERS)]


def center_mpp(center: int, nominal_mpp: float) -> float:
    """Level-0 um/px of centre ``center`` in a cohort of nominal resolution ``nominal_mpp``."""
    return float(nominal_mpp) * center_scanner(center).mpp / REFERENCE_MPP


def scanned_stain(stain: CenterStain, scanner: Scanner) -> CenterStain:
    """``stain`` as this scanner records it: its blur, noise, JPEG quality and (weak) stain amounts."""
    return replace(
        stain,
        blur_um=float(scanner.blur_um),
        noise=float(scanner.noise),
        jpeg_quality=int(scanner.jpeg_quality),
        h_amount=float(stain.h_amount * scanner.stain_scale),
        e_amount=float(stain.e_amount * scanner.stain_scale),
    )


def stitch_profile(n: int, start: int, mpp: float, scanner: Scanner, phase_um: float) -> np.ndarray:
    """Brightness factor (n,) float64 of level-0 columns ``start .. start + n`` for stitching seams.

    Each camera field is a little brighter or darker than its neighbours (a step of
    ``stitch_strength``), with a 3 px darker seam line at every field edge.
    """
    if scanner.stitch_strength <= 0:
        return np.ones(n)
    period = scanner.stitch_period_um / mpp
    x = start + np.arange(n) + phase_um / mpp
    field = np.floor(x / period)
    # hashed per-field offset in [-1, 1] (cheap integer hash of the field index)
    h = (field.astype(np.int64) * 2654435761) % 1000 / 999.0 * 2.0 - 1.0
    out = 1.0 + scanner.stitch_strength * h
    seam = (x - field * period) < 3.0
    out[seam] -= 1.5 * scanner.stitch_strength
    return out
