"""The tile classifier as a file: network, weights, colour normalization and tile geometry.

A model file is a minicnn ``Sequential.save`` ``.npz`` (architecture as JSON, weights, no pickle)
whose metadata say how tiles must look before the network sees them:

- ``format``: ``"camelyon-tile-model"`` and ``architecture`` (``"tile_cnn"``);
- ``tile_size`` (px), ``level`` and ``um_per_px`` the tiles were read at;
- ``normalization``: the fitted stain normalizer (``to_dict()``) or None;
- ``input_mean`` / ``input_std``: per-channel standardization of ``tile / 255``;
- ``extra``: training settings and results.

Examples
--------
>>> model = TileModel.new(tile_size=96, um_per_px=1.0, level=1, seed=0)   # doctest: +SKIP
>>> p = model.predict_proba(tiles)       # tiles (N, 96, 96, 3) uint8 -> (N,) tumour probability
>>> model.save("model.npz"); model = load_tile_model("model.npz")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from camelyon.errors import CamelyonError
from camelyon.stain import normalizer_from_dict

__all__ = ["MODEL_FORMAT", "ARCHITECTURES", "TileModel", "build_network", "load_tile_model"]

MODEL_FORMAT = "camelyon-tile-model"


def _tile_cnn(rng=None):
    from minicnn.models import tile_cnn

    return tile_cnn(rng=rng)


#: Architectures a tile model may have: name -> builder(rng) of a minicnn.Sequential taking
#: (N, 3, h, w) float32 and returning (N, 1) logits.
ARCHITECTURES = {"tile_cnn": _tile_cnn}


def build_network(architecture: str = "tile_cnn", rng=None):
    """A freshly initialized network of a known architecture.

    Parameters
    ----------
    architecture : str
        A key of :data:`ARCHITECTURES`.
    rng : numpy.random.Generator or int, optional
        Initial weights.
    """
    if architecture not in ARCHITECTURES:
        raise CamelyonError(f"unknown tile-model architecture {architecture!r}: expected one of "
                            f"{', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](rng)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z, dtype=np.float32)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


@dataclass
class TileModel:
    """A tile CNN with everything needed to apply it to tiles of a slide.

    Attributes
    ----------
    network : minicnn.Sequential
        Maps (N, 3, tile_size, tile_size) float32 to (N, 1) logits.
    tile_size : int
        Tile side in px (at ``um_per_px``).
    um_per_px : float
        Resolution the model was trained at (um per pixel of a tile).
    level : int or None
        Pyramid level of the training tiles (informative; heatmaps choose the level by um/px).
    normalizer : ReinhardNormalizer, MacenkoNormalizer or None
        Fitted stain normalizer applied to every tile first.
    input_mean, input_std : ndarray of shape (3,), float32
        Standardization of ``tile / 255`` per RGB channel.
    architecture : str
        Name in :data:`ARCHITECTURES`.
    extra : dict
        JSON-able training settings and results.
    """

    network: object
    tile_size: int
    um_per_px: float
    level: int | None = None
    normalizer: object | None = None
    input_mean: np.ndarray = field(default_factory=lambda: np.full(3, 0.5, np.float32))
    input_std: np.ndarray = field(default_factory=lambda: np.full(3, 0.25, np.float32))
    architecture: str = "tile_cnn"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.input_mean = np.asarray(self.input_mean, dtype=np.float32).reshape(3)
        self.input_std = np.asarray(self.input_std, dtype=np.float32).reshape(3)
        if np.any(self.input_std <= 0):
            raise CamelyonError(f"tile model input_std must be positive, got {self.input_std}")
        if int(self.tile_size) < 8:
            raise CamelyonError(f"tile model tile_size must be at least 8 px, got {self.tile_size}")
        self.tile_size = int(self.tile_size)
        self.um_per_px = float(self.um_per_px)

    @classmethod
    def new(cls, tile_size: int, um_per_px: float, level: int | None = None, normalizer=None,
            input_mean=None, input_std=None, architecture: str = "tile_cnn", seed=0) -> "TileModel":
        """A model with freshly initialized weights (seeded)."""
        return cls(build_network(architecture, np.random.default_rng(seed)), tile_size, um_per_px, level,
                   normalizer,
                   np.full(3, 0.5, np.float32) if input_mean is None else input_mean,
                   np.full(3, 0.25, np.float32) if input_std is None else input_std,
                   architecture)

    # -- inference ---------------------------------------------------------------------------
    def prepare(self, tiles: np.ndarray, normalize: bool = True, out: np.ndarray | None = None) -> np.ndarray:
        """Turn uint8 RGB tiles into network input.

        Parameters
        ----------
        tiles : ndarray of shape (N, tile_size, tile_size, 3), uint8
        normalize : bool
            Apply the stain normalizer (skip it when the tiles are already normalized).
        out : ndarray of shape (M, 3, tile_size, tile_size), float32, optional
            Buffer to write into (M >= N); its first N rows are returned.

        Returns
        -------
        x : ndarray of shape (N, 3, tile_size, tile_size), float32
        """
        tiles = np.asarray(tiles)
        t = self.tile_size
        if tiles.ndim != 4 or tiles.shape[1:] != (t, t, 3) or tiles.dtype != np.uint8:
            raise CamelyonError(f"tile model expects uint8 tiles of shape (N, {t}, {t}, 3), "
                                f"got {tiles.dtype} {tiles.shape}")
        if normalize and self.normalizer is not None:
            tiles = self.normalizer.transform(tiles)
        n = len(tiles)
        if out is None or out.shape[0] < n or out.shape[1:] != (3, t, t) or out.dtype != np.float32:
            out = np.empty((n, 3, t, t), dtype=np.float32)
        x = out[:n]
        scale = (1.0 / (255.0 * self.input_std)).astype(np.float32)
        offset = (self.input_mean / self.input_std).astype(np.float32)
        for c in range(3):
            np.multiply(tiles[..., c], scale[c], out=x[:, c], casting="unsafe")
            x[:, c] -= offset[c]
        return x

    def predict_logits(self, tiles: np.ndarray, batch_size: int = 128, normalize: bool = True) -> np.ndarray:
        """Tumour logits of uint8 tiles, ``batch_size`` at a time.

        Parameters
        ----------
        tiles : ndarray of shape (N, tile_size, tile_size, 3), uint8

        Returns
        -------
        logits : ndarray of shape (N,), float32
        """
        tiles = np.asarray(tiles)
        if len(tiles) == 0:
            return np.zeros(0, np.float32)
        self.network.eval()
        buf = None
        out = np.empty(len(tiles), np.float32)
        for start in range(0, len(tiles), batch_size):
            buf = self.prepare(tiles[start:start + batch_size], normalize, out=buf)
            x = buf[: min(batch_size, len(tiles) - start)]
            out[start:start + len(x)] = np.asarray(self.network.forward(x)).reshape(len(x))
        return out

    def predict_proba(self, tiles: np.ndarray, batch_size: int = 128, normalize: bool = True) -> np.ndarray:
        """Tumour probabilities (sigmoid of the logits), shape (N,), float32."""
        return _sigmoid(self.predict_logits(tiles, batch_size, normalize))

    # -- files -------------------------------------------------------------------------------
    def metadata(self) -> dict:
        """The JSON metadata stored with the weights."""
        return {
            "format": MODEL_FORMAT,
            "architecture": self.architecture,
            "tile_size": self.tile_size,
            "um_per_px": self.um_per_px,
            "level": None if self.level is None else int(self.level),
            "normalization": None if self.normalizer is None else self.normalizer.to_dict(),
            "input_mean": [float(v) for v in self.input_mean],
            "input_std": [float(v) for v in self.input_std],
            "extra": self.extra,
        }

    def save(self, path) -> Path:
        """Write the model file (atomically, no pickle)."""
        return Path(self.network.save(path, metadata=self.metadata()))

    @classmethod
    def load(cls, path, architecture: str | None = "tile_cnn") -> "TileModel":
        """Read a model file; see :func:`load_tile_model`."""
        return load_tile_model(path, architecture)

    def describe(self) -> str:
        norm = "none" if self.normalizer is None else self.normalizer.method
        return (f"{self.architecture}: {self.tile_size} px tiles at {self.um_per_px:g} um/px, "
                f"normalization {norm}")


def load_tile_model(path, architecture: str | None = "tile_cnn") -> TileModel:
    """Read a tile-model file written by :meth:`TileModel.save`.

    Parameters
    ----------
    path : str or Path
    architecture : str or None
        Expected architecture (its layers are compared with the file's); None accepts any
        architecture listed in :data:`ARCHITECTURES`.

    Raises
    ------
    CamelyonError
        When the file is missing, is not a tile-model file, or holds another architecture
        (the message names the first layer that differs).
    """
    from minicnn import Sequential

    path = Path(path)
    if not path.is_file():
        raise CamelyonError(f"model file not found: {path}")
    try:
        network = Sequential.load(path)
    except (ValueError, OSError, KeyError, EOFError, json.JSONDecodeError) as exc:
        text = str(exc)
        raise CamelyonError(text if str(path) in text else f"{path} is not a usable tile model: {text}") from None
    meta = network.metadata or {}
    if meta.get("format") != MODEL_FORMAT:
        raise CamelyonError(f"{path} is a minicnn model but not a camelyon tile model (its metadata has no "
                            f"format={MODEL_FORMAT!r}); train one with `camelyon train`")
    file_arch = meta.get("architecture")
    expected = architecture or file_arch
    if architecture is not None and file_arch != architecture:
        raise CamelyonError(f"{path} holds a {file_arch!r} network, expected architecture {architecture!r}")
    if expected not in ARCHITECTURES:
        raise CamelyonError(f"{path} holds an unknown {expected!r} network: expected one of "
                            f"{', '.join(ARCHITECTURES)}")
    reference = build_network(expected, 0)
    try:
        reference.check_architecture(network.config(), source=str(path))
    except ValueError as exc:
        raise CamelyonError(f"{path} does not hold a {expected!r} network: {exc}") from exc
    try:
        normalizer = normalizer_from_dict(meta.get("normalization"))
        model = TileModel(network, meta["tile_size"], meta["um_per_px"], meta.get("level"), normalizer,
                          meta["input_mean"], meta["input_std"], expected, meta.get("extra", {}))
    except (KeyError, ValueError, TypeError) as exc:
        raise CamelyonError(f"{path}: damaged tile-model metadata ({type(exc).__name__}: {exc})") from exc
    model.network.eval()
    return model
