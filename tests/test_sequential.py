"""Sequential: chaining, parameters, summary, config, save/load (.npz, no pickle), architecture mismatch,
and the ready-made models."""

import doctest
import json

import numpy as np
import pytest

from minicnn import Sequential
from minicnn.layers import (
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    ReLU,
    Tanh,
)
from minicnn.models import digits_cnn, tile_cnn


def small_cnn(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2D(2, 4, 3, padding=1, rng=rng), BatchNorm2D(4), ReLU(), MaxPool2D(2),
        Flatten(), Dense(4 * 3 * 3, 8, rng=rng), BatchNorm1D(8), ReLU(), Dropout(0.3, rng=rng), Dense(8, 3, rng=rng),
    )


def warm_up(model, seed=1, steps=3):
    """A few training-mode passes so that BatchNorm running statistics differ from their initial values."""
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(steps):
        model.forward(rng.normal(size=(5, 2, 6, 6)).astype(np.float32))


def test_forward_backward_chain_the_layers():
    rng = np.random.default_rng(0)
    a, b, c = Dense(3, 5, rng=rng), Tanh(), Dense(5, 2, rng=rng)
    model = Sequential(a, b, c)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    out = model.forward(x)
    np.testing.assert_array_equal(out, c.forward(b.forward(a.forward(x))))
    np.testing.assert_array_equal(model(x), out)
    dout = rng.normal(size=out.shape).astype(np.float32)
    dx = model.backward(dout)
    np.testing.assert_array_equal(dx, a.backward(b.backward(c.backward(dout))))


class _Record(ReLU):
    """A ReLU that remembers the arrays it was given (to see which arrays the network reuses)."""

    def __init__(self):
        super().__init__()
        self.inputs, self.douts = [], []

    def forward(self, x):
        self.inputs.append(x)
        return super().forward(x)

    def backward(self, dout):
        self.douts.append(dout)
        return super().backward(dout)


def _conv_net(tail, seed=3):
    rng = np.random.default_rng(seed)
    return [Conv2D(2, 3, 3, padding=1, rng=rng), ReLU(), _Record(), MaxPool2D(2), Conv2D(3, 4, 3, padding=1, rng=rng),
            ReLU(), *tail]


@pytest.mark.parametrize("tail", [[Flatten()], [Flatten(), Dense(4 * 3 * 3, 2, rng=0)]], ids=["flatten", "dense"])
def test_layers_inside_reuse_their_arrays_and_the_caller_keeps_its_own(tail):
    """Explicit buffers: inside a network each layer writes into its own arrays, but what the network returns
    (output, input gradient) is never one of them, even as a view behind a Flatten."""
    layers = _conv_net(tail)
    model = Sequential(*layers)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((3, 2, 6, 6)).astype(np.float32) for _ in range(3)]
    outs, dxs = [], []
    for x in xs:
        outs.append(model.forward(x))
        dxs.append(model.backward(np.ones_like(outs[-1])))
    record = layers[2]
    assert record.inputs[0] is record.inputs[1] is record.inputs[2]  # the ReLU before it reuses its output
    assert record.douts[0] is record.douts[1]  # and the MaxPool after it its input gradient
    # the same results as the layers used one by one (each returning new arrays)
    for x, out, dx in zip(xs, outs, dxs, strict=True):
        y = x
        for layer in layers:
            layer.reuse_outputs = False
            y = layer.forward(y)
        np.testing.assert_array_equal(out, y)
        d = np.ones_like(y)
        for layer in reversed(layers):
            d = layer.backward(d)
        np.testing.assert_array_equal(dx, d)
        assert not any(layer.owns(out) or layer.owns(dx) for layer in layers)


def test_a_layer_used_alone_returns_new_arrays():
    layer = Conv2D(2, 3, 3, padding=1, rng=0)
    x = np.ones((2, 2, 5, 5), dtype=np.float32)
    a, b = layer.forward(x), layer.forward(x)
    assert a is not b and not layer.owns(a)
    assert not layer.reuse_outputs


