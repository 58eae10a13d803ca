"""What every stain normalizer does: fit to a target, then normalize images one by one.

A normalizer subclasses :class:`StainNormalizer` and writes ``_fit_batch`` (measure the target),
``_normalize_image`` (one image to the target) and ``_state``/``from_dict`` (model files). Checking
the input, the fitted state, the batch loop and the ``method`` key of model files live here, once.
"""

from __future__ import annotations

import numpy as np

from camelyon.errors import StainError
from camelyon.stain.optical_density import as_image_batch


class StainNormalizer:
    """Base of the stain normalizers (:class:`~camelyon.stain.ReinhardNormalizer`,
    :class:`~camelyon.stain.MacenkoNormalizer`).

    Subclasses set ``method`` (the name in model files), ``_fitted_attribute`` (an attribute that is
    None until :meth:`fit`), and implement ``_fit_batch(batch)``, ``_normalize_image(image)``,
    ``_state()`` and the class method ``from_dict(d)``.
    """

    method = ""
    _fitted_attribute = ""

    def _check_fitted(self) -> None:
        if getattr(self, self._fitted_attribute) is None:
            raise StainError(f"{type(self).__name__} is not fitted: call fit(target) first")

    def fit(self, target: np.ndarray) -> StainNormalizer:
        """Measure the target's stain appearance (what each method measures: its ``_fit_batch``).

        Parameters
        ----------
        target : ndarray of shape (H, W, 3) or (N, H, W, 3), uint8
            One reference image, or several tiles pooled into one estimate.

        Returns
        -------
        self

        Raises
        ------
        StainError
            (a ValueError) When the target holds too little tissue (or stain) to measure.
        """
        batch, _ = as_image_batch(target, "target")
        self._fit_batch(batch)
        return self

    def transform(self, images: np.ndarray) -> np.ndarray:
        """Normalize an image or a batch to the target; an image too poor in tissue is returned unchanged.

        Parameters
        ----------
        images : ndarray of shape (H, W, 3) or (N, H, W, 3), uint8

        Returns
        -------
        out : ndarray of the same shape, uint8
        """
        self._check_fitted()
        batch, single = as_image_batch(images, "images")
        out = batch.copy()
        for i, image in enumerate(batch):
            normalized = self._normalize_image(image)
            if normalized is not None:
                out[i] = normalized
        return out[0] if single else out

    def to_dict(self) -> dict:
        """JSON-serializable parameters and target (for model files; read back by ``from_dict``)."""
        self._check_fitted()
        return {"method": self.method, **self._state()}

    def _fit_batch(self, batch: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _normalize_image(self, image: np.ndarray) -> np.ndarray | None:  # pragma: no cover - abstract
        """One (H, W, 3) uint8 image normalized, or None to keep it as it is."""
        raise NotImplementedError

    def _state(self) -> dict:  # pragma: no cover - abstract
        """The settings and the fitted target as JSON-able values (the keys ``from_dict`` reads)."""
        raise NotImplementedError
