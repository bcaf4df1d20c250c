//! The MPFR (rug) oracle of the deep model's finite-N risk and N²-scaled velocities, for small N,
//! and of one Euler or classical RK4 step of the N²-scaled flow ([`step`]; every stage state
//! kept in MPFR, L = 2 and L = 3), used by the golden suite `deep`.
//!
//! Written separately from the f64 path ([`super::finite`]); it shares only the input data
//! ([`super::Net`]). Differences of route, so that a slip in one is not repeated in the other:
//! - the risk is assembled as E f² − 2 E f y + E y², with E y² = (2/π) asin(1/2) evaluated,
//!   not the constant 1/3;
//! - ∇₁K is the chain rule through asin: (2/π)(1 − q²)^{−1/2} ∂q/∂v with
//!   q = ⟨v,v'⟩/√(A A'), A = 1 + |v|², ∂q/∂v = v'/√(A A') − ⟨v,v'⟩ v /(A √(A A'));
//! - no fused passes: every edge's ψ, ψ' is evaluated where it is used;
//! - the teacher is the node vector e₁ treated like any other node vector.
//!
//! ## Accuracy contract
//! Every MPFR operation rounds to nearest at p = ⌈digits·log₂10⌉ + 32 bits. The computation is
//! repeated at p + 64 bits; the printed error of each value is |x_p − x_{p+64}| plus one unit
//! in the `digits`-th place of x (the rounding of the printed decimal): an **estimate** (precision
//! doubling), not an enclosure. The inputs (θ, u, a) are f64 and are taken exactly.

// Index loops mirror the formulas (j, k over nodes; t, m over coordinates).
#![allow(clippy::needless_range_loop)]

use super::{Net, Psi};
use rug::ops::Pow;
use rug::Float;

/// Oracle values with their error estimates.
#[derive(Clone, Debug)]
pub struct OracleEval {
    pub prec: u32,
    pub risk: Float,
    pub risk_err: Float,
    /// −N² ∂R/∂θ1 (layout of `Net::theta1`).
    pub vel1: Vec<Float>,
    pub vel1_err: Vec<Float>,
    /// −N² ∂R/∂θ2 (L = 3; layout of `Net::theta2`).
    pub vel2: Vec<Float>,
    pub vel2_err: Vec<Float>,
}

/// Working precision for `digits` significant digits.
pub fn working_precision(digits: u32) -> u32 {
    ((digits as f64) * std::f64::consts::LOG2_10).ceil() as u32 + 32
}

fn psi_mp(psi: Psi, t: &Float, p: u32) -> Float {
    let t = Float::with_val(p, t);
    match psi {
        Psi::Gd => t.sinh().atan(),
        Psi::Id => t,
    }
}

fn dpsi_mp(psi: Psi, t: &Float, p: u32) -> Float {
    match psi {
        Psi::Gd => Float::with_val(p, t).cosh().recip(),
        Psi::Id => Float::with_val(p, 1),
    }
}

fn dot(x: &[Float], y: &[Float], p: u32) -> Float {
    let mut s = Float::new(p);
    for (a, b) in x.iter().zip(y) {
        s += Float::with_val(p, a * b);
    }
    s
}

struct Raw {
    risk: Float,
    vel1: Vec<Float>,
    vel2: Vec<Float>,
}

fn run(net: &Net, p: u32) -> Raw {
    let th1: Vec<Float> = net.theta1.iter().map(|&x| Float::with_val(p, x)).collect();
    let th2: Vec<Float> = net.theta2.iter().map(|&x| Float::with_val(p, x)).collect();
    run_at(net, &th1, &th2, p)
}

