"""The two CAMELYON16 scores: lesion-level FROC (as the challenge computed it) and slide-level AUC.

Lesion level, per slide (``compute_FP_TP_Probs`` of the official ``Evaluation_FROC.py``):

- on a normal slide every detection is a false positive;
- on a tumour slide a detection at level-0 ``(X, Y)`` is looked up at evaluation-mask pixel
  ``(Y // 32, X // 32)`` (:class:`~camelyon.camelyon16.evaluation_mask.EvaluationMask`):
  background is a false positive; an ITC region ignores it; a lesion is hit, and keeps the
  highest probability of the detections on it: the other detections on that lesion are neither
  true nor false positives.

Over all slides (``computeFROC``): the thresholds are the distinct values among every false-positive
probability and every lesion's probability (0 for a lesion never hit; the ITC regions of a mask add
a 0 too), smallest excluded. For each threshold, FP per slide = false positives with probability
``>= threshold`` / number of slides, sensitivity = lesions hit with probability ``>= threshold`` /
number of lesions (ITC regions excluded); then the point (0, 0). The score is the mean of the
sensitivities at 1/4, 1/2, 1, 2, 4 and 8 FP per slide, read off the curve with
``numpy.interp`` (as MONAI's ``compute_froc_score``); beyond the last point the curve stays flat.

One quirk kept on purpose: the official code keeps lesion probabilities in a float32 array and
false-positive probabilities as Python floats, so a lesion hit at 0.3 and a false positive at 0.3
are two thresholds (float32(0.3) > 0.3). Probabilities that float32 holds exactly (0.5, 0.25, ...)
tie as expected.

Slide level: ROC AUC of the tumour probabilities of the slides, with a percentile bootstrap
interval over slides (draws holding one class only are redrawn).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from camelyon.errors import CamelyonError

__all__ = [
    "FP_RATES",
    "DETECTION_STATUSES",
    "SlideHits",
    "score_slide",
    "froc_curve",
    "froc_score",
    "slide_auc",
    "plot_froc",
]

#: False positives per slide at which the sensitivity is averaged.
FP_RATES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: What happened to a detection: a true positive (the best on its lesion), a repeat hit on a lesion
#: already hit at a higher or equal probability, a false positive, or a hit on an ITC region.
DETECTION_STATUSES = ("TP", "repeat", "FP", "ITC")


@dataclass
class SlideHits:
    """What the detections of one slide scored.

    Attributes
    ----------
    name : str
    is_tumour : bool
    fp_probs : ndarray of shape (F,), float64
        Probabilities of the false positives.
    lesion_probs : ndarray of shape (R,), float32
        One entry per region of the evaluation mask (lesions and ITC regions, in label order): the
        highest probability of a detection on it; 0 when missed, always 0 for ITC regions.
    n_lesions : int
        Regions that are not ITC.
    n_itc : int
    status : ndarray of shape (N,), str
        Per detection, one of :data:`DETECTION_STATUSES`.
    region : ndarray of shape (N,), int
        Per detection, the mask region it fell on (0: background or normal slide).
    """

    name: str
    is_tumour: bool
    fp_probs: np.ndarray
    lesion_probs: np.ndarray
    n_lesions: int
    n_itc: int
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="<U6"))
    region: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_hit(self) -> int:
        """Lesions hit by at least one detection with probability > 0."""
        return int(np.count_nonzero(self.lesion_probs > 0))

    def counts(self) -> dict:
        return {
            "tumour": self.is_tumour,
            "detections": int(len(self.status)),
            "lesions": self.n_lesions,
            "itc_regions": self.n_itc,
            "lesions_hit": self.n_hit,
            **{s: int(np.count_nonzero(self.status == s)) for s in DETECTION_STATUSES},
        }


def score_slide(name: str, probability, x, y, mask=None, where=None) -> SlideHits:
    """Score the detections of one slide.

    Parameters
    ----------
    name : str
        Slide name (for messages).
    probability, x, y : array-like of shape (N,)
        Detections: probability and level-0 coordinates.
    mask : EvaluationMask or None
        The slide's evaluation mask; None for a normal slide.
    where : sequence of str, optional
        Per detection, where it was read (``file:line``), named when a detection lies outside the mask.

    Returns
    -------
    SlideHits
    """
    p = np.asarray(probability, dtype=np.float64).reshape(-1)
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    ys = np.asarray(y, dtype=np.float64).reshape(-1)
    if not (len(p) == len(xs) == len(ys)):
        raise CamelyonError(f"{name}: probability, x and y must have the same length")
    n = len(p)
    status = np.full(n, "FP", dtype="<U6")
    region = np.zeros(n, dtype=np.int64)
    if mask is None:
        return SlideHits(name, False, p.copy(), np.zeros(0, dtype=np.float32), 0, 0, status, region)
    n_regions = mask.n_regions
    lesion_probs = np.zeros(n_regions, dtype=np.float32)  # float32 as in the official script
    best = np.full(n_regions + 1, -1, dtype=np.int64)  # detection index holding each lesion
    fp = []
    for i in range(n):
        try:
            lab = mask.region_at(xs[i], ys[i])
        except CamelyonError as exc:
            at = where[i] if where is not None else f"{name} detection {i + 1}"
            raise CamelyonError(f"{at}: detection {exc}") from None
        region[i] = lab
        if lab == 0:
            fp.append(p[i])
        elif lab in mask.itc:
            status[i] = "ITC"
        else:
            status[i] = "repeat"
            if p[i] > lesion_probs[lab - 1]:  # the comparison of the official script
                lesion_probs[lab - 1] = p[i]
                if best[lab] >= 0:
                    status[best[lab]] = "repeat"
                best[lab] = i
                status[i] = "TP"
    return SlideHits(name, True, np.asarray(fp, dtype=np.float64), lesion_probs,
                     n_regions - len(mask.itc), len(mask.itc), status, region)


def froc_curve(slides: list[SlideHits]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The FROC curve over slides, as ``computeFROC`` of the official script.

    Returns
    -------
    fp_per_slide, sensitivity, thresholds : ndarray of shape (T + 1,)
        One point per threshold (decreasing FP per slide) and the final point (0, 0), whose
        threshold is ``inf``.
    """
    if not slides:
        raise CamelyonError("no slide to evaluate")
    n_lesions = sum(s.n_lesions for s in slides)
    if n_lesions == 0:
        raise CamelyonError("the evaluation holds no lesion (no tumour slide, or only ITC regions): "
                            "the FROC is undefined")
    fps = np.concatenate([s.fp_probs for s in slides]).astype(np.float64)
    tps = np.concatenate([s.lesion_probs for s in slides]).astype(np.float64)
    thresholds = np.unique(np.concatenate([fps, tps]))[1:]
    fps_sorted, tps_sorted = np.sort(fps), np.sort(tps)
    # count of values >= t: len - (number of values < t)
    n_fp = len(fps) - np.searchsorted(fps_sorted, thresholds, side="left")
    n_tp = len(tps) - np.searchsorted(tps_sorted, thresholds, side="left")
    fp_per_slide = np.append(n_fp, 0) / float(len(slides))
    sensitivity = np.append(n_tp, 0) / float(n_lesions)
    return fp_per_slide, sensitivity, np.append(thresholds, np.inf)


