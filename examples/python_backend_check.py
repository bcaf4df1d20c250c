"""A NumPy training step checked against the mforacle oracle (the README's backend check).

The backend under test computes the mean-field velocity v_i = 2 P_i (psi'(t_i) theta -
sum_j a_j kappa'(s_ij) w_j) from Hermite coefficients and takes one projected step w <- (w +
eta v)/|.| (learning rate eta*N with a = 1/N). Tolerance (proofs-notes/python-backend-check.md):
a gamma_n forward-error bound of its f64 sums, n = N + K + 2d + 8 roundings on any term's path,
terms bounded by M through the absolute series at 1, plus the oracle's own bound and the
rounding of its decimals to f64. Run: python3 examples/python_backend_check.py
"""
import numpy as np
import mforacle

def backend_velocity(W, a, theta, cs, ct):  # the code under test
    k, poly = np.arange(len(cs)), np.polynomial.polynomial.polyval
    kp, pp = (lambda s: poly(s, (k * cs * cs)[1:])), (lambda t: poly(t, (k * cs * ct)[1:]))  # kappa', psi'
    u = pp(W @ theta)[:, None] * theta - (a[None, :] * kp(W @ W.T)) @ W
    return 2 * (u - np.sum(u * W, axis=1, keepdims=True) * W)

def tolerance(cs, ct, a, d, oracle):
    k, unit = np.arange(len(cs)), 2.0**-53; n = len(a) + len(cs) + 2 * d + 8
    m = lambda c: np.sum(k * np.abs(c)) + np.sum(k * (k - 1) * np.abs(c))  # noqa: E731
    M = 4 * (np.abs(a).sum() * m(cs * cs) + m(cs * ct))
    return n * unit / (1 - n * unit) * M + oracle.velocity_bound + unit * np.abs(oracle.velocity)

def check_step(student="he4", teacher="0.6*he4+0.3*he6", N=12, d=10, eta=0.05, seed=0):
    rng = np.random.default_rng(seed); W = rng.standard_normal((N, d)); W /= np.linalg.norm(W, axis=1, keepdims=True)
    theta, a = np.eye(d)[0], np.full(N, 1.0 / N)
    cs, ct = (np.array([float(x) for x in mforacle.coeffs(s, degree=6, digits=30).values]) for s in (student, teacher))
    oracle = mforacle.population(student, teacher, W, theta, a, digits=30)
    v = backend_velocity(W, a, theta, cs, ct); tol = tolerance(cs, ct, a, d, oracle)
    assert np.all(np.abs(v - oracle.velocity) <= tol), np.max(np.abs(v - oracle.velocity) / tol)
    step = lambda v: (W + eta * v) / np.linalg.norm(W + eta * v, axis=1, keepdims=True)  # noqa: E731
    assert np.all(np.abs(step(v) - step(oracle.velocity)) <= 2 * np.sqrt(d) * eta * tol + 4 * (d + 4) * 2.0**-53)
    return np.max(np.abs(v - oracle.velocity) / tol)

if __name__ == "__main__":
    print(f"NumPy step within tolerance: worst error/tolerance = {check_step():.3g}")
