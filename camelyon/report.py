"""Pictures and the HTML report of a pipeline run.

Every figure is a PNG made with matplotlib's object API (no global pyplot state, no display needed);
the report is one self-contained HTML page that links the PNGs next to it.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from camelyon.figures import save_figure
from minicnn.io import write_text

__all__ = [
    "PUBLISHED_KAPPAS",
    "save_confusion_matrix",
    "save_kappa_comparison",
    "write_html_report",
]

#: Published CAMELYON17 test-set kappas (see the project's CAMELYON facts).
PUBLISHED_KAPPAS = {
    "best single entry, challenge 2017": 0.89,
    "ensemble of top entries (Bandi et al. 2019)": 0.93,
    "Lee & Paeng 2018": 0.9203,
    "PFA-ScanNet 2019": 0.905,
}


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    return save_figure(fig, path, dpi=100, bbox_inches="tight")


def save_confusion_matrix(cm: np.ndarray, labels: Sequence[str], path: str | os.PathLike,
                          title: str = "", xlabel: str = "predicted", ylabel: str = "reference") -> Path:
    """A confusion matrix with counts in the cells and rows normalized for the colour.

    Parameters
    ----------
    cm : ndarray of shape (k, k)
        Rows: reference class; columns: predicted class.
    labels : sequence of str, length k
    """
    cm = np.asarray(cm)
    k = len(labels)
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    fig = Figure(figsize=(1.1 * k + 1.8, 1.0 * k + 1.2))
    ax = fig.subplots()
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center",
                    color="white" if frac[i, j] > 0.6 else "black")
    ax.set_xticks(range(k), labels, rotation=30)
    ax.set_yticks(range(k), labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return _save(fig, path)


def save_kappa_comparison(kappa: float, path: str | os.PathLike, label: str = "this run (synthetic)") -> Path:
    """Bar chart of a run's kappa next to the published CAMELYON17 test-set kappas."""
    names = [label] + list(PUBLISHED_KAPPAS)
    values = [kappa] + list(PUBLISHED_KAPPAS.values())
    fig = Figure(figsize=(7, 2.8))
    ax = fig.subplots()
    colors = ["tab:orange"] + ["tab:gray"] * len(PUBLISHED_KAPPAS)
    ax.barh(range(len(names)), values, color=colors)
    for i, v in enumerate(values):
        ax.text(min(v, 1.0) + 0.01, i, f"{v:.3f}", va="center")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("quadratic weighted kappa")
    ax.set_title("pN-stage agreement")
    return _save(fig, path)


def _table(rows: Sequence[Sequence], header: Sequence[str]) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def write_html_report(path: str | os.PathLike, summary: Mapping, images: Mapping[str, Sequence[str]],
                      tables: Mapping[str, tuple[Sequence[str], Sequence[Sequence]]] | None = None) -> Path:
    """Write the run report.

    Parameters
    ----------
    path : path
        Output HTML; image paths are written relative to its folder.
    summary : mapping
        The run summary (``kappa``, ``steps`` with their times, ...); shown as text and as JSON.
    images : mapping of section title to list of PNG paths
    tables : mapping of section title to (header, rows), optional
    """
    path = Path(path)
    base = path.parent
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>camelyon pipeline report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "img{max-width:100%;border:1px solid #ddd;margin:4px 0}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}"
        ".kappa{font-size:2em;font-weight:bold}pre{background:#f7f7f7;padding:1em;overflow:auto}</style>",
        "</head><body>",
        "<h1>camelyon pipeline report</h1>",
    ]
    kappa = summary.get("kappa")
    if kappa is not None:
        parts.append(f"<p>Quadratic weighted kappa on held-out patients: <span class='kappa'>{kappa:.4f}</span>"
                     f" ({summary.get('n_test_patients', '?')} patients)</p>")
    steps = summary.get("steps", {})
    if steps:
        rows = [(name, s.get("status", ""), f"{s.get('seconds', 0.0):.1f}") for name, s in steps.items()]
        parts.append("<h2>Steps</h2>" + _table(rows, ["step", "status", "seconds"]))
    for title, (header, rows) in (tables or {}).items():
        parts.append(f"<h2>{html.escape(title)}</h2>" + _table(rows, header))
    for title, pngs in images.items():
        parts.append(f"<h2>{html.escape(title)}</h2>")
        for png in pngs:
            rel = os.path.relpath(png, base)
            parts.append(f"<div><img src='{html.escape(rel)}' alt='{html.escape(Path(png).stem)}'></div>")
    parts.append("<h2>Run summary</h2><pre>" + html.escape(json.dumps(summary, indent=2, default=str)) + "</pre>")
    parts.append("</body></html>")
    return write_text(path, "\n".join(parts))
