#!/usr/bin/env python3
"""Checks a NumPy implementation of the population loss and gradients against mforacle's
golden files.

    mforacle golden --suite population --out golden
    python3 examples/check_numpy.py golden results     # writes results/, runs mforacle check

The mforacle binary is taken from $MFORACLE (default: `mforacle` on the PATH). Exit code: that
of `mforacle check` (0 pass, 1 out of tolerance, 2 malformed results).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def relu_kernel(s, r):
    """kappa_{relu,relu} (r = 0) or its derivative (r = 1)."""
    s = np.clip(s, -1.0, 1.0)
    if r == 0:
        return (np.sqrt(1.0 - s * s) + (np.pi - np.arccos(s)) * s) / (2.0 * np.pi)
    return (np.pi - np.arccos(s)) / (2.0 * np.pi)


def series_kernel(c, s, r):
    """sum_k c_k s^k (r = 0) or its derivative (r = 1), by Horner."""
    c = np.asarray(c)
    if r == 1:
        c = c[1:] * np.arange(1, len(c))
    out = np.zeros_like(s)
    for ck in c[::-1]:
        out = out * s + ck
    return out


def population(case_dir):
    inp = json.loads((case_dir / "inputs.json").read_text())
    load = lambda name: np.load(case_dir / f"{name}.npy")
    w, a, theta, const = load("w"), load("a"), load("theta"), float(load("constant"))
    if inp["parameters"]["kernel_form"] == "relu-closed-form":
        kappa = psi = kappa_r = psi_r = relu_kernel
    else:
        series = {k: load(f"{k}_series") for k in ("kappa", "psi", "kappa_radial", "psi_radial")}
        kappa = lambda s, r: series_kernel(series["kappa"], s, r)
        psi = lambda s, r: series_kernel(series["psi"], s, r)
        kappa_r = lambda s, r: series_kernel(series["kappa_radial"], s, r)
        psi_r = lambda s, r: series_kernel(series["psi_radial"], s, r)
    S = w @ w.T                      # s_ij
    t = w @ theta                    # t_i
    loss = a @ kappa(S, 0) @ a - 2.0 * a @ psi(t, 0) + const
    u = (kappa(S, 1) * a[None, :]) @ w - psi(t, 1)[:, None] * theta[None, :]
    pu = u - np.sum(u * w, axis=1)[:, None] * w          # P_i u_i
    tangent = 2.0 * a[:, None] * pu
    radial = 2.0 * a * (kappa_r(S, 0) @ a - psi_r(t, 0))  # j = i included
    velocity = -2.0 * pu
    return {"loss": np.float64(loss), "tangent_gradient": tangent,
            "radial_gradient": radial, "velocity": velocity}


def main():
    golden, results = Path(sys.argv[1]), Path(sys.argv[2])
    manifest = json.loads((golden / "manifest.json").read_text())
    for case in manifest["cases"]:
        out = results / case["name"]
        out.mkdir(parents=True, exist_ok=True)
        for name, value in population(golden / case["name"]).items():
            np.save(out / f"{name}.npy", np.asarray(value, dtype=np.float64))
    exe = os.environ.get("MFORACLE", "mforacle")
    cmd = [exe, "check", "--suite", manifest["suite"], str(results), "--golden", str(golden)]
    sys.exit(subprocess.call(cmd))


if __name__ == "__main__":
    main()
