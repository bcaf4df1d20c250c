"""NumPy formulation of one Euler step of the deep mean-field model (run by `mforacle bench`).

The step (same as `mforacle deep train --eta`, loss without 1/2, teacher w* = e_1,
g = erf(z/sqrt 2), psi = gd = arctan(sinh), psi' = sech):
  P = psi(T1)                       N x N    (T1[j, i] = theta_ij)
  V = P @ U / N                     node vectors v_j (N x d)
  c = a (L = 2) or (psi(T2) @ a) / N (L = 3)
  G = V V^T, al = (1 + |v|^2)^(-1/2), Q = G al al^T
  K = (2/pi) asin Q,   W = c_k al_j al_k / sqrt(1 - Q^2)
  Vbig = (2/pi)(teacher gradient - (W @ V - (W*G).sum(1) v al^2) / N)
  T1 += eta * 2 c_j sech(T1) * (Vbig @ U^T)
  L = 3: e = K @ c / N - K(v, e_1);  T2 += eta * (-2) e_j a_k sech(T2)

Usage: python3 deep_step.py LAYERS N D REPEATS
Threads: set OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before running (the caller does).
Prints one line: the best seconds per step over REPEATS timed steps (after one warm-up).
"""
import sys
import time

import numpy as np


def main(layers: int, n: int, d: int, repeats: int) -> float:
    rng = np.random.default_rng(0)
    U = rng.standard_normal((n, d))
    centre = 1.0 if layers == 3 else 0.0
    a = centre + np.sqrt(3.0) * rng.uniform(-1.0, 1.0, n)
    T1 = rng.standard_normal((n, n))
    T2 = 1.0 + rng.standard_normal((n, n)) if layers == 3 else None
    eta = 0.01
    two_pi = 2.0 / np.pi

    def step(T1, T2):
        V = np.arctan(np.sinh(T1)) @ U / n
        c = a if T2 is None else (np.arctan(np.sinh(T2)) @ a) / n
        nv = np.einsum("jm,jm->j", V, V)
        al = 1.0 / np.sqrt(1.0 + nv)
        G = V @ V.T
        Q = np.clip(G * al[:, None] * al[None, :], -1.0, 1.0)
        W = c[None, :] * al[:, None] * al[None, :] / np.sqrt((1.0 - Q) * (1.0 + Q))
        pair = W @ V - ((W * G).sum(axis=1) * al * al)[:, None] * V
        x1 = V[:, 0]
        r = 1.0 / np.sqrt(2.0 * (1.0 + nv) - x1 * x1)
        teacher = -(x1 / (1.0 + nv))[:, None] * V
        teacher[:, 0] += 1.0
        big = two_pi * (r[:, None] * teacher - pair / n)
        T1 = T1 + eta * (2.0 * c)[:, None] / np.cosh(T1) * (big @ U.T)
        if T2 is not None:
            K = two_pi * np.arcsin(Q)
            kt = two_pi * np.arcsin(x1 * al / np.sqrt(2.0))
            e = K @ c / n - kt
            T2 = T2 + eta * (-2.0 * e)[:, None] * a[None, :] / np.cosh(T2)
        return T1, T2

    T1, T2 = step(T1, T2)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        T1, T2 = step(T1, T2)
        best = min(best, time.perf_counter() - t)
    return best


if __name__ == "__main__":
    layers, n, d, r = (int(v) for v in sys.argv[1:5])
    print(f"{main(layers, n, d, r):.6e}")
