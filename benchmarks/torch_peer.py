"""The PyTorch peer of the benchmarks: a minicnn Sequential rebuilt in PyTorch with the same weights."""


def torch_network(model, torch, caller="benchmarks"):
    """Rebuild ``model`` (a :class:`minicnn.Sequential` of Conv2D, Dense, ReLU, MaxPool2D and
    GlobalAvgPool2D layers) as a ``torch.nn.Sequential`` holding copies of its weights.

    ``torch`` is the imported module (the benchmarks import it only when it is installed);
    ``caller`` names the benchmark in the error for a layer without a counterpart.
    """
    nn = torch.nn
    layers = []
    for layer in model.layers:
        name = type(layer).__name__
        if name == "Conv2D":
            conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                             stride=layer.stride, padding=layer.padding)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(layer.params["W"]))
                conv.bias.copy_(torch.from_numpy(layer.params["b"]))
            layers.append(conv)
        elif name == "Dense":
            lin = nn.Linear(layer.in_features, layer.out_features)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.params["W"].T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.params["b"]))
            layers.append(lin)
        elif name == "ReLU":
            layers.append(nn.ReLU())
        elif name == "MaxPool2D":
            layers.append(nn.MaxPool2d(layer.kernel_size, layer.stride))
        elif name == "GlobalAvgPool2D":
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        else:
            raise ValueError(f"{caller}: no PyTorch counterpart for {name}")
    return nn.Sequential(*layers)