/// Risk and velocities of `net` with its trained edges replaced by `th1`, `th2` (MPFR values,
/// the layouts of `Net::theta1`, `Net::theta2`).
fn run_at(net: &Net, th1: &[Float], th2: &[Float], p: u32) -> Raw {
    let (n, d, psi) = (net.n, net.d, net.psi);
    let nf = Float::with_val(p, n);
    let two_pi = Float::with_val(p, 2) / Float::with_val(p, rug::float::Constant::Pi);
    // Node vectors, then the teacher's vector e₁ as node n.
    let mut vs: Vec<Vec<Float>> = (0..n)
        .map(|j| {
            let mut vj = vec![Float::new(p); d];
            for i in 0..n {
                let w = psi_mp(psi, &th1[j * n + i], p);
                for m in 0..d {
                    vj[m] += Float::with_val(p, &w * net.u[i * d + m]);
                }
            }
            vj.into_iter().map(|x| x / &nf).collect()
        })
        .collect();
    let mut e1 = vec![Float::new(p); d];
    e1[0] = Float::with_val(p, 1);
    vs.push(e1);
    let c: Vec<Float> = if net.layers == 3 {
        (0..n)
            .map(|j| {
                let mut s = Float::new(p);
                for k in 0..n {
                    s += psi_mp(psi, &th2[j * n + k], p) * net.a[k];
                }
                s / &nf
            })
            .collect()
    } else {
        net.a.iter().map(|&x| Float::with_val(p, x)).collect()
    };
    let big_a: Vec<Float> = vs.iter().map(|v| dot(v, v, p) + 1u32).collect();
    // q and K for every pair (teacher included as index n).
    let m = n + 1;
    let mut q = vec![Float::new(p); m * m];
    for j in 0..m {
        for k in 0..m {
            let s = Float::with_val(p, &big_a[j] * &big_a[k]).sqrt();
            q[j * m + k] = dot(&vs[j], &vs[k], p) / s;
        }
    }
    let kk =
        |j: usize, k: usize| -> Float { Float::with_val(p, q[j * m + k].asin_ref()) * &two_pi };
    // E f², E f y, E y².
    let mut ff = Float::new(p);
    for j in 0..n {
        for k in 0..n {
            ff += kk(j, k) * &c[j] * &c[k];
        }
    }
    ff /= Float::with_val(p, &nf * &nf);
    let mut fy = Float::new(p);
    for j in 0..n {
        fy += kk(j, n) * &c[j];
    }
    fy /= &nf;
    let yy = kk(n, n);
    let risk = ff - fy * 2u32 + yy;
    // G_j = E[(f − y) g'(z_j) x] = (1/N) Σ_k c_k ∇₁K(v_j, v_k) − ∇₁K(v_j, e₁).
    let grad1 = |j: usize, k: usize| -> Vec<Float> {
        let s = Float::with_val(p, &big_a[j] * &big_a[k]).sqrt();
        let qjk = &q[j * m + k];
        let one_minus = Float::with_val(p, 1) - Float::with_val(p, qjk.square_ref());
        let pre = Float::with_val(p, &two_pi / one_minus.sqrt());
        let dv = dot(&vs[j], &vs[k], p);
        (0..d)
            .map(|t| {
                let dq = Float::with_val(p, &vs[k][t] / &s)
                    - Float::with_val(p, &dv * &vs[j][t]) / Float::with_val(p, &big_a[j] * &s);
                dq * &pre
            })
            .collect()
    };
    let mut e = Vec::with_capacity(n);
    let mut g = Vec::with_capacity(n);
    for j in 0..n {
        let mut gj = vec![Float::new(p); d];
        let mut ej = Float::new(p);
        for k in 0..n {
            let gr = grad1(j, k);
            for t in 0..d {
                gj[t] += Float::with_val(p, &gr[t] * &c[k]);
            }
            ej += kk(j, k) * &c[k];
        }
        let gt = grad1(j, n);
        for t in 0..d {
            gj[t] = Float::with_val(p, &gj[t] / &nf) - &gt[t];
        }
        g.push(gj);
        e.push(ej / &nf - kk(j, n));
    }
    // Velocities −N² ∂R/∂θ: ∂R/∂θ_ij = (2/N²) c_j ψ'(θ_ij) ⟨u_i, G_j⟩.
    let mut vel1 = Vec::with_capacity(n * n);
    for j in 0..n {
        for i in 0..n {
            let ui: Vec<Float> = (0..d)
                .map(|t| Float::with_val(p, net.u[i * d + t]))
                .collect();
            let val = dot(&ui, &g[j], p) * dpsi_mp(psi, &th1[j * n + i], p) * &c[j];
            vel1.push(-(val * 2u32));
        }
    }
    // ∂R/∂θ2_jk = (2/N²) a_k ψ'(θ2_jk) E[(f − y) g(z_j)] = (2/N²) a_k ψ'(θ2_jk) e_j.
    let mut vel2 = Vec::new();
    if net.layers == 3 {
        for j in 0..n {
            for k in 0..n {
                let val = dpsi_mp(psi, &th2[j * n + k], p) * net.a[k] * &e[j];
                vel2.push(-(val * 2u32));
            }
        }
    }
    Raw { risk, vel1, vel2 }
}

fn err(x: &Float, y: &Float, digits: u32) -> Float {
    let p = x.prec();
    let diff = Float::with_val(p, x - y).abs();
    let ulp = if x.is_zero() {
        Float::new(p)
    } else {
        let e = x.get_exp().unwrap_or(0) as i64;
        // |x| < 2^e ≤ 10^⌈e·log₁₀2⌉: one unit in the digits-th significant place is at most
        // 10^(⌈e·log₁₀2⌉ − digits + 1).
        let scale = (e as f64 * std::f64::consts::LOG10_2).ceil() - digits as f64 + 1.0;
        Float::with_val(p, 10).pow(Float::with_val(p, scale))
    };
    diff + ulp
}

