"""Train a small CNN on the 8 x 8 handwritten digits bundled with scikit-learn.

    python -m minicnn.examples.digits --out runs/digits

Real data, offline, a fixed seed: the same command prints the same test accuracy on every run of the same
machine. Writes to ``--out``:

- ``digits_cnn.npz``: the trained model (``minicnn.Sequential.load``),
- ``training_curve.png``: training and validation loss and validation accuracy per epoch,
- ``history.json``: the same numbers, and the test accuracy,
- ``checkpoint.npz`` while training: run the command again after an interruption and it resumes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from minicnn.datasets import load_digits, train_test_split
from minicnn.io import atomic_path, write_json
from minicnn.losses import SoftmaxCrossEntropy
from minicnn.models import digits_cnn
from minicnn.optim import Adam, CosineLR
from minicnn.training import Trainer, accuracy


def plot_history(history: dict, test_accuracy: float, path: Path) -> Path:
    """Write the training curves (loss per epoch; validation accuracy) to the PNG ``path`` atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = history["epoch"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    ax_loss.plot(epochs, history["loss"], marker="o", ms=3, label="training")
    if "val_loss" in history:
        ax_loss.plot(epochs, history["val_loss"], marker="o", ms=3, label="validation")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.set_yscale("log")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    if "val_accuracy" in history:
        ax_acc.plot(epochs, 100 * np.asarray(history["val_accuracy"]), marker="o", ms=3, color="C1",
                    label="validation")
    ax_acc.axhline(100 * test_accuracy, color="C2", ls="--", label=f"test (end): {100 * test_accuracy:.1f} %")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    low = min([100 * test_accuracy] + [100 * a for a in history.get("val_accuracy", [])])
    ax_acc.set_ylim(max(0, min(80, low - 2)), 100.5)
    ax_acc.legend(loc="lower right")
    ax_acc.grid(alpha=0.3)
    fig.suptitle("minicnn digits CNN (scikit-learn digits, 8 x 8 px)")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, format="png")
    finally:
        plt.close(fig)
    return path


def run(out: Path, epochs: int = 15, batch_size: int = 64, lr: float = 3e-3, seed: int = 0,
        progress: bool = True) -> dict:
    """Train and evaluate; return a summary dict (also written to ``out/history.json``)."""
    X, y = load_digits()
    # 20 % test (never seen in training), then 10 % of the rest for validation each epoch
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, seed=seed)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.1, seed=seed + 1)

    model = digits_cnn(rng=seed)
    optimizer = Adam(model.parameters(), lr=lr)
    scheduler = CosineLR(optimizer, t_max=epochs)
    trainer = Trainer(model, SoftmaxCrossEntropy(), optimizer, scheduler=scheduler, progress=progress, seed=seed)
    if progress:
        print(model.summary((1, 8, 8)))
        print(f"training on {len(X_train)} digits, validating on {len(X_val)}, testing on {len(X_test)}")
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "checkpoint.npz"
    start = time.perf_counter()
    history = trainer.fit(X_train, y_train, epochs=epochs, batch_size=batch_size, X_val=X_val, y_val=y_val,
                          checkpoint=checkpoint)
    seconds = time.perf_counter() - start
    test_accuracy = accuracy(y_test, model.predict(X_test))

    model_path = model.save(out / "digits_cnn.npz", metadata={
        "dataset": "sklearn digits", "input": "(1, 8, 8) grey level / 16", "classes": list(range(10)),
        "test_accuracy": test_accuracy, "seed": seed,
    })
    curve_path = plot_history(history, test_accuracy, out / "training_curve.png")
    summary = {"test_accuracy": test_accuracy, "n_test": int(len(y_test)), "epochs": history.epochs,
               "train_seconds": round(seconds, 2), "seed": seed, "history": dict(history)}
    write_json(out / "history.json", summary, indent=1)
    checkpoint.unlink(missing_ok=True)  # finished: the next run starts afresh
    summary["model_path"] = str(model_path)
    summary["curve_path"] = str(curve_path)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minicnn.examples.digits", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/digits"), help="output folder (default runs/digits)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (cosine schedule)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no summary table, no progress bars")
    args = parser.parse_args(argv)
    try:
        summary = run(args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                      progress=not args.quiet)
    except (ImportError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"test accuracy: {100 * summary['test_accuracy']:.2f} % on {summary['n_test']} digits "
          f"({summary['epochs']} epochs, {summary['train_seconds']:.1f} s)")
    print(f"wrote {summary['model_path']} and {summary['curve_path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
