"""A small data folder and run folder with known geometry, for the viewer's tests.

``make_viewer_folders(root)`` writes::

    root/data/center_0/patient_000_node_0.tif   2048 x 1536 px at 0.5 um/px, a round lesion
    root/data/center_0/patient_000_node_1.tif   no lesion
    root/data/center_1/patient_001_node_0.tif   not a slide (OpenSlide cannot read it)
    root/data/lesion_annotations/patient_000_node_0.xml
    root/data/lesion_annotations/patient_000_node_1.geojson   an exclusion area (QuPath class Normal)
    root/data/stage_labels.csv
    root/run/heatmaps/patient_000_node_0.npz    one hot cell on the lesion's centre
    root/run/slide_predictions.csv, predictions.csv, features.csv
    root/run/detections/patient_000_node_0.csv  probability,X,Y rows without a header (CAMELYON16)
    root/run/tiles.h5                           a tile store of patient_000_node_0
    root/outside/secret.tif                     a slide outside the folders ...
    root/data/center_0/linked_out.tif           ... and a symbolic link to it inside them

Everything is in level-0 px; :data:`LESION` and :data:`HOT_CELL` say where things are.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
from wsi_factory import SlideSpec, write_corrupt_tiff, write_lesion_xml, write_slide

from camelyon.annotations import Annotation
from camelyon.annotations_geojson import write_geojson

MPP = 0.5
WIDTH, HEIGHT = 2048, 1536
TISSUE_BOX = (256, 256, 1792, 1280)
#: Centre and radius (level-0 px) of the round lesion: 2 x 300 px x 0.5 um/px = 0.3 mm, a micro-metastasis.
LESION = (1024.0, 768.0, 300.0)
LESION_DIAMETER_MM = 2 * LESION[2] * MPP / 1000.0
#: Heatmap geometry: 128 px cells from (0, 0); the hot cell holds the lesion's centre.
CELL = 128
HOT_CELL = (int(LESION[1] // CELL), int(LESION[0] // CELL))  # (row, col)
DETECTIONS = [(0.93, 1024.0, 768.0), (0.41, 500.0, 1100.0)]
#: An exclusion polygon of the lesion-free slide, in a QuPath GeoJSON file.
EXCLUSION = [(300, 300), (500, 300), (500, 450), (300, 450)]
SLIDE = "patient_000_node_0"
EMPTY = "patient_000_node_1"
BROKEN = "patient_001_node_0"


def lesion_polygon(n: int = 180) -> np.ndarray:
    """The lesion outline: ``n`` vertices on the circle, shape (n, 2)."""
    cx, cy, r = LESION
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])


def make_viewer_folders(root, tile_store: bool = True) -> tuple[Path, Path]:
    """Write the folders described above; returns ``(data_dir, run_dir)``."""
    from camelyon.heatmap import Heatmap

    root = Path(root)
    data, run = root / "data", root / "run"
    (data / "center_0").mkdir(parents=True)
    (data / "center_1").mkdir()
    (data / "lesion_annotations").mkdir()
    lesion = [tuple(p) for p in lesion_polygon()]
    spec = SlideSpec(width=WIDTH, height=HEIGHT, tissue=[TISSUE_BOX], lesions=[lesion], noise=1.0)
    write_slide(data / "center_0" / f"{SLIDE}.tif", spec, mpp=MPP)
    write_lesion_xml(data / "lesion_annotations" / f"{SLIDE}.xml", spec)
    write_slide(data / "center_0" / f"{EMPTY}.tif", SlideSpec(width=1024, height=768, tissue=[(128, 128, 896, 640)]),
                mpp=MPP)
    write_corrupt_tiff(data / "center_1" / f"{BROKEN}.tif")
    write_geojson([Annotation("normal area", "_2", "Polygon", np.array(EXCLUSION, float))],
                  data / "lesion_annotations" / f"{EMPTY}.geojson")  # QuPath export, class Normal
    (data / "stage_labels.csv").write_text(
        "patient,stage\npatient_000.zip,pN1mi\n"
        f"{SLIDE}.tif,micro\n{EMPTY}.tif,negative\npatient_001.zip,pN0\n{BROKEN}.tif,negative\n")
    outside = root / "outside"
    outside.mkdir()
    write_slide(outside / "secret.tif", SlideSpec(width=512, height=512, tissue=[(0, 0, 512, 512)]), mpp=MPP)
    (outside / "secret.txt").write_text("not for the viewer\n")
    os.symlink(outside / "secret.tif", data / "center_0" / "linked_out.tif")

    (run / "heatmaps").mkdir(parents=True)
    rows, cols = HEIGHT // CELL, WIDTH // CELL
    tissue = np.zeros((rows, cols), bool)
    x0, y0, x1, y1 = TISSUE_BOX
    tissue[y0 // CELL:y1 // CELL, x0 // CELL:x1 // CELL] = True
    prob = np.where(tissue, 0.05, 0.0).astype(np.float32)
    prob[HOT_CELL] = 1.0
    Heatmap(prob, tissue, f"{SLIDE}.tif", level=0, tile_size=CELL, stride=CELL, um_per_px=CELL * MPP,
            origin=(0, 0), downsample=1.0).save(run / "heatmaps" / f"{SLIDE}.npz")
    (run / "slide_predictions.csv").write_text(f"patient,stage\n{SLIDE}.tif,itc\n{EMPTY}.tif,negative\n")
    (run / "predictions.csv").write_text(f"patient,stage\npatient_000.zip,pN0(i+)\n{SLIDE}.tif,itc\n"
                                         f"{EMPTY}.tif,negative\n")
    with open(run / "features.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["slide", "label", "max_probability", "largest_diameter_mm_t50"])
        w.writerow([f"{SLIDE}.tif", "micro", 1.0, 0.18])
        w.writerow([f"{EMPTY}.tif", "negative", 0.2, 0.0])
    (run / "detections").mkdir()
    with open(run / "detections" / f"{SLIDE}.csv", "w", newline="") as fh:  # CAMELYON16 style: no header
        csv.writer(fh).writerows(DETECTIONS)
    if tile_store:
        from camelyon.dataset import build_tile_store
        from camelyon.tiling import TileGrid

        build_tile_store([data / "center_0" / f"{SLIDE}.tif"], run / "tiles.h5",
                         grid=TileGrid(tile_size=32, um_per_px=8.0, min_tissue=0.5),
                         annotations=data / "lesion_annotations", workers=1, progress=False)
    return data, run
