"""The viewer page in a real headless browser (Debian's chromium + chromedriver, driven by selenium).

Every check reads pixels of a screenshot at the place where the slide's geometry says a thing must
be (the view is set explicitly, so level-0 (x, y) lands on screen at ``left + (x - x0) * s``): the
tumour colour of the tiles, a lesion outline, a heatmap hot spot, the tissue outline, the tile grid,
a detection, a predicted lesion; and the ruler, dragged across the lesion's tiles with the mouse,
must give its known diameter. Skips in one line when no browser can be had (``.ci/run`` installs one).
"""

from __future__ import annotations

import io
import re
import shutil
import time

import numpy as np
import pytest
import viewer_data as vd
from wsi_factory import TISSUE, TUMOUR

pytestmark = pytest.mark.xdist_group("viewer")


def _missing_browser() -> str | None:
    """Why no browser can be driven here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if not any(shutil.which(b) for b in ("chromium", "chromium-browser")) or not shutil.which("chromedriver"):
        return "no chromium/chromedriver (apt-get install chromium chromium-driver; .ci/run does)"
    return None


if _missing_browser():  # one line for the whole file, not one per test
    pytest.skip(f"viewer browser tests: {_missing_browser()}", allow_module_level=True)

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--force-device-scale-factor=1", "--window-size=1400,900",
                  "--hide-scrollbars"]
OVERLAYS = ("annotations", "tissue", "grid", "heatmap", "lesions", "detections")


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = next(shutil.which(b) for b in ("chromium", "chromium-browser") if shutil.which(b))
    driver = shutil.which("chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from camelyon.viewer import Catalog, ViewerServer

    browser = _browser()
    data, run = vd.make_viewer_folders(tmp_path_factory.mktemp("viewer_browser"))
    server = ViewerServer(Catalog.from_folders(data, run), port=0).start()
    try:
        browser.get(server.url)
        page = Page(browser)
        page.wait_idle()
        yield page
    finally:
        browser.quit()
        server.stop()


class Page:
    """The page, with helpers to wait for it and read its pixels."""

    def __init__(self, driver):
        self.d = driver

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def wait_idle(self, timeout: float = 30.0) -> None:
        t0 = time.monotonic()
        while not self.js("return !!(window.camelyonViewer && camelyonViewer.idle())"):
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"the page did not settle in {timeout:.0f} s: "
                                     f"{self.js('return JSON.stringify(camelyonViewer.state.data).slice(0, 300)')}")
            time.sleep(0.05)

    def open(self, name: str) -> None:
        self.js("camelyonViewer.open(arguments[0])", name)
        time.sleep(0.05)
        self.wait_idle()

    def only(self, *overlays: str) -> None:
        for name in OVERLAYS:
            self.js("camelyonViewer.setOverlay(arguments[0], arguments[1])", name, name in overlays)
        self.wait_idle()

    def view(self, x0: float, y0: float, s: float) -> None:
        self.js("camelyonViewer.setView(arguments[0], arguments[1], arguments[2])", x0, y0, s)
        self.wait_idle()
        self.x0, self.y0, self.s = x0, y0, s

    def centre_on(self, x: float, y: float, s: float) -> None:
        w, h = self.canvas()[2:]
        self.view(x - w / 2 / s, y - h / 2 / s, s)

    def canvas(self):
        return self.js("const r = document.getElementById('canvas').getBoundingClientRect();"
                       "return [r.left, r.top, r.width, r.height];")

    def screen(self, x: float, y: float) -> tuple[int, int]:
        """Page pixel (column, row) of level-0 point (x, y) in the current view."""
        left, top = self.canvas()[:2]
        return int(round(left + (x - self.x0) * self.s)), int(round(top + (y - self.y0) * self.s))

    def shot(self) -> np.ndarray:
        from PIL import Image

        return np.asarray(Image.open(io.BytesIO(self.d.get_screenshot_as_png())).convert("RGB")).astype(int)

    def text(self, element_id: str) -> str:
        return self.js("return document.getElementById(arguments[0]).textContent", element_id)


def window(img, col, row, r=3):
    return img[row - r:row + r + 1, col - r:col + r + 1].reshape(-1, 3)


def near(pixel, colour, tol=30) -> bool:
    return bool(np.abs(np.asarray(pixel) - np.asarray(colour)).max() <= tol)


def test_slide_list_loads_sorts_filters_and_follows_the_keyboard(page):
    rows = page.js("return [...document.querySelectorAll('#slides tbody tr')].map(r => r.dataset.name)")
    assert rows == sorted([vd.SLIDE, vd.EMPTY, vd.BROKEN])
    assert page.js("return camelyonViewer.state.current") == vd.SLIDE  # the first slide opens by itself
    cells = page.js("return [...document.querySelector('#slides tbody tr').cells].map(c => c.textContent)")
    assert cells[:6] == [vd.SLIDE, "center_0", "micro", "pN1mi", "itc", "pN0(i+)"]
    assert page.js("return getComputedStyle(document.querySelector('th.run')).display") != "none"
    head = page.d.find_element("css selector", "th[data-key='reference_label']")
    head.click()
    order = page.js("return camelyonViewer.state.order.map(s => s.name)")
    assert order == [vd.SLIDE, vd.EMPTY, vd.BROKEN]  # micro < negative, ties by name
    head.click()
    assert page.js("return camelyonViewer.state.order.map(s => s.name)") == [vd.EMPTY, vd.BROKEN, vd.SLIDE]
    page.d.find_element("css selector", "th[data-key='name']").click()
    box = page.d.find_element("id", "filter")
    box.send_keys("center_1")
    assert page.js("return camelyonViewer.state.order.map(s => s.name)") == [vd.BROKEN]
    assert page.text("count") == "1 of 3 slides"
    page.js("document.getElementById('filter').value = ''; document.getElementById('filter')"
            ".dispatchEvent(new Event('input'))")
    page.d.find_element("id", "view").click()
    page.d.find_element("tag name", "body").send_keys("j")
    page.wait_idle()
    assert page.js("return camelyonViewer.state.current") == vd.EMPTY
    assert page.js("return document.querySelector('#slides tr.current').dataset.name") == vd.EMPTY
    page.d.find_element("tag name", "body").send_keys("k")
    page.wait_idle()
    assert page.js("return camelyonViewer.state.current") == vd.SLIDE


def test_a_slide_opens_and_zooms_to_level0_tiles_in_place(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin

    page.open(vd.SLIDE)
    page.only()
    s_home = page.js("return camelyonViewer.getView().s")
    canvas = page.d.find_element("id", "canvas")
    ActionChains(page.d).scroll_from_origin(ScrollOrigin.from_element(canvas), 0, -400).perform()
    page.wait_idle()
    assert page.js("return camelyonViewer.getView().s") > 1.5 * s_home  # the wheel zooms in
    page.centre_on(vd.LESION[0], vd.LESION[1], 1.0)  # the lesion and both its edges on screen
    last = page.js("return camelyonViewer.state.info.dz_levels") - 1
    fetched = page.js("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any(f"_files/{last}/" in u for u in fetched)  # full-resolution tiles were asked for
    img = page.shot()
    assert near(window(img, *page.screen(vd.LESION[0] - 150, vd.LESION[1])).mean(0), TUMOUR)
    assert near(window(img, *page.screen(vd.LESION[0] - vd.LESION[2] - 40, vd.LESION[1])).mean(0), TISSUE)
    for dx in (-vd.LESION[2], vd.LESION[2]):  # the lesion's edge is where its outline says, to a few px
        inner = page.screen(vd.LESION[0] + dx - np.sign(dx) * 6, vd.LESION[1])
        outer = page.screen(vd.LESION[0] + dx + np.sign(dx) * 6, vd.LESION[1])
        assert near(window(img, *inner, 1).mean(0), TUMOUR, 40) and near(window(img, *outer, 1).mean(0), TISSUE, 40)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_toggles_and_lands_where_it_should(page, overlay):
    page.open(vd.SLIDE)
    cx, cy, r = vd.LESION
    hr, hc = vd.HOT_CELL
    reddish = lambda p: p[0] > 180 and p[1] < 90 and p[2] < 90  # noqa: E731
    greenish = lambda p: p[1] > 120 and p[1] > p[0] + 60 and p[1] > p[2] + 60  # noqa: E731
    cyan = lambda p: p[0] < 110 and p[1] > 170 and p[2] > 170  # noqa: E731
    if overlay == "annotations":
        page.centre_on(cx + r, cy, 1.0)
        probes = [((cx + r, cy), reddish), ((cx, cy - r), reddish)]
    elif overlay == "tissue":
        page.view(-50, -50, 0.4)
        probes = [((vd.TISSUE_BOX[2], 768), greenish), ((1000, vd.TISSUE_BOX[1]), greenish)]
    elif overlay == "grid":
        page.view(-50, -50, 0.4)
        probes = [((512, 800), reddish), ((2048, 800), greenish)]  # a tumour tile's and a normal tile's edges
    elif overlay == "lesions":
        page.centre_on(hc * vd.CELL, (hr + 0.5) * vd.CELL, 1.0)
        probes = [((hc * vd.CELL, (hr + 0.5) * vd.CELL), cyan), (((hc + 1) * vd.CELL, (hr + 0.5) * vd.CELL), cyan)]
    elif overlay == "detections":
        page.centre_on(vd.DETECTIONS[0][1], vd.DETECTIONS[0][2], 1.0)
        probes = [((vd.DETECTIONS[0][1] + 6, vd.DETECTIONS[0][2]), reddish)]
    else:  # the heatmap: checked by colour below
        page.centre_on((hc + 0.5) * vd.CELL, (hr + 0.5) * vd.CELL, 1.0)
        probes = []
    page.only()
    off = page.shot()
    page.only(overlay)
    on = page.shot()
    for (x, y), is_colour in probes:
        col, row = page.screen(x, y)
        r_px = 4 if overlay in ("tissue", "lesions") else 3
        assert any(is_colour(p) for p in window(on, col, row, r_px)), (overlay, x, y, window(on, col, row, 1))
        assert not any(is_colour(p) for p in window(off, col, row, r_px)), (overlay, "off", x, y)
    if overlay == "heatmap":
        lut = page.js("return camelyonViewer.state.config.colour_maps[camelyonViewer.state.cmap]")
        hot, cold = page.screen((hc + 0.5) * vd.CELL, (hr + 0.5) * vd.CELL), page.screen((hc - 1.5) * vd.CELL, (hr + 0.5) * vd.CELL)
        page.js("camelyonViewer.setOpacity(1.0)")
        page.wait_idle()
        opaque = page.shot()
        assert near(window(opaque, *hot).mean(0), lut[255], 12)  # the hot spot, in the colour map's top colour
        assert near(window(opaque, *cold).mean(0), lut[round(0.05 * 255)], 12)  # a cold tissue cell
        assert near(window(off, *hot).mean(0), TUMOUR)  # without the heatmap: the lesion's tiles
        page.js("camelyonViewer.setOpacity(0.5)")
        page.wait_idle()
        half = window(page.shot(), *hot).mean(0)
        assert near(half, 0.5 * np.array(lut[255]) + 0.5 * window(off, *hot).mean(0), 15)


def test_exclusion_outline_is_blue_and_the_lesion_threshold_is_set_on_the_page(page):
    page.open(vd.EMPTY)  # its annotations are a QuPath GeoJSON exclusion area
    page.only("annotations")
    (x0, y0), (x1, _) = vd.EXCLUSION[0], vd.EXCLUSION[1]
    page.centre_on((x0 + x1) / 2, y0, 1.0)
    blue = [p for p in window(page.shot(), *page.screen((x0 + x1) / 2, y0), 3) if p[2] > 180 and p[0] < 90]
    assert blue, "no blue exclusion outline where the GeoJSON says"

    page.open(vd.SLIDE)
    page.only("lesions")
    assert len(page.js("return camelyonViewer.state.data.lesions.lesions")) == 1  # the hot cell at >= 0.5
    box = page.d.find_element("id", "threshold")
    box.clear()
    box.send_keys("0.05\n")
    page.js("document.getElementById('threshold').dispatchEvent(new Event('change'))")
    time.sleep(0.1)
    page.wait_idle()
    lesions = page.js("return camelyonViewer.state.data.lesions")
    assert lesions["threshold"] == 0.05 and len(lesions["lesions"]) == 1
    xy = np.array(lesions["lesions"][0]["coordinates"])  # now every tissue cell: the tissue box
    assert (xy.min(0) == vd.TISSUE_BOX[:2]).all() and (xy.max(0) == vd.TISSUE_BOX[2:]).all()
    page.js("camelyonViewer.setThreshold(0.5)")
    page.wait_idle()


def test_ruler_gives_the_lesion_diameter_and_its_class(page):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    page.open(vd.SLIDE)
    page.only()
    cx, cy, r = vd.LESION
    page.centre_on(cx, cy, 1.0)
    img = page.shot()
    # the lesion's left and right edges on its centre row, found in the tiles' pixels
    col, row = page.screen(cx, cy)
    purple = [c for c in range(img.shape[1]) if near(img[row, c], TUMOUR, 40)]
    left, right = min(purple), max(purple)
    assert right - left > 0.9 * 2 * r * page.s
    page.d.find_element("tag name", "body").send_keys("r")

    def drag(x0, x1):
        actions = ActionBuilder(page.d)
        actions.pointer_action.move_to_location(x0, row).pointer_down().move_to_location((x0 + x1) // 2, row) \
            .move_to_location(x1, row).pointer_up()
        actions.perform()
        page.wait_idle()
        text = page.text("measure")
        m = re.match(r"ruler ([\d.]+) mm \((\d+) px\) \u2192 (\w+)", text)
        assert m, text
        return float(m[1]), m[3]

    mm, label = drag(left, right + 1)
    assert mm == pytest.approx(vd.LESION_DIAMETER_MM, abs=0.003) and label == "micro"
    mm, label = drag(col, col + 150)  # 150 px x 0.5 um/px = 0.075 mm: an ITC
    assert mm == pytest.approx(0.075, abs=0.002) and label == "itc"
    page.d.find_element("tag name", "body").send_keys("\ue00c")  # Escape clears the ruler
    assert page.text("measure") == ""


def test_pointer_position_and_scale_bar(page):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    page.open(vd.SLIDE)
    page.centre_on(1000, 700, 0.5)
    col, row = page.screen(1000, 700)
    actions = ActionBuilder(page.d)
    actions.pointer_action.move_to_location(col, row)
    actions.perform()
    pos = page.text("pos")
    m = re.match(r"x (\d+)\s+y (\d+) px\s+\u00b7\s+([\d.]+), ([\d.]+) \u00b5m", pos)
    assert m and abs(int(m[1]) - 1000) <= 2 and abs(int(m[2]) - 700) <= 2, pos
    assert abs(float(m[3]) - 500) <= 1 and abs(float(m[4]) - 350) <= 1  # 0.5 um/px
    assert page.text("zoom") == "1.00 \u00b5m/px on screen"


def test_keys_zoom_in_steps_and_the_overview_map_moves_the_view(page):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    page.open(vd.SLIDE)
    page.only()
    page.centre_on(500, 400, 0.5)
    page.d.find_element("id", "view").send_keys("+")  # an animated zoom about the centre
    page.wait_idle()
    v = page.js("return camelyonViewer.getView()")
    assert v["s"] == pytest.approx(0.75, rel=1e-6)
    w, h = page.canvas()[2:]
    assert v["x0"] + w / 2 / v["s"] == pytest.approx(500, abs=0.5)
    # the overview map (upper right) shows the whole slide: a click there centres the view on that point
    left, top = page.canvas()[:2]
    k = min(150 / 2048, 150 / 1536)
    bx = w - 2048 * k - 10
    actions = ActionBuilder(page.d)
    actions.pointer_action.move_to_location(int(left + bx + 1500 * k), int(top + 10 + 1000 * k)).click()
    actions.perform()
    page.wait_idle()
    v = page.js("return camelyonViewer.getView()")
    assert v["x0"] + w / 2 / v["s"] == pytest.approx(1500, abs=1 / k) and v["y0"] + h / 2 / v["s"] == pytest.approx(
        1000, abs=1 / k)


def test_two_fingers_pinch_zoom_about_their_midpoint(page):
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    page.open(vd.SLIDE)
    page.centre_on(1000, 800, 0.3)
    left, top, w, h = page.canvas()
    cx, cy = int(left + w / 2), int(top + h / 2)
    actions = ActionBuilder(page.d)
    fingers = [actions.add_pointer_input(interaction.POINTER_TOUCH, f"finger{i}") for i in (1, 2)]
    for finger, sign in zip(fingers, (-1, 1), strict=True):
        finger.create_pointer_move(x=cx + sign * 50, y=cy, origin="viewport")
        finger.create_pointer_down()
        finger.create_pointer_move(x=cx + sign * 100, y=cy, origin="viewport", duration=250)
        finger.create_pointer_up(0)
    actions.perform()
    page.wait_idle()
    v = page.js("return camelyonViewer.getView()")
    assert v["s"] == pytest.approx(0.6, rel=0.03)  # fingers 100 -> 200 px apart: twice the zoom
    assert v["x0"] + w / 2 / v["s"] == pytest.approx(1000, abs=5)  # about the point between them


def test_a_bad_slide_shows_an_error_panel_and_the_page_goes_on(page):
    page.d.find_element("css selector", f"#slides tr[data-name='{vd.BROKEN}']").click()
    page.wait_idle()
    panel = page.d.find_element("id", "error-panel")
    assert panel.is_displayed() and "OpenSlide" in panel.text and vd.BROKEN in panel.text
    page.open(vd.SLIDE)
    assert not panel.is_displayed()
    assert page.js("return camelyonViewer.state.info.width") == 2048


def test_embedded_view_as_show_makes_it(page):
    """The page as camelyon.viewer.show frames it: no slide list, that slide, those overlays on."""
    from urllib.parse import urlsplit

    back = page.d.current_url
    origin = "{0.scheme}://{0.netloc}/".format(urlsplit(back))
    try:
        page.d.get(f"{origin}?embed=1&slide={vd.EMPTY}&overlays=annotations,tissue")
        page.wait_idle()
        assert not page.d.find_element("id", "sidebar").is_displayed()
        assert page.js("return camelyonViewer.state.current") == vd.EMPTY
        assert page.js("return [camelyonViewer.state.overlays.tissue, camelyonViewer.state.overlays.heatmap]") == [
            True, False]
        assert page.js("return camelyonViewer.state.data.tissue.outlines.length") >= 1
    finally:
        page.d.get(back)
        page.wait_idle()


def test_tiles_that_cannot_be_decoded_show_the_error(page, tmp_path):
    """OpenSlide's fixture whose header opens but whose tiles do not decode (from openslide-python's sdist)."""
    import shutil

    from real_slides import fetch_real_slides

    from camelyon.viewer import Catalog, ViewerServer

    shutil.copy(fetch_real_slides()["unreadable.svs"], tmp_path / "unreadable.svs")
    server = ViewerServer(Catalog.from_folders(tmp_path), port=0).start()
    back = page.d.current_url
    try:
        page.d.get(server.url)
        page.wait_idle()
        panel = page.d.find_element("id", "error-panel")
        assert panel.is_displayed() and "cannot be read" in panel.text and "unreadable" in panel.text
    finally:
        page.d.get(back)
        page.wait_idle()
        server.stop()