def test_backward_matches_finite_differences_float64():
    rng = np.random.default_rng(1)
    model = Sequential(Dense(3, 4, rng=rng), Tanh(), Dense(4, 2, rng=rng)).astype(np.float64)
    x = rng.normal(size=(2, 3))
    dout = rng.normal(size=(2, 2))  # random upstream gradient, not all ones
    model.forward(x)
    dx = model.backward(dout)
    h = 1e-6
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        numeric[i] = np.sum((model.forward(xp) - model.forward(xm)) * dout) / (2 * h)
    assert np.linalg.norm(dx - numeric) / (np.linalg.norm(dx) + np.linalg.norm(numeric)) < 1e-7


def test_parameters_are_the_layers_arrays():
    model = small_cnn()
    named = model.named_parameters()
    assert [n for n, _, _ in named][:3] == ["0/W", "0/b", "1/" + next(iter(model[1].params))]
    conv = model[0]
    pairs = model.parameters()
    assert pairs[0][0] is conv.params["W"] and pairs[0][1] is conv.grads["W"]
    assert model.num_parameters() == sum(p.size for p, _ in pairs)


def test_summary_shapes_and_counts():
    model = tile_cnn(rng=0)
    text = model.summary((3, 96, 96))
    assert "(16, 48, 48)" in text and "(64, 12, 12)" in text and "(64,)" in text
    assert "total trainable parameters: 60,577" in text
    assert model.num_parameters() == 60577
    with pytest.raises(ValueError, match=r"layer 0 \(Conv2D\)"):
        model.summary((1, 96, 96))  # wrong channel count


def test_train_eval_and_predict():
    model = small_cnn()
    warm_up(model)
    x = np.random.default_rng(2).normal(size=(11, 2, 6, 6)).astype(np.float32)
    model.train()
    pred = model.predict(x, batch_size=4)
    assert model.training and all(layer.training for layer in model)  # mode restored
    model.eval()
    np.testing.assert_allclose(pred, model.forward(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(x, batch_size=0)


def test_config_round_trip():
    model = small_cnn()
    cfg = model.config()
    assert cfg["type"] == "Sequential" and cfg["layers"][0]["type"] == "Conv2D"
    json.dumps(cfg)
    rebuilt = Sequential.from_config(cfg)
    assert rebuilt.config() == cfg
    with pytest.raises(ValueError, match="unknown type 'Nope'"):
        Sequential.from_config({"type": "Sequential", "layers": [{"type": "Nope"}]})


def test_save_then_load_gives_identical_predictions(tmp_path):
    model = small_cnn()
    warm_up(model)
    x = np.random.default_rng(3).normal(size=(7, 2, 6, 6)).astype(np.float32)
    expected = model.predict(x)
    path = tmp_path / "model.npz"
    model.save(path, metadata={"classes": ["a", "b", "c"], "mean": 0.5})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temporary left behind
    with np.load(path, allow_pickle=False) as data:  # readable without pickle
        assert "__architecture__" in data.files
    loaded = Sequential.load(path)
    np.testing.assert_array_equal(loaded.predict(x), expected)
    assert loaded.metadata == {"classes": ["a", "b", "c"], "mean": 0.5}
    assert loaded.config() == model.config()

    other = small_cnn(seed=5)
    assert not np.array_equal(other.predict(x), expected)
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x), expected)


def test_save_load_keeps_float64(tmp_path):
    model = Sequential(Dense(3, 2, rng=0)).astype(np.float64)
    model.save(tmp_path / "m.npz")
    loaded = Sequential.load(tmp_path / "m.npz")
    assert loaded.dtype == np.float64
    x = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_load_weights_architecture_mismatch(tmp_path):
    path = tmp_path / "model.npz"
    Sequential(Dense(4, 8, rng=0), ReLU(), Dense(8, 3, rng=0)).save(path)
    with pytest.raises(ValueError, match=r"mismatch at layer 2.*out_features=3.*out_features=2"):
        Sequential(Dense(4, 8, rng=0), ReLU(), Dense(8, 2, rng=0)).load_weights(path)
    with pytest.raises(ValueError, match=r"mismatch at layer 1: the file has ReLU\(\), this model has Tanh\(\)"):
        Sequential(Dense(4, 8, rng=0), Tanh(), Dense(8, 3, rng=0)).load_weights(path)
    with pytest.raises(ValueError, match="the file has 3 layers, this model has 2"):
        Sequential(Dense(4, 8, rng=0), ReLU()).load_weights(path)


