"""Parameter lists of well-known sizes, for optimizer benchmarks."""

import torch


def resnet18_shapes() -> list[tuple[int, ...]]:
    """The 62 parameter tensors of torchvision's ResNet-18 (11,689,512 parameters)."""
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    for cin, cout, stride in [(64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1),
                              (128, 256, 2), (256, 256, 1), (256, 512, 2), (512, 512, 1)]:
        shapes += [(cout, cin, 3, 3), (cout,), (cout,), (cout, cout, 3, 3), (cout,), (cout,)]
        if stride == 2:
            shapes += [(cout, cin, 1, 1), (cout,), (cout,)]
    return shapes + [(1000, 512), (1000,)]


def resnet18_params(seed: int = 0) -> list[torch.Tensor]:
    """ResNet-18-sized parameters with random gradients attached."""
    g = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=g).requires_grad_() for s in resnet18_shapes()]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g)
    return params
