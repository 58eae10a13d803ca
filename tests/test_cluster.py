"""Per-slide steps on a Dask cluster give byte-for-byte the results of local worker processes.

The cluster is a ``distributed.LocalCluster`` started inside the test process (issue 10).
"""

import hashlib

import pytest
from test_dataset import assert_same_store
from wsi_factory import make_cohort, small_cohort_specs

from camelyon.dataset import build_tile_store
from camelyon.synthetic import generate_cohort
from camelyon.tiling import TileGrid

distributed = pytest.importorskip("distributed")

GRID = TileGrid(tile_size=64, level=0, stride=64, tissue_um_per_px=2.0)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as c:
        yield c


def _digest(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "synth_config.json"}


@pytest.mark.slow
def test_tile_store_on_dask_equals_local_processes(tmp_path, cluster):
    slides, annotations = make_cohort(tmp_path / "cohort", small_cohort_specs(), mpp=0.5, tile=128, min_size=128)
    local = build_tile_store(slides, tmp_path / "local.h5", grid=GRID, annotations=annotations,
                             workers=2, progress=False)
    dask = build_tile_store(slides, tmp_path / "dask.h5", grid=GRID, annotations=annotations,
                            scheduler=cluster.scheduler_address, progress=False)
    assert not local.failed and not dask.failed
    assert_same_store(tmp_path / "local.h5", tmp_path / "dask.h5")


@pytest.mark.slow
def test_synthetic_cohort_on_dask_equals_local_processes(tmp_path, cluster):
    kwargs = dict(n_patients=1, n_centers=1, seed=5, mpp=4.0, size=(1024, 1024), progress=False,
                  stage_mix={"pN1": 1.0})
    generate_cohort(tmp_path / "local", workers=2, **kwargs)
    generate_cohort(tmp_path / "dask", scheduler=cluster.scheduler_address, **kwargs)
    local, dask = _digest(tmp_path / "local"), _digest(tmp_path / "dask")
    assert len(local) >= 5 and local == dask


def test_heatmap_features_on_dask_equal_local_processes(tmp_path, cluster):
    import numpy as np

    from camelyon.features import compute_feature_table
    from camelyon.heatmap import Heatmap

    rng = np.random.default_rng(3)
    paths = []
    for k in range(4):
        prob = rng.random((20, 30)) * (rng.random((20, 30)) > 0.7)
        path = tmp_path / f"patient_00{k}_node_0.npz"
        Heatmap(prob, np.ones_like(prob, bool), path.stem + ".tif", 1, 64, 64, 64.0).save(path)
        paths.append(path)
    s1, n1, x1 = compute_feature_table(paths, workers=2, progress=False)
    s2, n2, x2 = compute_feature_table(paths, scheduler=cluster.scheduler_address, progress=False)
    assert s1 == s2 and n1 == n2
    assert x1.tobytes() == x2.tobytes()