def test_not_a_model_file(tmp_path):
    bogus = tmp_path / "bogus.npz"
    np.savez(bogus, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a minicnn model file"):
        Sequential.load(bogus)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a minicnn model file"):
        Sequential.load(text)
    with pytest.raises(FileNotFoundError):
        Sequential.load(tmp_path / "missing.npz")


def test_interrupted_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    model = Sequential(Dense(3, 2, rng=0))
    model.save(path)
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        Sequential(Dense(3, 2, rng=1)).save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_models_shapes_and_seeding():
    x = np.random.default_rng(0).random((2, 3, 32, 32), dtype=np.float32)
    a, b = tile_cnn(rng=4), tile_cnn(rng=4)
    assert a.forward(x).shape == (2, 1)
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    digits = digits_cnn(rng=0)
    assert digits.forward(np.zeros((3, 1, 8, 8), dtype=np.float32)).shape == (3, 10)
    assert digits.num_parameters() == 38282
    assert tile_cnn(rng=0, in_channels=1).forward(x[:, :1]).shape == (2, 1)


def test_astype_to_the_same_dtype_keeps_the_arrays_an_optimizer_holds():
    from minicnn.optim import SGD

    model = Sequential(Dense(2, 3, rng=0))
    optimizer = SGD(model.parameters(), lr=0.1)
    model.astype(np.float32)  # already float32: must not detach the optimizer
    model.forward(np.ones((2, 2), dtype=np.float32))
    model.backward(np.ones((2, 3), dtype=np.float32))
    before = model[0].params["W"].copy()
    optimizer.step()
    assert not np.array_equal(before, model[0].params["W"])


def test_a_layer_class_instead_of_a_layer_is_named():
    with pytest.raises(ValueError, match=r"layer 1 is the class ReLU, not a layer; create one with ReLU\(\.\.\.\)"):
        Sequential(Dense(2, 2, rng=0), ReLU)


def test_load_is_called_on_the_class_and_a_model_call_says_what_to_write(tmp_path):
    path = tmp_path / "m.npz"
    Sequential(Dense(3, 2, rng=0)).save(path, metadata={"classes": ["a", "b"]})
    loaded = Sequential.load(path)
    assert isinstance(loaded, Sequential) and loaded.metadata == {"classes": ["a", "b"]}

    class MyModel(Sequential):
        pass

    assert type(MyModel.load(path)) is MyModel  # the class it is called on builds the model
    model = Sequential(Dense(3, 2, rng=1))
    before = model[0].params["W"].copy()
    with pytest.raises(TypeError, match=r"model\.load_weights\(path\).*model = Sequential\.load\(path\)"):
        model.load(path)
    np.testing.assert_array_equal(model[0].params["W"], before)  # and nothing was loaded silently
    assert model.metadata == {}
    assert "metadata" in Sequential.load.__doc__  # the class-level call keeps its documentation


def _train_one_step(model, optimizer, x):
    """One step with a random upstream gradient (a constant one is zero through BatchNorm)."""
    optimizer.zero_grad()
    out = model.forward(x)
    model.backward(np.random.default_rng(1).normal(size=out.shape).astype(out.dtype))
    optimizer.step()


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
def test_load_weights_from_a_float64_file_keeps_the_optimizer_training_the_model(tmp_path, optimizer_name):
    from minicnn import optim

    path = tmp_path / "w64.npz"
    saved = Sequential(Dense(4, 3, rng=7), BatchNorm1D(3), ReLU(), Dense(3, 2, rng=8)).astype(np.float64)
    saved.save(path)
    model = Sequential(Dense(4, 3, rng=0), BatchNorm1D(3), ReLU(), Dense(3, 2, rng=1))
    optimizer = getattr(optim, optimizer_name)(model.parameters(), lr=0.1)
    held = [p for p, _ in optimizer.params]

    assert model.load_weights(path) is model
    assert model.dtype == np.float32  # the model keeps its dtype; the file's values are cast
    for (name, p, g), q in zip(model.named_parameters(), held, strict=True):
        assert p is q, f"{name} was replaced by a new array: the optimizer no longer trains it"
        assert p.dtype == np.float32 and g.dtype == np.float32
        np.testing.assert_array_equal(p, saved.state_dict()[name].astype(np.float32))
    assert model[1].buffers["running_var"].dtype == np.float32

    loaded = {name: p.copy() for name, p, _ in model.named_parameters()}
    _train_one_step(model, optimizer, np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))
    for (name, p, _), q in zip(model.named_parameters(), held, strict=True):
        assert p is q
        assert not np.array_equal(p, loaded[name]), f"optimizer step did not change {name}"


