"""Mixed precision and compilation of the training step (``train.precision``, ``train.compile``).

Precision (Micikevicius et al. 2018, "Mixed precision training"; PyTorch's automatic mixed
precision, https://pytorch.org/docs/stable/amp.html):

- ``fp32``: every operation in float32, exactly as without this module (no autocast at all);
- ``bf16``: the forward pass and the loss under ``torch.autocast(device_type, torch.bfloat16)``:
  matrix products and convolutions run in bfloat16 (8 bits of mantissa, float32's exponent
  range), reductions and the loss in float32; the weights, their gradients and the optimizer
  stay float32. No loss scaling is needed (same range as float32). Runs on CPU and on CUDA GPUs
  with bfloat16 support (Ampere and later).
- ``fp16``: the same in float16 (10 bits of mantissa, 5 of exponent: small gradients underflow),
  so a gradient scaler (``torch.amp.GradScaler``) multiplies the loss by s before backward and
  the gradients by 1/s before the update: g = (1/s) * d(s * L)/dw. s starts at 2^16, halves when
  a gradient is inf/NaN (that step is skipped), and doubles after 2000 steps without one. CUDA
  only here (``train.precision = fp16`` on CPU is refused: CPU float16 kernels are slow and the
  point of fp16 is the GPU's tensor cores).

Gradient transforms (clipping, noise) see the unscaled gradients: the scaler unscales before
them (``GradScaler.unscale_``, then ``step``), as PyTorch's AMP examples do for clipping. The
scaler's state is part of ``last.pt``, so a resumed fp16 run continues with the same scale.
An update skipped for an inf/NaN gradient still counts for the learning-rate schedule (as in
PyTorch's AMP examples), without PyTorch's warning about a scheduler stepped before its optimizer.
Validation and test run in float32 (one pass per epoch; the metrics then do not depend on the
training precision's rounding).

Compilation (``torch.compile``, https://pytorch.org/docs/stable/generated/torch.compile.html):
the step calls a compiled version of the model for its forward (and so backward) pass; the
model itself stays the plain module, so checkpoints hold its ``state_dict`` (no ``_orig_mod.``
prefixes) and evaluation runs it eagerly. On CUDA the mode is ``reduce-overhead`` (Inductor's
fused kernels replayed as CUDA graphs; :data:`CUDA_MODE` says why), elsewhere the default mode.
Compiled numbers equal eager ones to rounding (Inductor fuses and reorders float operations),
except dropout and noise drawn inside the model: Inductor draws them with its own random
kernels (seeded from PyTorch's generator, so still reproducible), other masks than eager mode's.
The first updates of a run pay the compilation (seconds to tens of seconds): it helps runs
long enough to amortize it, on models whose step is many small kernels.
"""

from __future__ import annotations

import contextlib
import os
import sysconfig
import warnings
from collections.abc import Callable

import torch
from torch import nn

from ..errors import UserError

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

# torch.compile's mode on CUDA. "reduce-overhead" (CUDA graphs) removes most launch overhead of a
# small model, but a CUDA graph's outputs are overwritten by its next replay, and trainlab keeps
# each update's logits until the epoch's metrics are reduced (trainlab.training.metrics); the
# last, smaller batch and every new batch size record another graph. So the step clones its
# logits and marks each step's beginning (torch.compiler.cudagraph_mark_step_begin) in this
# mode. Inductor's fusion alone (the default mode) already cuts the kernel count several-fold;
# CUDA graphs then remove the per-kernel launch cost (~5 us each) that dominates a small CNN.
# "max-autotune-no-cudagraphs" would spend minutes benchmarking matrix-product kernels: too long
# for runs of seconds.
CUDA_MODE = "reduce-overhead"


class Precision:
    """The autocast context and gradient scaler of ``name`` (fp32, bf16, fp16) on devices of
    type ``device_type`` ("cpu", "cuda"). No device check here (:func:`check` does that for a
    config): tests build an fp16 precision on CPU to test the scaler's logic."""

    def __init__(self, name: str = "fp32", device_type: str = "cpu"):
        if name not in DTYPES:
            raise ValueError(f"unknown precision {name!r}; one of {', '.join(DTYPES)}")
        self.name, self.dtype, self.device_type = name, DTYPES[name], device_type
        self.scaler = torch.amp.GradScaler(device_type) if name == "fp16" else None

    @property
    def active(self) -> bool:
        """Whether anything differs from float32 training."""
        return self.dtype is not None

    def autocast(self) -> contextlib.AbstractContextManager:
        """``torch.autocast(device_type, dtype)``, or nothing for fp32."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, self.dtype)


@contextlib.contextmanager
def scheduler_after_skipped_step():
    """Around a schedule's step with fp16's gradient scaler: an update whose gradient overflowed
    skips ``optimizer.step()``, and a PyTorch scheduler stepped for the first time after such an
    update warns that it was stepped before the optimizer. The schedule counts updates, skipped
    ones included (as PyTorch's AMP examples step their schedulers), so that warning is silenced
    here and nowhere else."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"Detected call of `lr_scheduler\.step\(\)` "
            r"before `optimizer\.step\(\)`",
        )
        yield


def compiler_unavailable(device: torch.device) -> str | None:
    """Why ``torch.compile``'s default backend (Inductor) cannot compile for ``device`` here, or
    None if it can: on CPU it needs a C++ compiler and Python's headers, on CUDA Triton."""
    if device.type == "cuda":
        try:
            from torch.utils._triton import has_triton
        except ImportError:
            return "this PyTorch has no Triton support"
        return None if has_triton() else "Triton is not installed (pip install triton)"
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except Exception as e:  # noqa: BLE001 - any failure means: no usable compiler
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return f"Inductor finds no C++ compiler: {first}; install g++ or set CXX"
    header = os.path.join(sysconfig.get_paths()["include"], "Python.h")
    if not os.path.exists(header):
        return f"Python's headers are missing ({header}); install the python3-dev package"
    return None


def check(name: str, compile: bool, device: torch.device, mode: str = "none") -> None:
    """One line (UserError) when ``device`` cannot run the precision ``name`` or compilation
    (``compile``), or the distributed ``mode`` is asked to use them."""
    if mode != "none" and (name != "fp32" or compile):
        raise UserError(
            f"train.precision = {name} / train.compile = {str(compile).lower()} "
            f"with distributed.mode = {mode}: the distributed modes train in fp32 "
            "without compilation (use train.precision = fp32, train.compile = false)"
        )
    if name == "fp16" and device.type != "cuda":
        raise UserError(
            f"train.precision = fp16 on {device.type}: float16 autocast with a "
            "gradient scaler is for CUDA GPUs; on CPU use bf16 (or fp32)"
        )
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserError(
            f"train.precision = bf16: this GPU ({torch.cuda.get_device_name(device)}) "
            "does not support bfloat16; use fp16 (or fp32)"
        )
    if compile:
        why = compiler_unavailable(device)
        if why:
            raise UserError(
                f"train.compile = true: the compiler is unavailable here ({why}); "
                "use train.compile = false"
            )


def compiled(model: nn.Module, device: torch.device) -> Callable[..., torch.Tensor]:
    """``torch.compile(model)``: on CUDA in :data:`CUDA_MODE`, elsewhere in the default mode.
    Returns the callable the step uses for its forward pass; ``model`` itself is unchanged."""
    if device.type == "cuda":
        return torch.compile(model, mode=CUDA_MODE)
    return torch.compile(model)


__all__ = [
    "CUDA_MODE",
    "DTYPES",
    "Precision",
    "check",
    "compiled",
    "compiler_unavailable",
    "scheduler_after_skipped_step",
]