def froc_score(fp_per_slide, sensitivity, rates=FP_RATES) -> tuple[float, dict]:
    """Mean sensitivity at ``rates`` FP per slide (``numpy.interp`` over the reversed curve).

    Returns
    -------
    score : float
    at : dict
        FP-per-slide rate -> interpolated sensitivity.
    """
    fp = np.asarray(fp_per_slide, dtype=np.float64)[::-1]
    se = np.asarray(sensitivity, dtype=np.float64)[::-1]
    values = np.interp(np.asarray(rates, dtype=np.float64), fp, se)
    return float(np.mean(values)), {float(r): float(v) for r, v in zip(rates, values, strict=True)}


def _auc_ranks(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of ``y`` (bool) and ``s`` (scores) by the rank-sum formula, ties as 1/2."""
    order = np.argsort(s, axis=1, kind="mergesort")
    ss = np.take_along_axis(s, order, axis=1)
    yy = np.take_along_axis(y, order, axis=1)
    n = s.shape[1]
    ranks = np.empty_like(ss, dtype=np.float64)
    pos = np.arange(1, n + 1, dtype=np.float64)
    for i in range(s.shape[0]):  # average ranks over ties
        _, start, counts = np.unique(ss[i], return_index=True, return_counts=True)
        avg = start + (counts + 1) / 2.0
        ranks[i] = np.repeat(avg, counts) if len(counts) != n else pos
    n_pos = yy.sum(axis=1)
    n_neg = n - n_pos
    return ((ranks * yy).sum(axis=1) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def slide_auc(is_tumour, probability, n_bootstrap: int = 2000, confidence: float = 0.95,
              seed: int = 0) -> tuple[float, tuple[float, float]]:
    """Slide-level ROC AUC with a percentile bootstrap interval.

    Parameters
    ----------
    is_tumour : array-like of shape (N,), bool
    probability : array-like of shape (N,), float
    n_bootstrap : int
        Resamples of the slides (with replacement); a resample holding one class is drawn again.
    confidence : float
        Coverage of the interval (0.95: the 2.5 and 97.5 percentiles).
    seed : int

    Returns
    -------
    auc : float
        From :func:`minicnn.metrics.roc_auc_score`.
    (low, high) : (float, float)
    """
    from minicnn.metrics import roc_auc_score

    y = np.asarray(is_tumour, dtype=bool).reshape(-1)
    s = np.asarray(probability, dtype=np.float64).reshape(-1)
    if len(y) != len(s):
        raise CamelyonError("slide AUC: labels and probabilities differ in length")
    if y.all() or not y.any():
        raise CamelyonError(f"slide AUC needs tumour and normal slides; got {int(y.sum())} tumour of {len(y)}")
    auc = float(roc_auc_score(y.astype(np.int64), s))
    rng = np.random.default_rng(seed)
    draws = []
    while len(draws) < n_bootstrap:
        idx = rng.integers(0, len(y), size=(n_bootstrap, len(y)))
        yy = y[idx]
        ok = yy.any(axis=1) & ~yy.all(axis=1)
        draws.extend(_auc_ranks(yy[ok], s[idx[ok]]).tolist())
    draws = np.asarray(draws[:n_bootstrap])
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(draws, [tail, 100.0 - tail])
    return auc, (float(lo), float(hi))


def plot_froc(fp_per_slide, sensitivity, path, score: float | None = None, title: str = "") -> str:
    """Save the FROC curve (FP per slide, log scale from 1/8 to 8 and beyond, against sensitivity)."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fp = np.asarray(fp_per_slide, dtype=np.float64)
    se = np.asarray(sensitivity, dtype=np.float64)
    _, at = froc_score(fp, se)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    x_lo, x_hi = 1 / 16, max(16.0, float(fp.max()) * 1.2 if fp.size else 16.0)
    order = np.lexsort((se, fp))
    # beyond its last point the curve stays flat (as numpy.interp reads it)
    xs = np.append(fp[order], x_hi)
    ys = np.append(se[order], se[order][-1] if se.size else 0.0)
    # piecewise linear between the points, as the score reads it (numpy.interp); drawn finely for the log axis
    grid = np.geomspace(x_lo, x_hi, 400)
    fine = np.interp(grid, xs, ys)
    ax.plot(grid, fine, color="C0", lw=1.8, label="FROC curve")
    ax.plot(list(at), list(at.values()), "o", color="C3", label="sensitivity at 1/4 ... 8 FP/slide")
    ax.set_xscale("log", base=2)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(0, 1.02)
    ax.set_xticks([1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8, 16], ["1/8", "1/4", "1/2", "1", "2", "4", "8", "16"])
    ax.set_xlabel("mean false positives per slide")
    ax.set_ylabel("lesion sensitivity")
    ax.grid(alpha=0.3)
    heading = title or "CAMELYON16 lesion-level FROC"
    if score is not None:
        heading += f" (score {score:.3f})"
    ax.set_title(heading, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    from camelyon.figures import save_figure

    try:
        save_figure(fig, path)  # atomically, in the format of the suffix
    finally:
        plt.close(fig)
    return str(path)
