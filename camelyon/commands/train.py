"""``camelyon train``: train the tile CNN on an HDF5 tile store."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from camelyon.errors import CamelyonError
from camelyon.messages import count_noun


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train the tile CNN (minicnn) on a tile store; writes the model file and a training-curve PNG",
        description="Train minicnn's reference tile CNN on the tiles of TILES.h5 with class-balanced minibatches, "
                    "optional stain normalization and augmentation, and validation (loss, AUC) on held-out "
                    "patients after every epoch. A checkpoint is written after each epoch: rerun with --resume "
                    "to continue an interrupted run. Writes OUT (.npz: architecture, weights, normalization "
                    "target, tile geometry), OUT_STEM.training.png and OUT_STEM.history.json.",
    )
    p.add_argument("store", metavar="TILES.h5", nargs="?", default=None,
                   help="tile store written by 'camelyon tiles' (or give --pcam DIR)")
    p.add_argument("--pcam", default=None, metavar="DIR",
                   help="train on PatchCamelyon instead: DIR holds camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5; "
                        "validates on valid and prints 'test accuracy' and 'test AUC' on test")
    p.add_argument("--max-tiles", type=int, default=None,
                   help="with --pcam: use a random subset of at most N tiles of each split (seeded)")
    p.add_argument("--out", required=True, help="model file to write (.npz)")
    p.add_argument("--epochs", type=int, default=6, help="training epochs (default 6)")
    p.add_argument("--batch-size", type=int, default=64, help="tiles per minibatch, half tumour (default 64)")
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help="minibatches per epoch (default: about one pass over the training tiles)")
    p.add_argument("--lr", type=float, default=2e-3, help="initial Adam learning rate (cosine decay; default 2e-3)")
    p.add_argument("--normalize", choices=["none", "reinhard", "macenko"], default="none",
                   help="stain normalization of every tile (default none)")
    p.add_argument("--augment", action="store_true",
                   help="augment minibatches: flips, 90-degree rotations, H and E jitter")
    p.add_argument("--val-fraction", type=float, default=0.2,
                   help="fraction of patients held out for validation (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the weights and the minibatches")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint of an interrupted run")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from camelyon.training import TrainingConfig, checkpoint_path, train_from_store

    if (args.store is None) == (args.pcam is None):
        raise CamelyonError("give either a tile store TILES.h5 or --pcam DIR (not both)")
    if args.max_tiles is not None and args.pcam is None:
        raise CamelyonError("--max-tiles goes with --pcam")
    out = Path(args.out)
    if out.suffix != ".npz":
        raise CamelyonError(f"--out must end in .npz, got {out}")
    ckpt = checkpoint_path(out)
    if ckpt.exists() and not args.resume:
        raise CamelyonError(f"{ckpt} exists from an earlier run: add --resume to continue it, or delete it")
    if args.resume and not ckpt.exists():
        print(f"no checkpoint {ckpt.name} in {ckpt.parent}; starting afresh", flush=True)
    config = TrainingConfig(epochs=args.epochs, batch_size=args.batch_size, steps_per_epoch=args.steps_per_epoch,
                            lr=args.lr, normalize=args.normalize, augment=args.augment,
                            val_fraction=args.val_fraction, seed=args.seed)
    if args.pcam is not None:
        return _run_pcam(args, out, config)
    with warnings.catch_warnings():
        # a warning (e.g. no validation patients) is one line on stderr, not a source location and code line
        warnings.showwarning = _show_warning
        result = train_from_store(args.store, out, config, resume=args.resume, progress=not args.quiet)
    h = result.history
    line = f"wrote {result.model_path} after {count_noun(h['epoch'][-1], 'epoch')}: training loss {h['loss'][-1]:.4f}"
    if "val_auc" in h:
        line += f", validation loss {h['val_loss'][-1]:.4f}, validation AUC {h['val_auc'][-1]:.4f}"
    print(line)
    print(f"training curves: {result.curve_path}")
    return 0


def _run_pcam(args, out, config) -> int:
    from camelyon.pcam_training import train_on_pcam

    if args.normalize != "none":
        raise CamelyonError("--normalize is not available with --pcam (PCam tiles are read batch by batch)")
    r = train_on_pcam(args.pcam, out, config, max_tiles=args.max_tiles, progress=not args.quiet, resume=args.resume)
    h = r.history
    speed = sorted(h["tiles_per_s"])[len(h["tiles_per_s"]) // 2]
    print(f"wrote {r.model_path} after {count_noun(h['epoch'][-1], 'epoch')} on {r.n_train} PCam training tiles: "
          f"training loss {h['loss'][-1]:.4f}, validation AUC {h['val_auc'][-1]:.4f} ({r.n_val} tiles), "
          f"{speed:.0f} training tiles/s (median epoch)")
    print(f"test accuracy {r.test_accuracy:.4f}")
    print(f"test AUC {r.test_auc:.4f}")
    print(f"  on {r.n_test} test tiles in {r.test_seconds:.1f} s ({r.n_test / max(r.test_seconds, 1e-9):.0f} tiles/s)")
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    kind = "" if category is UserWarning else f"{category.__name__}: "
    print(f"camelyon train: warning: {kind}{message}", file=sys.stderr, flush=True)
