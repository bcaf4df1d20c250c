"""Type stubs of the extension module ``mforacle._core`` (PyO3). Use the ``mforacle`` package."""

from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

def run(argv: List[str]) -> Tuple[int, str, str]:
    """Runs ``mforacle ARGV...`` in-process: (exit code, stdout bytes as text, error line)."""

def crate_version() -> str: ...

def population_fast(
    student: str,
    teacher: str,
    w: npt.NDArray[np.float64],
    theta: npt.NDArray[np.float64],
    a: Optional[npt.NDArray[np.float64]],
    degree: int,
    loss_scale: str,
    noise_variance: float,
) -> Dict[str, Union[str, int, float, npt.NDArray[np.float64]]]:
    """The fast f64 path on borrowed C-contiguous float64 arrays (GIL released): values,
    ``*_error_bound`` arrays, ``loss_bound_kind`` and ``gradient_bound_kind`` (the CLI's)."""

def rust_fast_seconds(
    student: str,
    teacher: str,
    w: npt.NDArray[np.float64],
    theta: npt.NDArray[np.float64],
    a: Optional[npt.NDArray[np.float64]],
    degree: int,
    loss_scale: str,
    noise_variance: float,
    repeats: int,
) -> List[float]:
    """Seconds of ``repeats`` fast-path computations timed inside Rust (benchmark)."""