/// Risk and velocities with error estimates at `digits` significant digits.
pub fn evaluate(net: &Net, digits: u32) -> OracleEval {
    let p = working_precision(digits);
    let a = run(net, p);
    let b = run(net, p + 64);
    let errs = |x: &[Float], y: &[Float]| -> Vec<Float> {
        x.iter().zip(y).map(|(u, v)| err(u, v, digits)).collect()
    };
    OracleEval {
        prec: p,
        risk_err: err(&a.risk, &b.risk, digits),
        vel1_err: errs(&a.vel1, &b.vel1),
        vel2_err: errs(&a.vel2, &b.vel2),
        risk: a.risk,
        vel1: a.vel1,
        vel2: a.vel2,
    }
}

/// Trained edges after one step, with error estimates.
#[derive(Clone, Debug)]
pub struct OracleStep {
    pub prec: u32,
    /// θ1 after the step (layout of `Net::theta1`).
    pub theta1: Vec<Float>,
    pub theta1_err: Vec<Float>,
    /// θ2 after the step (L = 3; layout of `Net::theta2`).
    pub theta2: Vec<Float>,
    pub theta2_err: Vec<Float>,
    /// The risk at the new state.
    pub risk: Float,
    pub risk_err: Float,
}

/// Which one-step map [`step`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// θ ← θ + h·v(θ).
    Euler,
    /// Classical RK4: k1 = v(θ), k2 = v(θ + h/2 k1), k3 = v(θ + h/2 k2), k4 = v(θ + h k3),
    /// θ ← θ + h/6 (k1 + 2k2 + 2k3 + k4).
    Rk4,
}

fn step_raw(net: &Net, kind: StepKind, h: f64, p: u32) -> (Vec<Float>, Vec<Float>, Float) {
    let h = Float::with_val(p, h);
    let y1: Vec<Float> = net.theta1.iter().map(|&x| Float::with_val(p, x)).collect();
    let y2: Vec<Float> = net.theta2.iter().map(|&x| Float::with_val(p, x)).collect();
    let shift = |y: &[Float], k: &[Float], c: &Float| -> Vec<Float> {
        y.iter()
            .zip(k)
            .map(|(a, b)| Float::with_val(p, a + Float::with_val(p, b * c)))
            .collect()
    };
    let (n1, n2) = match kind {
        StepKind::Euler => {
            let k = run_at(net, &y1, &y2, p);
            (shift(&y1, &k.vel1, &h), shift(&y2, &k.vel2, &h))
        }
        StepKind::Rk4 => {
            let half = Float::with_val(p, &h / 2u32);
            let k1 = run_at(net, &y1, &y2, p);
            let k2 = run_at(
                net,
                &shift(&y1, &k1.vel1, &half),
                &shift(&y2, &k1.vel2, &half),
                p,
            );
            let k3 = run_at(
                net,
                &shift(&y1, &k2.vel1, &half),
                &shift(&y2, &k2.vel2, &half),
                p,
            );
            let k4 = run_at(net, &shift(&y1, &k3.vel1, &h), &shift(&y2, &k3.vel2, &h), p);
            let sixth = Float::with_val(p, &h / 6u32);
            let comb = |y: &[Float], a: &[Float], b: &[Float], c: &[Float], e: &[Float]| {
                (0..y.len())
                    .map(|i| {
                        let s = Float::with_val(p, &a[i] + &e[i])
                            + Float::with_val(p, &b[i] + &c[i]) * 2u32;
                        Float::with_val(p, &y[i] + s * &sixth)
                    })
                    .collect::<Vec<Float>>()
            };
            (
                comb(&y1, &k1.vel1, &k2.vel1, &k3.vel1, &k4.vel1),
                comb(&y2, &k1.vel2, &k2.vel2, &k3.vel2, &k4.vel2),
            )
        }
    };
    let risk = run_at(net, &n1, &n2, p).risk;
    (n1, n2, risk)
}

/// One Euler or RK4 step of the N²-scaled flow from the state of `net` (step `h`, taken
/// exactly as the f64 value), at `digits` significant digits, error estimates by precision
/// doubling as in [`evaluate`].
pub fn step(net: &Net, kind: StepKind, h: f64, digits: u32) -> OracleStep {
    let p = working_precision(digits);
    let a = step_raw(net, kind, h, p);
    let b = step_raw(net, kind, h, p + 64);
    let errs = |x: &[Float], y: &[Float]| -> Vec<Float> {
        x.iter().zip(y).map(|(u, v)| err(u, v, digits)).collect()
    };
    OracleStep {
        prec: p,
        theta1_err: errs(&a.0, &b.0),
        theta2_err: errs(&a.1, &b.1),
        risk_err: err(&a.2, &b.2, digits),
        theta1: a.0,
        theta2: a.1,
        risk: a.2,
    }
}
