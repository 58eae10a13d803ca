"""A small CAMELYON16-layout folder with known lesions, for the CAMELYON16 tests."""

from __future__ import annotations

from pathlib import Path

from wsi_factory import SlideSpec, write_lesion_xml, write_slide

#: test_001 (3072 x 2048 px at 0.243 um/px): two lesions and one ITC-sized region, level-0 px.
LESION1 = [(320, 320), (1600, 320), (1600, 960), (320, 960)]
LESION2 = [(320, 1400), (1600, 1400), (1600, 1800), (320, 1800)]
ITC = [(2600, 400), (2700, 400), (2700, 500), (2600, 500)]
SIZE = (3072, 2048)


def make_c16_layout(root: Path) -> Path:
    """``root/testing/images/test_00{1,2,3}.tif``, ``root/lesion_annotations/test_001.xml`` (group ``_0``),
    ``root/testing/reference.csv`` (test_001 tumour, the others normal)."""
    images = root / "testing" / "images"
    images.mkdir(parents=True)
    ann = root / "lesion_annotations"
    ann.mkdir()
    spec = SlideSpec(width=SIZE[0], height=SIZE[1], tissue=[(100, 100, 2900, 1900)], lesions=[LESION1, LESION2, ITC])
    write_slide(images / "test_001.tif", spec, mpp=0.243, min_size=512)
    write_lesion_xml(ann / "test_001.xml", spec, tumour_group="_0")
    for name in ("test_002", "test_003"):
        write_slide(images / f"{name}.tif", SlideSpec(width=512, height=512, tissue=[(64, 64, 448, 448)]),
                    mpp=0.243, min_size=512)
    (root / "testing" / "reference.csv").write_text("Test_001,Tumor,Macro,Field\ntest_002,Normal\nTEST_003,normal\n")
    return root