def test_load_state_dict_copies_in_place_with_a_cast():
    from minicnn.optim import SGD

    model = Sequential(Dense(2, 3, rng=0), BatchNorm1D(3))
    optimizer = SGD(model.parameters(), lr=0.5)
    arrays = [p for p, _ in model.parameters()] + [model[1].buffers["running_mean"]]
    other = Sequential(Dense(2, 3, rng=3), BatchNorm1D(3))
    state64 = {k: v.astype(np.float64) + 1.0 for k, v in other.state_dict().items()}
    model.load_state_dict(state64)
    after = [p for p, _ in model.parameters()] + [model[1].buffers["running_mean"]]
    assert all(a is b for a, b in zip(after, arrays, strict=True))
    assert model.dtype == np.float32
    np.testing.assert_array_equal(model[0].params["W"], state64["0/W"].astype(np.float32))
    before = model[0].params["W"].copy()
    _train_one_step(model, optimizer, np.random.default_rng(2).normal(size=(4, 2)).astype(np.float32))
    assert not np.array_equal(model[0].params["W"], before)


def test_load_state_dict_errors_name_the_source_and_entry_and_change_nothing():
    model = Sequential(Dense(2, 3, rng=0), ReLU(), Dense(3, 1, rng=1))
    before = model.state_dict()
    good = Sequential(Dense(2, 3, rng=5), ReLU(), Dense(3, 1, rng=6)).state_dict()

    wrong_shape = dict(good, **{"2/W": np.zeros((3, 2), dtype=np.float32)})
    with pytest.raises(ValueError, match=r"w\.npz: entry '2/W' \(layer 2, Dense\) has shape \(3, 2\), "
                                         r"the model expects \(3, 1\)"):
        model.load_state_dict(wrong_shape, source="w.npz")
    missing = {k: v for k, v in good.items() if k != "2/b"}
    with pytest.raises(ValueError, match=r"w\.npz: no entry '2/b' \(layer 2, Dense\)"):
        model.load_state_dict(missing, source="w.npz")
    complex_w = dict(good, **{"2/W": good["2/W"].astype(np.complex64)})
    with pytest.raises(ValueError, match=r"entry '2/W' .* dtype complex64, which cannot be cast"):
        model.load_state_dict(complex_w, source="w.npz")
    for name, value in model.state_dict().items():  # checked before anything is copied: no half-loaded model
        np.testing.assert_array_equal(value, before[name])


def test_load_weights_shape_error_names_the_file_and_parameter(tmp_path):
    path = tmp_path / "weights.npz"
    model = Sequential(Dense(2, 3, rng=0))
    model.save(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["0/b"] = np.zeros(4, dtype=np.float32)  # a file edited by hand: config says 3 outputs, bias has 4
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"weights\.npz: entry '0/b' \(layer 0, Dense\) has shape \(4,\)"):
        Sequential(Dense(2, 3, rng=1)).load_weights(path)


def test_docstring_examples_run():
    """The examples in minicnn.sequential (forward, save, Sequential.load, load_weights, model.load) work."""
    import minicnn.sequential

    result = doctest.testmod(minicnn.sequential, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted >= 8, "the Sequential docstring lost its examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of minicnn.sequential fail"
