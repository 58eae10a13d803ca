"""Ready-made architectures.

- :func:`tile_cnn`: the reference CNN for pathology tiles (the benchmark model; one logit per tile).
- :func:`digits_cnn`: a small CNN for the 8 x 8 handwritten digits (10 class scores).
"""

from __future__ import annotations

import numpy as np

from minicnn.sequential import Sequential

__all__ = ["tile_cnn", "digits_cnn"]


def tile_cnn(rng=None, in_channels: int = 3) -> Sequential:
    """The reference tile CNN: four 3 x 3 convolutions, global average pooling, one logit.

    Layers (output shape for a 3 x 96 x 96 tile)::

        0-2   Conv2D(in, 16, 3, padding=1), ReLU, MaxPool2D(2)   16 x 48 x 48
        3-5   Conv2D(16, 32, 3, padding=1), ReLU, MaxPool2D(2)   32 x 24 x 24
        6-8   Conv2D(32, 64, 3, padding=1), ReLU, MaxPool2D(2)   64 x 12 x 12
        9-10  Conv2D(64, 64, 3, padding=1), ReLU                 64 x 12 x 12
        11    GlobalAvgPool2D()                                  64
        12    Dense(64, 1)                                       1 (logit of "tumour")

    Works for any tile size divisible by 8. Train with ``BCEWithLogits``.

    Parameters
    ----------
    rng : numpy.random.Generator or int, optional
        Draws the initial weights (He initialisation), layer after layer.
    in_channels : int
        3 for RGB tiles.

    Returns
    -------
    Sequential
        Input (N, in_channels, H, W) float32, output (N, 1) logits. The first convolution skips the
        input gradient (``model[0].input_grad = False``, so ``model.backward`` returns None); set it
        to True for saliency maps.
    """
    from minicnn.layers import Conv2D, Dense, GlobalAvgPool2D, MaxPool2D, ReLU

    rng = np.random.default_rng(rng)
    model = Sequential(
        Conv2D(in_channels, 16, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),
        Conv2D(16, 32, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),
        Conv2D(32, 64, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),
        Conv2D(64, 64, 3, padding=1, rng=rng), ReLU(),
        GlobalAvgPool2D(),
        Dense(64, 1, rng=rng),
    )
    model[0].input_grad = False  # nobody needs d(loss)/d(image): skip the largest col2im
    return model


def digits_cnn(rng=None, n_classes: int = 10) -> Sequential:
    """A small CNN for 1 x 8 x 8 digit images.

    Conv2D(1, 16, 3, padding=1) + ReLU -> Conv2D(16, 32, 3, padding=1) + ReLU + MaxPool2D(2) (32 x 4 x 4)
    -> Flatten -> Dense(512, 64) + ReLU -> Dense(64, n_classes). 38 282 parameters for 10 classes.
    Train with ``SoftmaxCrossEntropy``.

    Parameters
    ----------
    rng : numpy.random.Generator or int, optional
        Draws the initial weights.
    n_classes : int

    Returns
    -------
    Sequential
        Input (N, 1, 8, 8) float32 in [0, 1], output (N, n_classes) class scores. The first convolution
        skips the input gradient (``model[0].input_grad = False``).
    """
    from minicnn.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU

    rng = np.random.default_rng(rng)
    model = Sequential(
        Conv2D(1, 16, 3, padding=1, rng=rng), ReLU(),
        Conv2D(16, 32, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),
        Flatten(),
        Dense(32 * 4 * 4, 64, rng=rng), ReLU(),
        Dense(64, n_classes, rng=rng),
    )
    model[0].input_grad = False
    return model
