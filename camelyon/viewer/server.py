"""The viewer's web server: standard-library ``http.server`` with one thread per connection.

Routes (the first four as in OpenSlide's Deep Zoom example, so any Deep Zoom client can use them)::

    /                                         the page
    /slides.json                              the slide list with labels, stages and features
    /slide/<name>.dzi                         Deep Zoom descriptor (XML)
    /slide/<name>_files/<level>/<col>_<row>.jpeg   a tile
    /slide/<name>/info.json                   size, um/px, levels; {"error": ...} for a bad slide
    /slide/<name>/<overlay>.json              annotations, tissue, grid, heatmap, lesions, detections
    /slide/<name>/heatmap.png                 the heatmap as grey + alpha
    /config.json                              colour maps, label thresholds
    /static/viewer.js, /static/viewer.css     the front end

Safe by default: the server binds to 127.0.0.1, answers GET and HEAD only, reads only the files of
its :class:`~camelyon.viewer.catalog.Catalog` (a URL names a slide, never a path), answers 404 to
anything else, and refuses requests whose ``Host`` is not the loopback address while it listens
on loopback (a web page elsewhere cannot reach it through DNS rebinding). An error while serving
one request is answered with a message and does not stop the server.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, unquote, urlsplit

from camelyon.errors import CamelyonError
from camelyon.viewer import overlays
from camelyon.viewer.catalog import Catalog
from camelyon.viewer.tiles import _LRU, TileSource

__all__ = ["ViewerServer", "STATIC_FILES"]

#: Files of the front end (in ``camelyon/viewer/static``), by URL name.
STATIC_FILES = {"viewer.js": "text/javascript; charset=utf-8", "viewer.css": "text/css; charset=utf-8",
                "index.html": "text/html; charset=utf-8"}
OVERLAYS = ("annotations", "tissue", "grid", "heatmap", "lesions", "detections")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")

_TILE = re.compile(r"^/slide/(?P<stem>[^/]+)_files/(?P<level>\d{1,3})/(?P<col>\d{1,7})_(?P<row>\d{1,7})\.jpeg$")
_DZI = re.compile(r"^/slide/(?P<stem>[^/]+)\.dzi$")
_SLIDE_JSON = re.compile(r"^/slide/(?P<stem>[^/]+)/(?P<what>info|" + "|".join(OVERLAYS) + r")\.json$")
_HEATMAP_PNG = re.compile(r"^/slide/(?P<stem>[^/]+)/heatmap\.png$")
_STATIC = re.compile(r"^/static/(?P<name>[a-z]+\.(?:js|css))$")


class _NotFound(Exception):
    pass


class ViewerServer:
    """A viewer of the slides of a catalogue.

    Parameters
    ----------
    catalog : Catalog
    host : str
        Address to bind (default loopback only).
    port : int
        Port (0: any free port).
    mpp : float, optional
        Level-0 um/px for slides whose files do not record it.
    cache_bytes : int
        Budget of the encoded-tile cache.
    quiet : bool
        Do not log requests.

    Examples
    --------
    >>> server = ViewerServer(Catalog.from_folders("data"), port=0)   # doctest: +SKIP
    >>> server.start()            # in a background thread
    >>> server.url                # 'http://127.0.0.1:40123/'
    >>> server.stop()
    """

    def __init__(self, catalog: Catalog, host: str = "127.0.0.1", port: int = 8000, *, mpp: float | None = None,
                 cache_bytes: int = 256 << 20, quiet: bool = True):
        self.catalog = catalog
        self.mpp = mpp
        self.quiet = quiet
        self.tiles = TileSource(self._slide_path, cache_bytes=cache_bytes)
        self._json = _LRU(64 << 20)  # overlay answers, by (stem, route)
        self._info_lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"viewer": self})
        try:
            self.httpd = ThreadingHTTPServer((host, int(port)), handler)
        except OSError as exc:
            raise CamelyonError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                                "choose another --port (0: any free port)") from None
        self.httpd.daemon_threads = True
        self.host = host
        self.loopback_only = host in LOOPBACK
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> ViewerServer:
        """Serve in a daemon thread (returns at once)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="camelyon-viewer", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- data ------------------------------------------------------------------------------------
    def _slide_path(self, stem: str):
        entry = self.catalog.get(stem)
        return None if entry is None else entry.path

    def _entry(self, stem: str):
        entry = self.catalog.get(stem)
        if entry is None:
            raise _NotFound(stem)
        return entry

    def _cached(self, key, make) -> bytes:
        body = self._json.get(key)
        if body is None:
            body = make()
            self._json.put(key, body, len(body))
        return body

    def _open_slide(self, entry):
        from camelyon.slide import Slide

        return Slide(entry.path, mpp=self.mpp)

    def info(self, stem: str) -> dict:
        """Geometry of a slide, or ``{"error": message}`` when it cannot be read."""
        from camelyon.viewer.tiles import OVERLAP, TILE_SIZE

        entry = self._entry(stem)
        try:
            with self._open_slide(entry) as slide:
                dz = self.tiles.generator(stem)
                return {
                    "name": stem, "file": entry.path.name, "width": slide.dimensions[0],
                    "height": slide.dimensions[1], "mpp": list(slide.mpp) if slide.has_mpp else None,
                    "vendor": slide.vendor, "levels": slide.level_count,
                    "objective": slide.properties.get("openslide.objective-power"),
                    "dzi": f"/slide/{stem}.dzi", "tile_size": TILE_SIZE, "overlap": OVERLAP,
                    "dz_levels": dz.level_count, "dz_dimensions": [list(d) for d in dz.level_dimensions],
                    "overlays": entry.summary()["overlays"] | {"tissue": slide.has_mpp},
                }
        except CamelyonError as exc:
            return {"name": stem, "file": entry.path.name, "error": str(exc)}

    def overlay(self, stem: str, what: str, query: dict) -> dict:
        entry = self._entry(stem)
        if what == "info":
            return self.info(stem)
        if what == "tissue":
            with self._open_slide(entry) as slide:
                if not slide.has_mpp:
                    raise CamelyonError(f"{entry.path.name}: no um/px, no tissue outline (start with --mpp)")
                return overlays.tissue_json(slide)
        mpp = self._mpp_of(entry)
        source = {"annotations": entry.annotations, "heatmap": entry.heatmap, "lesions": entry.heatmap,
                  "detections": entry.detections, "grid": entry.tile_store}[what]
        if source is None:
            raise _NotFound(f"{stem} has no {what}")
        if what == "annotations":
            return overlays.annotations_json(source, mpp)
        if what == "heatmap":
            return overlays.heatmap_json(source) | {"png": f"/slide/{stem}/heatmap.png"}
        if what == "lesions":
            threshold = _float(query.get("threshold", ["0.5"])[0], 0.5)
            return overlays.lesions_json(source, mpp, threshold=min(max(threshold, 0.0), 1.0))
        if what == "detections":
            return overlays.detections_json(source)
        return overlays.grid_json(source, entry.path.name)

    def _mpp_of(self, entry):
        try:
            with self._open_slide(entry) as slide:
                return slide.mpp if slide.has_mpp else None
        except CamelyonError:
            return None

    def config(self) -> dict:
        from camelyon.staging import ITC_MAX_MM, MICRO_MAX_MM

        return {"colour_maps": overlays.colour_maps(), "itc_max_mm": ITC_MAX_MM, "micro_max_mm": MICRO_MAX_MM,
                "warnings": self.catalog.warnings}


