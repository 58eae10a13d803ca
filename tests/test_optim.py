"""Optimizers and learning-rate schedules: convergence on convex quadratics, PyTorch's update rules,
state save/restore, input errors."""

import math

import numpy as np
import pytest

from minicnn.optim import SGD, Adam, AdamW, CosineLR, StepLR


def quadratic(seed, dim=6, cond=10.0):
    """f(p) = 0.5 (p - c)^T A (p - c) with A symmetric positive definite of condition number ``cond``."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    A = q @ np.diag(np.geomspace(1.0, cond, dim)) @ q.T
    c = rng.normal(size=dim)
    return A, c


def run(make_opt, A, c, steps, schedule=None, p0=None):
    p = np.zeros_like(c) if p0 is None else p0.copy()
    g = np.zeros_like(p)
    opt = make_opt([(p, g)])
    sched = schedule(opt) if schedule else None
    for _ in range(steps):
        g[...] = A @ (p - c)
        opt.step()
        if sched:
            sched.step()
    return p, opt


# ----------------------------------------------------------------- convergence
@pytest.mark.exercise("G05")
@pytest.mark.parametrize("kwargs", [
    {"lr": 0.1},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
])
def test_sgd_converges_on_quadratic(kwargs):
    A, c = quadratic(0)
    p, _ = run(lambda params: SGD(params, **kwargs), A, c, steps=400)
    np.testing.assert_allclose(p, c, atol=1e-6)


@pytest.mark.exercise("G05")
def test_sgd_momentum_is_faster_than_plain():
    A, c = quadratic(1, cond=50.0)
    plain, _ = run(lambda params: SGD(params, lr=0.02), A, c, steps=100)
    heavy, _ = run(lambda params: SGD(params, lr=0.02, momentum=0.8), A, c, steps=100)
    assert np.linalg.norm(heavy - c) < 0.1 * np.linalg.norm(plain - c)


@pytest.mark.exercise("G05")
def test_sgd_weight_decay_minimum():
    # the penalised minimum of f(p) + wd/2 |p|^2 is (A + wd I)^-1 A c
    A, c = quadratic(2)
    wd = 0.5
    p, _ = run(lambda params: SGD(params, lr=0.1, momentum=0.5, weight_decay=wd), A, c, steps=500)
    np.testing.assert_allclose(p, np.linalg.solve(A + wd * np.eye(len(c)), A @ c), atol=1e-6)


@pytest.mark.exercise("G05")
@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_adam_converges_on_quadratic(cls):
    A, c = quadratic(3)
    p, _ = run(lambda params: cls(params, lr=0.1, weight_decay=0.0), A, c, steps=1500,
               schedule=lambda opt: CosineLR(opt, t_max=1500))
    np.testing.assert_allclose(p, c, atol=1e-3)


@pytest.mark.exercise("G05")
def test_adamw_decay_is_decoupled():
    # with a zero gradient, Adam's L2 term moves p by about lr (normalised step), AdamW by lr * wd * p
    p_adam, p_adamw = np.full(3, 2.0), np.full(3, 2.0)
    Adam([(p_adam, np.zeros(3))], lr=0.01, weight_decay=0.1).step()
    AdamW([(p_adamw, np.zeros(3))], lr=0.01, weight_decay=0.1).step()
    np.testing.assert_allclose(p_adamw, 2.0 * (1 - 0.01 * 0.1))
    np.testing.assert_allclose(p_adam, 2.0 - 0.01, rtol=1e-6)


@pytest.mark.exercise("G05")
def test_step_keeps_dtype_and_leaves_gradient_alone():
    p = np.ones(4, dtype=np.float32)
    g = np.full(4, 0.5, dtype=np.float32)
    for opt in (SGD([(p, g)], lr=0.1, momentum=0.9, weight_decay=0.1), Adam([(p, g)], weight_decay=0.1)):
        opt.step()
        assert p.dtype == np.float32
        np.testing.assert_array_equal(g, 0.5)


# ----------------------------------------------------------------- PyTorch oracle
TORCH_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
]


@pytest.mark.exercise("G05")
@pytest.mark.parametrize("name,kwargs", TORCH_CASES)
def test_matches_pytorch_update(name, kwargs):
    torch = pytest.importorskip("torch")
    ours_cls = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}[name]
    A, c = quadratic(4, dim=5)
    p0 = np.random.default_rng(5).normal(size=5)
    ours, _ = run(lambda params: ours_cls(params, **kwargs), A, c, steps=6, p0=p0)

    tp = torch.tensor(p0.copy(), dtype=torch.float64, requires_grad=True)
    topt = getattr(torch.optim, name)([tp], **kwargs)
    tA, tc = torch.tensor(A), torch.tensor(c)
    for _ in range(6):
        topt.zero_grad()
        tp.grad = tA @ (tp.detach() - tc)
        topt.step()
    np.testing.assert_allclose(ours, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------- state
@pytest.mark.parametrize("make", [
    lambda params: SGD(params, lr=0.05, momentum=0.9, nesterov=True),
    lambda params: Adam(params, lr=0.05),
])
def test_state_dict_round_trip_continues_identically(make):
    A, c = quadratic(6)
    p = np.zeros_like(c)
    g = np.zeros_like(p)
    opt = make([(p, g)])
    for _ in range(5):
        g[...] = A @ (p - c)
        opt.step()
    state = {k: v.copy() for k, v in opt.state_dict().items()}
    p_saved = p.copy()
    for _ in range(5):
        g[...] = A @ (p - c)
        opt.step()
    expected = p.copy()

    p2 = p_saved.copy()
    g2 = np.zeros_like(p2)
    opt2 = make([(p2, g2)])
    opt2.load_state_dict(state)
    for _ in range(5):
        g2[...] = A @ (p2 - c)
        opt2.step()
    np.testing.assert_array_equal(p2, expected)


def test_load_state_dict_rejects_other_shapes():
    opt = Adam([(np.zeros(3), np.zeros(3))])
    other = Adam([(np.zeros(4), np.zeros(4))])
    with pytest.raises(ValueError, match=r"'m/0' has shape \(4,\).*\(3,\)"):
        opt.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="missing entries"):
        opt.load_state_dict(SGD([(np.zeros(3), np.zeros(3))], lr=0.1, momentum=0.9).state_dict())


def test_zero_grad():
    g = np.ones(3)
    SGD([(np.zeros(3), g)], lr=1.0).zero_grad()
    np.testing.assert_array_equal(g, 0)


@pytest.mark.parametrize("make,match", [
    (lambda: SGD([(np.zeros(2), np.zeros(2))], lr=-1), "lr"),
    (lambda: SGD([(np.zeros(2), np.zeros(2))], lr=0.1, momentum=1.0), "momentum"),
    (lambda: SGD([(np.zeros(2), np.zeros(2))], lr=0.1, nesterov=True), "nesterov"),
    (lambda: SGD([(np.zeros(2), np.zeros(3))], lr=0.1), "shape"),
    (lambda: SGD([], lr=0.1), "empty"),
    (lambda: Adam([(np.zeros(2), np.zeros(2))], betas=(0.9, 1.0)), "betas"),
    (lambda: Adam([(np.zeros(2), np.zeros(2))], weight_decay=-0.1), "weight_decay"),
])
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ----------------------------------------------------------------- schedules
def test_step_lr_closed_form():
    opt = SGD([(np.zeros(1), np.zeros(1))], lr=1.0)
    sched = StepLR(opt, step_size=3, gamma=0.5)
    lrs = [opt.lr] + [sched.step() for _ in range(7)]
    assert lrs == pytest.approx([1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_cosine_lr_closed_form_and_restore():
    opt = SGD([(np.zeros(1), np.zeros(1))], lr=0.2)
    sched = CosineLR(opt, t_max=4, eta_min=0.0)
    lrs = [sched.step() for _ in range(6)]
    expected = [0.1 * (1 + math.cos(math.pi * e / 4)) for e in (1, 2, 3, 4, 4, 4)]
    assert lrs == pytest.approx(expected)
    opt2 = SGD([(np.zeros(1), np.zeros(1))], lr=0.2)
    sched2 = CosineLR(opt2, t_max=4)
    sched2.load_state_dict(sched.state_dict())
    assert opt2.lr == pytest.approx(opt.lr)


def test_schedules_match_pytorch():
    torch = pytest.importorskip("torch")
    for ours_make, torch_make in [
        (lambda o: StepLR(o, 2, 0.3), lambda o: torch.optim.lr_scheduler.StepLR(o, 2, 0.3)),
        (lambda o: CosineLR(o, 5, 0.01), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 5, 0.01)),
    ]:
        opt = SGD([(np.zeros(1), np.zeros(1))], lr=0.1)
        sched = ours_make(opt)
        topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        tsched = torch_make(topt)
        for _ in range(5):
            topt.step()
            tsched.step()
            assert sched.step() == pytest.approx(topt.param_groups[0]["lr"], rel=1e-10)


def test_schedule_bad_arguments():
    opt = SGD([(np.zeros(1), np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        StepLR(opt, 0)
    with pytest.raises(ValueError, match="t_max"):
        CosineLR(opt, 0)
