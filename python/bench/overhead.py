"""Overhead of the Python call of the fast path against the same computation timed in Rust.

N = 4096, d = 256 (tanh student and teacher, series degree 60): in ONE run, alternating, the
wall-clock time of `mforacle.population(..., fast=True)` from Python (argument handling,
borrowing W, the computation with the GIL released, the results as NumPy arrays) and of the
same computation timed inside Rust (`_core.rust_fast_seconds`: kernels from the specs, unit-norm
check, evaluation with its error bound). Prints the medians and their ratio (target <= 1.10).

Run: python3 python/bench/overhead.py [repeats]
"""
import statistics
import sys
import time

import numpy as np

import mforacle
from mforacle import _core

N, D = 4096, 256
STUDENT = TEACHER = "tanh"
DEGREE = 60


def main(repeats: int = 5) -> float:
    rng = np.random.default_rng(0)
    W = rng.standard_normal((N, D))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    theta = np.eye(D)[0]
    mforacle.population(STUDENT, TEACHER, W, theta, fast=True, degree=DEGREE)  # warm-up
    py, rs = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        r = mforacle.population(STUDENT, TEACHER, W, theta, fast=True, degree=DEGREE)
        py.append(time.perf_counter() - t)
        assert not r.input_copied
        rs += _core.rust_fast_seconds(STUDENT, TEACHER, W, theta, None, DEGREE, "full", 0.0, 1)
    mp, mr = statistics.median(py), statistics.median(rs)
    print(f"N = {N}, d = {D}, {STUDENT}/{TEACHER}, degree {DEGREE}, route {r.route}, {repeats} repeats")
    print(f"python call: median {mp:.4f} s (min {min(py):.4f})")
    print(f"rust:        median {mr:.4f} s (min {min(rs):.4f})")
    print(f"ratio python/rust (medians): {mp / mr:.3f} (target <= 1.10)")
    return mp / mr


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
