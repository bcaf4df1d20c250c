#!/usr/bin/env python3
"""Arb balls of the Hermite coefficients c_k = E[f(Z) h_k(Z)], Z ~ N(0,1), h_k = He_k/sqrt(k!),
for the enclosure tests of mforacle (tests/coeff_enclosures.rs).

Each c_k is computed with python-flint's acb.integral (Arb's rigorous Petras-type adaptive
Gauss-Legendre integration) over [-L, L] (relu: [0, L]), L = 40. The neglected tails are
bounded in closed form and added to the ball's radius: with |f(x)| <= 1 + |x| for the five
functions below and Cramér's inequality |h_k(x)| <= 1.0865 e^{x^2/4},
  int_{|x|>L} |f| phi |h_k| <= 2 * 1.0865/sqrt(2 pi) * int_L^inf (1+x) e^{-x^2/4} dx
                            <= 2 * 1.0865/sqrt(2 pi) * 4 e^{-L^2/4} < 4 e^{-L^2/4}.
The midpoint is printed with digits+30 decimals and the decimal rounding is added to the
radius, which is printed rounded up (3 significant digits after a 1% inflation).

Usage: python3 make_arb_balls.py > arb_balls.txt      (writes the data file)
       python3 make_arb_balls.py --bench [MFORACLE]   (times tanh c_0..c_100 at 50 digits with
                                                       Arb, and in the same run the command
                                                       `MFORACLE coeffs tanh --degree 100
                                                       --digits 50 --enclose`, best of 3)
Output lines: spec digits k midpoint radius; header lines start with '#'.
"""
import subprocess
import sys
import time

import flint
from flint import acb, arb, ctx

L = 40
SPECS = ["tanh", "erf", "gelu", "softplus", "relu"]
DEGREE = 40
DIGITS = [50, 100]


def hermite(x, k):
    """He_k(x) by the three-term recurrence, in acb."""
    h0, h1 = acb(1), x
    if k == 0:
        return h0
    for j in range(1, k):
        h0, h1 = h1, x * h1 - j * h0
    return h1


def f_of(spec, x, analytic):
    if spec == "tanh":
        return x.tanh()
    if spec == "erf":
        return x.erf()
    if spec == "gelu":
        return x * (1 + (x / arb(2).sqrt()).erf()) / 2
    if spec == "softplus":
        return (1 + x.exp()).log(analytic=analytic)
    if spec == "relu":
        return x  # integrated on [0, L] only
    raise ValueError(spec)


def coefficient(spec, k):
    norm = 1 / (2 * arb.pi()).sqrt() / arb(k).fac().sqrt()

    def integrand(x, analytic):
        return f_of(spec, x, analytic) * (-(x * x) / 2).exp() * hermite(x, k)

    lo = 0 if spec == "relu" else -L
    val = acb.integral(integrand, lo, L).real * norm
    tail = 4 * (arb(-L * L) / 4).exp()
    return val, tail


def ball_line(spec, digits, k):
    val, tail = coefficient(spec, k)
    mid = val.mid()
    mid_str = mid.str(digits + 30, radius=False)
    rounding = abs(arb(mid_str) - mid)
    rad = (val.rad() + tail + rounding) * arb("1.01")
    rad_str = arb(rad.upper()).str(3, radius=False)
    return f"{spec} {digits} {k} {mid_str} {rad_str}"


def main():
    if "--bench" in sys.argv:
        ctx.dps = 50
        t0 = time.perf_counter()
        for k in range(0, 101):
            coefficient("tanh", k)
        t1 = time.perf_counter()
        for k in range(1, 101, 2):
            coefficient("tanh", k)
        t2 = time.perf_counter()
        arb_all, arb_odd = t1 - t0, t2 - t1
        print(f"python-flint {flint.__version__}: tanh c_0..c_100 at 50 digits: "
              f"{arb_all:.3f} s (all 101), {arb_odd:.3f} s (the 50 odd k only)")
        args = [a for a in sys.argv[1:] if a != "--bench"]
        if args:
            for extra in (["--enclose"], []):
                cmd = [args[0], "coeffs", "tanh", "--degree", "100", "--digits", "50",
                       "--format", "json"] + extra
                best = None
                for _ in range(3):
                    s0 = time.perf_counter()
                    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                    dt = time.perf_counter() - s0
                    best = dt if best is None else min(best, dt)
                print(f"{' '.join(cmd[1:])}: {best:.3f} s (whole process, best of 3); "
                      f"Arb/mforacle = {arb_all / best:.1f} (all k), {arb_odd / best:.1f} (odd k)")
        return
    print(f"# Arb balls of c_k = E[f(Z) h_k(Z)], python-flint {flint.__version__} (acb.integral)")
    print("# spec digits k midpoint radius")
    for digits in DIGITS:
        ctx.dps = digits + 10
        for spec in SPECS:
            for k in range(0, DEGREE + 1):
                print(ball_line(spec, digits, k), flush=True)


if __name__ == "__main__":
    main()
