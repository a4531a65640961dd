"""The normalization claims' measuring pieces against references no one here wrote."""

import torch

from trainlab.claims.catalogue_normalization import measure_bn_scale


def test_batch_norm_of_scaled_weights_against_torch_functional():
    # torch's batch_norm (eps ~ 0) of (a W) u equals that of W u; autograd's gradient x a
    g = torch.Generator().manual_seed(0)
    w = torch.randn(5, 4, generator=g, dtype=torch.float64)
    u = torch.randn(9, 4, generator=g, dtype=torch.float64)

    def bn(weight):
        z = u @ weight.T
        return torch.nn.functional.batch_norm(z, None, None, training=True, eps=1e-300)

    for a in (0.1, 10.0):
        scaled = (a * w).requires_grad_()
        plain = w.clone().requires_grad_()
        assert torch.allclose(bn(scaled), bn(plain), rtol=0, atol=1e-12)
        (bn(scaled) ** 3).sum().backward()
        (bn(plain) ** 3).sum().backward()
        assert torch.allclose(a * scaled.grad, plain.grad, rtol=1e-10, atol=1e-12)


def test_bn_parameter_scale_measure_is_exact_and_eps_matters():
    out = measure_bn_scale(1, batch=8, hidden=[8, 8], scales=[0.1, 10.0])
    assert out["output"] < 1e-12 and out["gradient"] < 1e-12
    assert out["output_eps"] > 1e-8
