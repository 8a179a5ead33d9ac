"""Where the ensemble lives: numpy or torch (CPU / CUDA), float32 or float64.

The algorithms and objectives are backend-agnostic already; this module only creates, converts and reduces
the engine's own arrays (state, noise buffers, accumulators).

Example:
    >>> b = Backend.make("numpy", "float32")
    >>> b.asarray([1.0, 2.0]).dtype
    dtype('float32')
    >>> b.to_numpy(b.zeros((2, 3))).shape
    (2, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from quorumsgd.errors import InvalidParameter
from quorumsgd.types import Array

BackendName = Literal["numpy", "torch"]


@dataclass(frozen=True)
class Backend:
    """A backend name, a dtype name and (torch only) a device."""

    name: BackendName = "numpy"
    dtype: str = "float64"
    device: str = "cpu"

    @classmethod
    def make(cls, name: str = "numpy", dtype: str = "float64", device: str | None = None) -> Backend:
        """Validated constructor: one-line errors for unknown names or an unavailable CUDA device."""
        if name not in ("numpy", "torch"):
            raise InvalidParameter("backend", "'numpy' or 'torch'", name, "simulate")
        if dtype not in ("float32", "float64"):
            raise InvalidParameter("dtype", "'float32' or 'float64'", dtype, "simulate")
        if name == "numpy":
            if device not in (None, "cpu"):
                raise InvalidParameter("device", "'cpu' for the numpy backend", device, "simulate")
            return cls("numpy", dtype, "cpu")
        import torch

        device = device or "cpu"
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise InvalidParameter("device", "a torch device string", device, "simulate") from err
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise InvalidParameter("device", "an available device (CUDA is not available here)", device,
                                   "simulate")
        return cls("torch", dtype, str(dev))

    @property
    def is_torch(self) -> bool:
        return self.name == "torch"

    @property
    def is_cuda(self) -> bool:
        return self.is_torch and self.device.startswith("cuda")

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def _torch_dtype(self, dtype: str | None = None) -> Any:
        import torch

        return getattr(torch, dtype or self.dtype)

    def asarray(self, x: Any, dtype: str | None = None) -> Array:
        """Convert (numpy, torch, scalars, lists) to this backend; copies only when needed."""
        if self.is_torch:
            import torch

            return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x,
                                   dtype=self._torch_dtype(dtype), device=self.device)
        if type(x).__module__.startswith("torch"):
            x = x.detach().cpu().numpy()
        return np.asarray(x, dtype=dtype or self.dtype)

    def from_numpy_shared(self, x: np.ndarray) -> Array:
        """A view of a numpy buffer (torch CPU shares the memory; CUDA copies)."""
        if not self.is_torch:
            return x
        import torch

        t = torch.from_numpy(x)
        return t if not self.is_cuda else t.to(self.device, non_blocking=True)

    def zeros(self, shape: tuple[int, ...], dtype: str | None = None) -> Array:
        if self.is_torch:
            import torch

            return torch.zeros(shape, dtype=self._torch_dtype(dtype), device=self.device)
        return np.zeros(shape, dtype=dtype or self.dtype)

    def empty(self, shape: tuple[int, ...], dtype: str | None = None) -> Array:
        if self.is_torch:
            import torch

            return torch.empty(shape, dtype=self._torch_dtype(dtype), device=self.device)
        return np.empty(shape, dtype=dtype or self.dtype)

    def copy(self, x: Array) -> Array:
        """A C-contiguous copy (so that reshapes of it are views, which in-place updates rely on)."""
        if self.is_torch:
            import torch

            return x.clone(memory_format=torch.contiguous_format)
        return np.array(x, copy=True, order="C")

    def to_numpy(self, x: Array) -> np.ndarray:
        if type(x).__module__.startswith("torch"):
            return x.detach().cpu().numpy()
        return np.asarray(x)

    def float64(self, x: Array) -> Array:
        """``x`` in float64 on the same device (statistics accumulate in double precision)."""
        if self.is_torch:
            import torch

            return x.to(torch.float64)
        return x.astype(np.float64, copy=False)

    def finite_rows(self, x: Array) -> Array:
        """Per simulation (leading axis): are all entries finite?"""
        if self.is_torch:
            import torch

            return torch.isfinite(x).reshape(x.shape[0], -1).all(dim=1)
        return np.isfinite(x).reshape(x.shape[0], -1).all(axis=1)

    def bounded_rows(self, x: Array, threshold: float) -> Array:
        """Per simulation: are all entries finite with ``|entry| <= threshold``? (nan compares False)."""
        if self.is_torch:
            return (x.abs() <= threshold).reshape(x.shape[0], -1).all(dim=1)
        return (np.abs(x) <= threshold).reshape(x.shape[0], -1).all(axis=1)

    def where_rows(self, mask: Array, x: Array, fill: float) -> Array:
        """Set the rows (simulations) where ``mask`` is True to ``fill``, in place."""
        x[mask] = fill
        return x

    def mean_axis(self, x: Array, axis: int) -> Array:
        return x.mean(dim=axis) if self.is_torch else x.mean(axis=axis)

    def bool_to_numpy(self, x: Array) -> np.ndarray:
        return self.to_numpy(x).astype(bool)

    def no_grad(self) -> Any:
        """Context manager: no autograd bookkeeping in the engine's hot loop."""
        if self.is_torch:
            import torch

            return torch.no_grad()
        import contextlib

        return contextlib.nullcontext()

    def single_threaded_blas(self) -> Any:
        """Keep BLAS (numpy's matmul) and torch's CPU kernels on one thread while the noise workers use the
        other cores.

        Threads spinning against the noise threads made ``x @ A`` 7x slower in measurements here (OpenBLAS),
        and a torch CPU step 10x slower (intra-op threads).
        """
        import contextlib

        stack = contextlib.ExitStack()
        try:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn, a dependency
            pass
        if self.is_torch and not self.is_cuda:
            import torch

            previous = torch.get_num_threads()
            torch.set_num_threads(1)
            stack.callback(torch.set_num_threads, previous)
        return stack

    def errstate(self) -> Any:
        """Silence overflow warnings: a diverging simulation is detected and flagged, not warned about."""
        return np.errstate(all="ignore")
