"""CAMELYON16: its folder layout, its reference table and its two challenge tasks.

- :mod:`camelyon.camelyon16.layout`: which layout a data folder has (CAMELYON16, CAMELYON17 or a
  plain folder of slides) and which slides play which role.
- :mod:`camelyon.camelyon16.reference`: ``testing/reference.csv`` and the detection CSVs
  (``probability,X,Y``) of the lesion-level task.
- :mod:`camelyon.camelyon16.evaluation_mask`: the level-5 evaluation mask (75 um growth, holes
  filled, 8-connected lesions, isolated-tumour-cell regions) from annotations or a mask TIFF.
- :mod:`camelyon.camelyon16.froc`: the lesion-level FROC exactly as the challenge computed it, and
  the slide-level ROC AUC with a bootstrap interval.
- :mod:`camelyon.camelyon16.detection`: lesion detections (``probability,X,Y``) from heatmaps.
"""