def _float(text, default: float) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return default


def _static(name: str) -> bytes:
    return resources.files("camelyon.viewer").joinpath("static", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    """Answers one connection's requests (HTTP/1.1, kept alive)."""

    viewer: ViewerServer
    protocol_version = "HTTP/1.1"
    server_version = "camelyon-view"
    #: headers and body go out in two writes: with Nagle's algorithm on, the body waits for the client's
    #: delayed ACK of the headers (~40 ms on Linux), which made every cached tile take 48 ms
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # noqa: D401 - http.server API
        if not self.viewer.quiet:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def _send(self, status: int, body: bytes, ctype: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        if ctype.startswith("text/html"):
            self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; "
                                                        "style-src 'self'; script-src 'self'; object-src 'none'")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status: int = 200) -> None:
        self._send(status, json.dumps(obj, separators=(",", ":")).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._send(status, (message + "\n").encode(), "text/plain; charset=utf-8")

    def _host_ok(self) -> bool:
        if not self.viewer.loopback_only:
            return True
        host = (self.headers.get("Host") or "").strip().lower()
        if host.startswith("["):
            name = host[: host.find("]") + 1]
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name in LOOPBACK

    def do_HEAD(self):  # noqa: N802 - http.server API
        self.do_GET()

    def do_GET(self):  # noqa: N802 - http.server API
        try:
            if not self._host_ok():
                return self._error(403, "this viewer answers on its loopback address only")
            self._route()
        except _NotFound:
            self._error(404, "not found")
        except (BrokenPipeError, ConnectionResetError):
            pass
        except CamelyonError as exc:
            self._json({"error": str(exc)}, status=500)
        except Exception as exc:  # noqa: BLE001 - one bad request must not stop the server
            traceback.print_exc(file=sys.stderr)
            self._json({"error": f"internal error: {type(exc).__name__}: {exc}"}, status=500)

    def _refuse(self):
        self._error(405, "this viewer is read-only: GET and HEAD only")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815 - http.server API

    def _route(self) -> None:
        v = self.viewer
        parts = urlsplit(self.path)
        raw = parts.path
        path = unquote(raw)
        if "\x00" in path or "\\" in path or "/../" in path + "/" or "//" in path:
            raise _NotFound(path)
        query = parse_qs(parts.query)
        if path in ("/", "/index.html"):
            return self._send(200, _static("index.html"), STATIC_FILES["index.html"])
        if path == "/slides.json":
            return self._json({"slides": v.catalog.rows(), "warnings": v.catalog.warnings})
        if path == "/config.json":
            return self._send(200, v._cached(("config",), lambda: json.dumps(v.config()).encode()),
                              "application/json")
        m = _STATIC.match(path)
        if m and m["name"] in STATIC_FILES:
            return self._send(200, _static(m["name"]), STATIC_FILES[m["name"]])
        m = _TILE.match(path)
        if m:
            stem = m["stem"]
            if v.catalog.get(stem) is None:
                raise _NotFound(stem)
            try:
                data = v.tiles.tile(stem, int(m["level"]), int(m["col"]), int(m["row"]))
            except (KeyError, ValueError):
                raise _NotFound(path) from None
            return self._send(200, data, "image/jpeg", cache=True)
        m = _DZI.match(path)
        if m:
            if v.catalog.get(m["stem"]) is None:
                raise _NotFound(m["stem"])
            return self._send(200, v.tiles.dzi(m["stem"]).encode(), "application/xml")
        m = _SLIDE_JSON.match(path)
        if m:
            stem, what = m["stem"], m["what"]
            v._entry(stem)
            if what == "info":
                return self._json(v.info(stem))
            key = (stem, what, parts.query)
            body = v._cached(key, lambda: json.dumps(v.overlay(stem, what, query), separators=(",", ":")).encode())
            return self._send(200, body, "application/json")
        m = _HEATMAP_PNG.match(path)
        if m:
            entry = v._entry(m["stem"])
            if entry.heatmap is None:
                raise _NotFound(path)
            return self._send(200, v._cached((m["stem"], "heatmap.png"), lambda: overlays.heatmap_png(entry.heatmap)),
                              "image/png")
        raise _NotFound(path)


def serve(data_dir, run_dir=None, host: str = "127.0.0.1", port: int = 8000, **kwargs) -> ViewerServer:
    """Build the catalogue of ``data_dir`` (and ``run_dir``) and return a server (not yet serving)."""
    return ViewerServer(Catalog.from_folders(data_dir, run_dir), host, port, **kwargs)

