"""A web viewer of whole-slide images with annotations, heatmaps, detections and a ruler.

``camelyon view DATA_DIR [--run RUN_DIR]`` serves every slide under ``DATA_DIR`` as Deep Zoom tiles
to a page that pans and zooms from the whole node to level 0, with switchable overlays (lesion
annotations, tissue outline, tile grid, heatmap, predicted lesions, detections), a scale bar, the
pointer position in level-0 px and um, and a ruler that gives a line's length in mm with the slide
label (itc / micro / macro) that length would give. In a notebook, :func:`show` puts the same viewer
in an output cell. See docs/viewer.md.
"""

from camelyon.viewer.catalog import Catalog, SlideEntry
from camelyon.viewer.notebook import show, stop
from camelyon.viewer.server import ViewerServer, serve

__all__ = ["Catalog", "SlideEntry", "ViewerServer", "serve", "show", "stop"]
