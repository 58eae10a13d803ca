"""How each hospital's lab and scanner colour a slide: stain vectors, stain amounts, light, blur, noise.

A pixel is rendered from two stain concentrations, hematoxylin ``H`` (nuclei, purple-blue) and
eosin ``E`` (cytoplasm and stroma, pink), through the Beer-Lambert law:

    OD = H * h_od + E * e_od          (optical density per RGB channel, natural log)
    I  = background * exp(-OD)        (transmitted light, 0..255)

The five centres differ as real CAMELYON17 centres do: in the hue of each stain (the OD vectors),
how much stain the tissue took up, the brightness and tint of the scanner light, the focus
(blur) and the sensor noise, plus the JPEG quality of the files. Per slide, the amounts and
vectors jitter a little around the centre's values.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from camelyon.errors import SyntheticError


def _unit(v) -> tuple[float, float, float]:
    a = np.asarray(v, dtype=np.float64)
    a = a / np.linalg.norm(a)
    return (float(a[0]), float(a[1]), float(a[2]))


@dataclass(frozen=True)
class CenterStain:
    """Staining and scanning of one centre.

    Attributes
    ----------
    name : str
        Short description.
    h_od, e_od : (float, float, float)
        Unit optical-density vectors (R, G, B) of hematoxylin and eosin.
    h_amount, e_amount : float
        Multipliers of the stain concentrations (1 = reference lab).
    background : (float, float, float)
        Light through empty glass, 0..255 per channel (brightness and tint).
    blur_um : float
        Standard deviation of the Gaussian focus blur, in micrometres.
    noise : float
        Half-width of the uniform sensor noise, in 0..255 grey levels.
    jpeg_quality : int
        JPEG quality of the written tiles.
    """

    name: str
    h_od: tuple[float, float, float]
    e_od: tuple[float, float, float]
    h_amount: float
    e_amount: float
    background: tuple[float, float, float]
    blur_um: float
    noise: float
    jpeg_quality: int

    def od_matrix(self) -> np.ndarray:
        """Stain OD vectors scaled by the amounts, shape (2, 3) float32: rows H, E."""
        return np.array(
            [np.multiply(self.h_od, self.h_amount), np.multiply(self.e_od, self.e_amount)], dtype=np.float32
        )


#: Names of the five synthetic centres (0..4), deliberately as different as CAMELYON17's.
_CENTER_NAMES = ("balanced, bright, sharp", "strong blue hematoxylin, darker scanner", "eosin-heavy, pink",
                 "pale and washed out, blurry", "dark, brownish-red, noisy, yellowish light")
#: Per centre: H and E OD directions (normalised below), H and E amounts, light through glass (R, G, B),
#: focus blur (um), noise, JPEG quality (the fields of :class:`CenterStain` after the name).
_CENTER_VALUES = (
    ((0.60, 0.73, 0.33), (0.18, 0.86, 0.48), 1.00, 1.00, (246.0, 244.0, 247.0), 0.35, 3.0, 85),
    ((0.48, 0.74, 0.47), (0.12, 0.90, 0.42), 1.30, 0.80, (238.0, 238.0, 244.0), 0.55, 4.0, 80),
    ((0.66, 0.70, 0.27), (0.24, 0.80, 0.55), 0.80, 1.40, (248.0, 244.0, 246.0), 0.45, 3.0, 85),
    ((0.54, 0.68, 0.50), (0.20, 0.76, 0.62), 0.70, 0.70, (250.0, 249.0, 250.0), 0.90, 5.0, 80),
    ((0.70, 0.67, 0.25), (0.34, 0.82, 0.46), 1.25, 1.20, (236.0, 230.0, 218.0), 0.50, 7.0, 75),
)
#: The five synthetic centres (0..4).
CENTER_STAINS: tuple[CenterStain, ...] = tuple(
    CenterStain(name, _unit(h), _unit(e), *rest)
    for name, (h, e, *rest) in zip(_CENTER_NAMES, _CENTER_VALUES, strict=True)
)


def center_stain(center: int) -> CenterStain:
    """The staining of centre ``center``; centres past the fifth are seeded variations of the five."""
    if center < 0:
        raise SyntheticError(f"center must be >= 0, got {center}")
    if center < len(CENTER_STAINS):
        return CENTER_STAINS[center]
    base = CENTER_STAINS[center % len(CENTER_STAINS)]
    rng = np.random.default_rng([7919, center])
    return _jitter(base, rng, 2.0)


def _jitter(stain: CenterStain, rng: np.random.Generator, strength: float = 1.0) -> CenterStain:
    def vec(v, sd):
        return _unit(np.asarray(v) + rng.normal(0.0, sd * strength, 3))

    return replace(
        stain,
        h_od=vec(stain.h_od, 0.025),
        e_od=vec(stain.e_od, 0.025),
        h_amount=float(stain.h_amount * np.exp(rng.normal(0.0, 0.08 * strength))),
        e_amount=float(stain.e_amount * np.exp(rng.normal(0.0, 0.08 * strength))),
        background=tuple(float(np.clip(b + rng.normal(0.0, 1.5 * strength), 200, 255)) for b in stain.background),
    )


def slide_stain(center: int, rng: np.random.Generator) -> CenterStain:
    """The centre's staining with the small slide-to-slide variation of one staining run."""
    return _jitter(center_stain(center), rng, 1.0)
