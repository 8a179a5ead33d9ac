r"""Fused simulation kernels: noise generated in the kernel, the state kept in registers / cache for many steps,
the statistics accumulated there, and nothing but the statistics (and the final state) written back.

* :mod:`~.coefficients` -- the Euler matrices the kernels apply, read off the algorithm's drift through
  :func:`~quorumsgd.algorithms.affine_map` and checked to rebuild it (no second copy of the dynamics);
* :mod:`~.philox` -- the counter-based generator (Philox 4x32-10 + Box--Muller, exactly Triton's), with a
  numpy reference;
* :mod:`~.cpu` -- the CPU kernel (numba, ``parallel=True``);
* :mod:`~.gpu` -- the GPU kernel (Triton).

**Why Triton on the GPU** (and not numba-cuda): Triton ships with torch (no extra dependency, the same wheel on
every CUDA machine the package runs on), its ``tl.philox`` / ``tl.randn4x`` are the generator the CPU kernel
reproduces bit for bit in the integer stream, it operates on torch tensors without copies, and it has a CPU
interpreter (``TRITON_INTERPRET=1``) in which the default, GPU-free tests run the very kernel code. numba's CUDA
target is deprecated inside numba in favour of the separate ``numba-cuda`` package, would add a second CUDA
toolchain, and its simulator (``NUMBA_ENABLE_CUDASIM``) runs Python per thread (too slow even for small tests).

Where the kernel applies (:func:`~quorumsgd.simulate.schemes.fused.kernel_plan`): ``scheme="euler"`` on a
continuous algorithm whose drift is affine, time independent and agent symmetric (every algorithm of the
package on a :class:`~quorumsgd.objectives.Quadratic`: QSGD, SGD, EASGD, quorum filters, momentum QSGD /
EASGD), constant Gaussian noise (any constant factor :math:`\mathbf B`, per-agent learning rates), Gaussian or
Rademacher increments, the built-in statistics, no traces or time averages. Elsewhere the array engine runs.
"""

from quorumsgd.simulate.kernels.coefficients import AgentSymmetricMap

__all__ = ["AgentSymmetricMap"]
