"""The viewer inside a Jupyter notebook: one background server per kernel, one frame per call."""

from __future__ import annotations

import threading
from pathlib import Path

from camelyon.errors import CamelyonError

__all__ = ["show", "stop"]

_lock = threading.Lock()
_server = None


def _get_server():
    from camelyon.viewer.catalog import Catalog
    from camelyon.viewer.server import ViewerServer

    global _server
    with _lock:
        if _server is None:
            _server = ViewerServer(Catalog([], []), "127.0.0.1", 0).start()
        return _server


def show(slide_path, heatmap=None, annotations=None, detections=None, *, overlays=None, height: int = 560,
         mpp: float | None = None):
    """Show a slide in the notebook, zoomable, with its heatmap and annotations.

    The viewer of ``camelyon view`` runs on a background thread of the kernel, on 127.0.0.1 and a
    free port; the output cell shows it in a frame. It works where the browser runs on the same
    machine as the kernel (a local Jupyter), not through a remote JupyterHub.

    Parameters
    ----------
    slide_path : path-like
        A slide OpenSlide reads.
    heatmap : camelyon.heatmap.Heatmap or path-like, optional
        A heatmap (object, or ``.npz`` written by ``camelyon heatmap``).
    annotations : camelyon.annotations.AnnotationSet or path-like, optional
        Lesion outlines (object, ASAP XML or QuPath GeoJSON file).
    detections : path-like, optional
        CSV with columns ``probability,X,Y``.
    overlays : list of str, optional
        Overlays switched on at first (default: annotations and heatmap when given).
    height : int
        Height of the frame in px.
    mpp : float, optional
        Level-0 um/px for a slide whose file does not record it.

    Returns
    -------
    IPython.display.IFrame
        Displayed when it is the last expression of a cell.

    Examples
    --------
    >>> from camelyon.viewer import show                                  # doctest: +SKIP
    >>> show("data/center_0/patient_001_node_0.tif", heatmap="run/heatmaps/patient_001_node_0.npz",
    ...      annotations="data/lesion_annotations/patient_001_node_0.xml")
    """
    from camelyon.viewer.catalog import SlideEntry

    path = Path(slide_path)
    if not path.is_file():
        raise CamelyonError(f"slide file not found: {path}")
    for what, value in (("heatmap", heatmap), ("annotations", annotations), ("detections", detections)):
        if isinstance(value, (str, Path)) and not Path(value).is_file():
            raise CamelyonError(f"{what} file not found: {value}")
    server = _get_server()
    if mpp is not None:
        server.mpp = mpp
    with _lock:
        name, n = path.stem, 1
        while server.catalog.get(name) is not None:
            n += 1
            name = f"{path.stem}~{n}"
        server.catalog.entries[name] = SlideEntry(
            name, path.resolve(), annotations=annotations, heatmap=heatmap,
            detections=Path(detections) if detections is not None else None)
    if overlays is None:
        overlays = [k for k, v in (("annotations", annotations), ("heatmap", heatmap)) if v is not None]
    url = f"{server.url}?embed=1&slide={name}&overlays={','.join(overlays)}"
    from IPython.display import IFrame

    return IFrame(url, width="100%", height=int(height))


def stop() -> None:
    """Stop the notebook's viewer server (the next :func:`show` starts a new one)."""
    global _server
    with _lock:
        if _server is not None:
            _server.stop()
            _server = None
