"""NumPy formulation of one two-timescale MFLD iteration, timed (run by `mforacle bench`).

The step (same as `mforacle two-timescale train`, loss with 1/2):
  H = tanh([X 1] W^T)              n x m
  K = H H^T / m                    (dgemm; NumPy has no SYRK)
  c = solve(K + n*lam_a*I, y)      (LAPACK gesv; NumPy has no triangular solve, so no
                                    Cholesky + two triangular solves)
  a = H^T c
  S = ((1 - H*H) * c[:, None])^T [X 1]
  W <- W - eta*(-lam_a * a[:, None] * S + lam_w * W) + sqrt(2*eta*lam) * xi

Usage: python3 two_timescale_step.py N M D REPEATS
Threads: set OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before running (the caller does).
Prints one line: the best seconds per iteration over REPEATS timed iterations (after one warm-up).
"""
import sys
import time

import numpy as np


def main(n: int, m: int, d: int, repeats: int) -> float:
    rng = np.random.default_rng(0)
    lam, lam_a, lam_w, eta = 0.004, 0.001, 0.001, 0.2
    X1 = np.hstack([rng.standard_normal((n, d)), np.ones((n, 1))])
    y = X1[:, 0] * X1[:, 1] + rng.uniform(-1, 1, n)
    W = 0.25 * rng.standard_normal((m, d + 1))
    sc = np.sqrt(2 * eta * lam)
    eye = np.eye(n)

    def step(W):
        H = np.tanh(X1 @ W.T)
        K = (H @ H.T) / m
        c = np.linalg.solve(K + n * lam_a * eye, y)
        a = H.T @ c
        S = ((1.0 - H * H) * c[:, None]).T @ X1
        g = -lam_a * a[:, None] * S + lam_w * W
        return W - eta * g + sc * rng.standard_normal(W.shape)

    W = step(W)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        W = step(W)
        best = min(best, time.perf_counter() - t)
    return best


if __name__ == "__main__":
    n, m, d, r = (int(v) for v in sys.argv[1:5])
    print(f"{main(n, m, d, r):.6e}")
