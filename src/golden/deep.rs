//! Suite `deep`: the deep mean-field model (L = 2 and L = 3 inner layers) on explicit small
//! inputs, and one N = 64 trajectory with its gaps to the infinite-width limit.
//!
//! ## Cases
//! - `l2-gd-n4-d3`, `l2-id-n4-d3`, `l3-gd-n4-d3`: N = 4, d = 3, explicit u, a, θ1 (and θ2)
//!   ([`small_net`]). Quantities: `risk`, `velocity1` (and `velocity2`) = −N² ∂R/∂θ, the state
//!   after one Euler step (`euler_theta1`, `euler_theta2`, `euler_risk`, step [`ETA`]) and after
//!   one classical RK4 step (`rk4_theta1`, `rk4_theta2`, `rk4_risk`, step [`H`]) of the
//!   N²-scaled flow, from the MPFR oracle ([`crate::deep::oracle`], 40 digits, every stage state
//!   in MPFR, precision-doubling estimates).
//! - `l2-gd-n64-d2-trajectory`: the seeded L = 2 network (N = 64, d = 2, seed [`TRAJ_SEED`])
//!   under RK4 with step [`TRAJ_H`] to t = 1, and at t = 0, 0.5, 1: `risk`, `risk_limit`,
//!   `loss_gap`, `edge_gap`, `node_gap`, `function_gap` (the rows of `deep train`). The ideal
//!   particles are θ̄_ij(t) = asinh(sinh θ_ij(0) + u_i1 Γ(a_j, t)), Γ from the limit
//!   (`deep limit`). This case has no MPFR oracle; its reference is independent of the fast
//!   path that `deep train` runs ([`crate::deep::fused`]): classical RK4 written here on the
//!   scalar closed forms ([`crate::deep::finite`], themselves checked against the MPFR oracle
//!   and quadrature) at step H/8, the limit by method A with twice the nodes and a quarter of
//!   its step, the gaps written out from their definitions ([`reference_rows`]). Its printed
//!   error (an **estimate**) is the RK4 step error by step halving, (16/15)|X(H/8) − X(H/16)|
//!   (global error C h⁴), plus the limit's refinement difference (128 a-nodes, an eighth of
//!   its step).
//!
//! ## Tolerances (per entry: ULPS·u·M, plus a measured discretisation term for the trajectory)
//! The magnitudes M follow the f64 accuracy contract of [`crate::deep::finite`] (plain f64
//! evaluation of the closed forms): M is the sum of the absolute values of the terms the f64
//! route adds, each kernel term inflated by its conditioning in q = ⟨v,v'⟩/√(AA'):
//! - W_j = (1/N) Σ_i |ψ(θ_ij)| Σ_m |u_im| (the sum giving v_j), C_j = |a_j| (L = 2) or
//!   (1/N) Σ_k |a_k ψ(θ2_jk)| (L = 3); the teacher e₁ is a node with W = 1.
//! - q is uncertain by η_jk = (N + 2d + 8)(d + 1)(1 + W_j)(1 + W_k) units of u; with
//!   g = (1 − q²)^{−1/2}, |K| becomes |K| + (2/π) g η and |∇₁K|_m becomes
//!   (2/π)(W_k + |⟨v_j,v_k⟩| W_j/A_j) g/√(A_j A_k) · (1 + g² η) (the same bound for every m).
//! - risk: (1/N²) Σ_jk C_j C_k |K|_jk + (2/N) Σ_j C_j |K|_j* + 1/3;
//!   velocity1_ij: 2 C_j |ψ'(θ_ij)| Σ_m |u_im| ((1/N) Σ_k C_k |∇₁K|_jk,m + |∇₁K|_j*,m);
//!   velocity2_jk: 2 |a_k ψ'(θ2_jk)| ((1/N) Σ_l C_l |K|_jl + |K|_j*).
//! - a step from θ to θ′ (entrywise): |θ| + |θ′| + h (M_vel(θ) + M_vel(θ′)) + h max M_vel(θ):
//!   the last term covers the rounding of the stage states propagated through the velocity's
//!   Jacobian, whose row sums are O(max M_vel/max|θ|) for the N²-scaled flow, so that
//!   h·‖J‖ ≤ 1 at these steps; the risk after a step adds Σ_e |v_e| M_step,e / N².
//! - trajectory: M = (t/H + N + d)·max(1, |value|) (rounding accumulated over the steps),
//!   plus 2·(|X(H) − X(H/2)| + |X_lim − X_lim,refined|): twice the measured step difference of
//!   the finite flow and twice the measured refinement difference of the limit, the estimated
//!   discretisation error of a backend that takes RK4 steps of H and computes the limit to
//!   the accuracy of `deep limit` (say so when comparing).
//!
//! Tests: `tests/deep_golden.rs` (the f64 route passes; a planted error fails).

use super::{Array, Case, Quantity, SuiteEntry, ULPS, UNIT_ROUNDOFF};
use crate::deep::oracle::{self, StepKind};
use crate::deep::{self, finite, limit, train, Net, Psi};
use rug::Float;
use std::f64::consts::FRAC_2_PI;

pub const SUITE: SuiteEntry = SuiteEntry {
    name: "deep",
    description: "Deep mean-field model: risk, velocities, one Euler and one RK4 step (L=2 gd/id, L=3 gd; N=4, d=3), and an N=64 trajectory with its gaps to the limit",
    build,
};

/// Significant digits of the oracle.
const DIGITS: u32 = super::DIGITS;
/// Step of the RK4 case.
pub const H: f64 = 0.1;
/// Step of the Euler case.
pub const ETA: f64 = 0.1;
/// Width, dimension, seed, step and output times of the trajectory case.
pub const TRAJ_N: usize = 64;
pub const TRAJ_D: usize = 2;
pub const TRAJ_SEED: u64 = 7;
pub const TRAJ_H: f64 = 0.05;
pub const TRAJ_T_END: f64 = 1.0;
pub const TRAJ_DT_OUT: f64 = 0.5;
/// The quantities of the trajectory case (fields of `deep train` rows).
pub const TRAJ_FIELDS: [&str; 6] = [
    "risk",
    "risk_limit",
    "loss_gap",
    "edge_gap",
    "node_gap",
    "function_gap",
];

/// The explicit N = 4, d = 3 network of the small cases (decimals whose binary64 values are
/// the data).
pub fn small_net(layers: usize, psi: Psi) -> Net {
    let u = vec![
        0.5, -1.25, 0.75, //
        -0.3, 0.8, 1.1, //
        1.4, 0.2, -0.6, //
        -0.9, -0.4, 0.25,
    ];
    let a = if layers == 3 {
        vec![1.9, 0.3, -0.5, 2.2]
    } else {
        vec![1.2, -0.7, 0.4, -1.5]
    };
    let theta1 = vec![
        0.3, -0.8, 1.1, 0.05, //
        -0.4, 0.6, -1.3, 0.9, //
        1.7, -0.2, 0.45, -0.65, //
        -1.05, 0.15, 0.7, -0.35,
    ];
    let theta2 = if layers == 3 {
        vec![
            1.2, 0.4, 2.1, 0.8, //
            0.1, 1.6, 1.05, -0.3, //
            0.9, 1.4, 0.25, 1.85, //
            1.5, -0.2, 0.75, 1.3,
        ]
    } else {
        Vec::new()
    };
    Net {
        layers,
        n: 4,
        d: 3,
        psi,
        u,
        a,
        theta1,
        theta2,
    }
}

/// The trajectory case as a `deep train` case.
pub fn trajectory_case() -> train::Case {
    train::Case {
        n: TRAJ_N,
        d: TRAJ_D,
        psi: Psi::Gd,
        seed: TRAJ_SEED,
        draw: 0,
        t_end: TRAJ_T_END,
        dt_out: TRAJ_DT_OUT,
    }
}

// ---------------------------------------------------------------------------------------------
// Magnitudes (the f64 contract); written from the formulas, not calling `deep::finite`.

/// Magnitudes of the risk and of the velocities of both layers at the state of `net`.
pub struct Magnitudes {
    pub risk: f64,
    pub vel1: Vec<f64>,
    pub vel2: Vec<f64>,
}

pub fn magnitudes(net: &Net) -> Magnitudes {
    let (n, d, psi) = (net.n, net.d, net.psi);
    let nf = n as f64;
    // Node vectors and their magnitudes; the teacher e₁ as node n.
    let mut v = vec![vec![0.0; d]; n + 1];
    let mut w = vec![0.0; n + 1];
    for j in 0..n {
        for i in 0..n {
            let p = psi.value(net.theta1[j * n + i]);
            for m in 0..d {
                v[j][m] += p * net.u[i * d + m] / nf;
            }
            w[j] += p.abs()
                * net.u[i * d..(i + 1) * d]
                    .iter()
                    .map(|x| x.abs())
                    .sum::<f64>()
                / nf;
        }
    }
    v[n][0] = 1.0;
    w[n] = 1.0;
    let cmag: Vec<f64> = (0..n)
        .map(|j| {
            if net.layers == 3 {
                (0..n)
                    .map(|k| (net.a[k] * psi.value(net.theta2[j * n + k])).abs())
                    .sum::<f64>()
                    / nf
            } else {
                net.a[j].abs()
            }
        })
        .collect();
    let big_a: Vec<f64> = v
        .iter()
        .map(|x| 1.0 + x.iter().map(|y| y * y).sum::<f64>())
        .collect();
    let kappa = (n + 2 * d + 8) as f64 * (d + 1) as f64;
    let m1 = n + 1;
    let mut kmag = vec![0.0; m1 * m1];
    let mut gmag = vec![0.0; m1 * m1];
    for j in 0..m1 {
        for k in 0..m1 {
            let dot: f64 = v[j].iter().zip(&v[k]).map(|(x, y)| x * y).sum();
            let s = (big_a[j] * big_a[k]).sqrt();
            let q = (dot / s).clamp(-1.0, 1.0);
            let g = 1.0 / (1.0 - q * q).max(f64::MIN_POSITIVE).sqrt();
            let eta = kappa * (1.0 + w[j]) * (1.0 + w[k]);
            kmag[j * m1 + k] = FRAC_2_PI * (q.asin().abs() + g * eta);
            gmag[j * m1 + k] =
                FRAC_2_PI * (w[k] + dot.abs() * w[j] / big_a[j]) * g / s * (1.0 + g * g * eta);
        }
    }
    let risk = (0..n)
        .map(|j| {
            (0..n)
                .map(|k| cmag[j] * cmag[k] * kmag[j * m1 + k])
                .sum::<f64>()
                / (nf * nf)
                + 2.0 / nf * cmag[j] * kmag[j * m1 + n]
        })
        .sum::<f64>()
        + 1.0 / 3.0;
    let mut vel1 = vec![0.0; n * n];
    for j in 0..n {
        let sj = (0..n).map(|k| cmag[k] * gmag[j * m1 + k]).sum::<f64>() / nf + gmag[j * m1 + n];
        for i in 0..n {
            let ui: f64 = net.u[i * d..(i + 1) * d].iter().map(|x| x.abs()).sum();
            vel1[j * n + i] = 2.0 * cmag[j] * psi.deriv(net.theta1[j * n + i]).abs() * ui * sj;
        }
    }
    let mut vel2 = Vec::new();
    if net.layers == 3 {
        for j in 0..n {
            let ej =
                (0..n).map(|l| cmag[l] * kmag[j * m1 + l]).sum::<f64>() / nf + kmag[j * m1 + n];
            for k in 0..n {
                vel2.push(2.0 * (net.a[k] * psi.deriv(net.theta2[j * n + k])).abs() * ej);
            }
        }
    }
    Magnitudes { risk, vel1, vel2 }
}

// ---------------------------------------------------------------------------------------------
// Cases.

fn to_f64(x: &[Float]) -> Vec<f64> {
    x.iter().map(|v| v.to_f64()).collect()
}

fn quantity(
    name: &str,
    description: String,
    shape: Vec<usize>,
    values: Vec<Float>,
    bounds: Vec<Float>,
    mags: &[f64],
    rule: &str,
) -> Quantity {
    Quantity {
        name: name.into(),
        description,
        shape,
        values,
        // the oracle's bounds come from precision doubling (`deep eval --oracle`)
        bound_kind: crate::conventions::BoundKind::Estimate,
        bounds,
        tolerance: Quantity::tolerances(mags),
        tolerance_rule: rule.into(),
    }
}

const RULE_RISK: &str = "M = (1/N^2) sum C_j C_k |K|_jk + (2/N) sum C_j |K|_j* + 1/3, |K| = (2/pi)(|asin q| + g eta), g = (1-q^2)^-1/2, eta = (N+2d+8)(d+1)(1+W_j)(1+W_k): the f64 closed form's rounding";
const RULE_VEL: &str = "M = 2 C_j |psi'| sum_m |u_im| ((1/N) sum_k C_k |grad K|_jk + |grad K|_j*) (layer 1), 2 |a_k psi'| ((1/N) sum_l C_l |K|_jl + |K|_j*) (layer 2): the f64 closed form's rounding";
const RULE_STEP: &str = "M = |theta| + |theta'| + h (M_vel(theta) + M_vel(theta')) + h max M_vel(theta): rounding of the update and of the stage states";
const RULE_STEP_RISK: &str =
    "M = M_risk(theta') + sum_e M_vel,e(theta') M_step,e / N^2: the risk's rounding plus the state's";

/// The state after a step as a network (f64 rounding of the oracle's values).
fn moved(net: &Net, th1: &[Float], th2: &[Float]) -> Net {
    let mut m = net.clone();
    m.theta1 = to_f64(th1);
    m.theta2 = to_f64(th2);
    m
}

fn small_case(layers: usize, psi: Psi) -> Result<Case, String> {
    let net = small_net(layers, psi);
    let n = net.n;
    let ev = oracle::evaluate(&net, DIGITS);
    let m0 = magnitudes(&net);
    let mut quantities = vec![
        quantity(
            "risk",
            "population risk R = E(f - y)^2 (no 1/2)".into(),
            vec![],
            vec![ev.risk.clone()],
            vec![ev.risk_err.clone()],
            &[m0.risk],
            RULE_RISK,
        ),
        quantity(
            "velocity1",
            "-N^2 dR/dtheta1, [j][i] = edge i -> j".into(),
            vec![n, n],
            ev.vel1.clone(),
            ev.vel1_err.clone(),
            &m0.vel1,
            RULE_VEL,
        ),
    ];
    if layers == 3 {
        quantities.push(quantity(
            "velocity2",
            "-N^2 dR/dtheta2, [j][k] = edge j -> k".into(),
            vec![n, n],
            ev.vel2.clone(),
            ev.vel2_err.clone(),
            &m0.vel2,
            RULE_VEL,
        ));
    }
    for (kind, h, tag, what) in [
        (
            StepKind::Euler,
            ETA,
            "euler",
            "one Euler step theta + h v(theta)",
        ),
        (StepKind::Rk4, H, "rk4", "one classical RK4 step"),
    ] {
        let st = oracle::step(&net, kind, h, DIGITS);
        let after = moved(&net, &st.theta1, &st.theta2);
        let m1 = magnitudes(&after);
        let step_mag = |th0: &[f64], th1: &[f64], v0: &[f64], v1: &[f64]| -> Vec<f64> {
            let top = v0.iter().fold(0.0f64, |a, b| a.max(*b));
            (0..th0.len())
                .map(|e| th0[e].abs() + th1[e].abs() + h * (v0[e] + v1[e]) + h * top)
                .collect()
        };
        let s1 = step_mag(&net.theta1, &after.theta1, &m0.vel1, &m1.vel1);
        let s2 = step_mag(&net.theta2, &after.theta2, &m0.vel2, &m1.vel2);
        let carried: f64 = s1
            .iter()
            .zip(&m1.vel1)
            .chain(s2.iter().zip(&m1.vel2))
            .map(|(s, v)| s * v)
            .sum::<f64>()
            / (n * n) as f64;
        quantities.push(quantity(
            &format!("{tag}_theta1"),
            format!("theta1 after {what} of the N^2-scaled flow, h = {h}"),
            vec![n, n],
            st.theta1.clone(),
            st.theta1_err.clone(),
            &s1,
            RULE_STEP,
        ));
        if layers == 3 {
            quantities.push(quantity(
                &format!("{tag}_theta2"),
                format!("theta2 after {what} of the N^2-scaled flow, h = {h}"),
                vec![n, n],
                st.theta2.clone(),
                st.theta2_err.clone(),
                &s2,
                RULE_STEP,
            ));
        }
        quantities.push(quantity(
            &format!("{tag}_risk"),
            format!("risk after {what}, h = {h}"),
            vec![],
            vec![st.risk.clone()],
            vec![st.risk_err.clone()],
            &[m1.risk + carried],
            RULE_STEP_RISK,
        ));
    }
    let mut inputs = vec![
        ("u".to_string(), arr(vec![n, net.d], &net.u)),
        ("a".to_string(), arr(vec![n], &net.a)),
        ("theta1".to_string(), arr(vec![n, n], &net.theta1)),
    ];
    if layers == 3 {
        inputs.push(("theta2".to_string(), arr(vec![n, n], &net.theta2)));
    }
    Ok(Case {
        name: format!("l{layers}-{}-n{n}-d{}", psi.name(), net.d),
        description: format!(
            "L = {layers}, psi = {}, N = {n}, d = {}: explicit inputs",
            psi.name(),
            net.d
        ),
        parameters: parameters(&net, serde_json::json!({"rk4_step": H, "euler_step": ETA})),
        inputs,
        quantities,
    })
}

fn arr(shape: Vec<usize>, data: &[f64]) -> Array {
    Array {
        shape,
        data: data.to_vec(),
    }
}

/// The model and conventions of a case, with `extra` merged in.
fn parameters(net: &Net, extra: serde_json::Value) -> serde_json::Value {
    let mut p = serde_json::json!({
        "layers": net.layers, "psi": net.psi.name(), "n": net.n, "d": net.d,
        "model": if net.layers == 3 {
            "x ~ N(0, I_d); v_j = (1/N) sum_i psi(theta1[j][i]) u_i; b_j = (1/N) sum_k a_k psi(theta2[j][k]); f = (1/N) sum_j b_j erf(<v_j, x>/sqrt2); y = erf(x_1/sqrt2)"
        } else {
            "x ~ N(0, I_d); v_j = (1/N) sum_i psi(theta1[j][i]) u_i; f = (1/N) sum_j a_j erf(<v_j, x>/sqrt2); y = erf(x_1/sqrt2)"
        },
        "psi_map": "gd(theta) = atan(sinh theta), id(theta) = theta",
        "loss": "R = E(f - y)^2 (no 1/2)",
        "velocity": "-N^2 dR/dtheta for every trained edge",
        "layout": "theta1[j][i]: edge from input feature i to node j; theta2[j][k]: edge from node j to output unit k; u[i] = u_i (row-major)",
    });
    if let (Some(o), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    p
}

/// One classical RK4 step of layer 1 of an L = 2 network on the scalar closed forms
/// ([`finite::evaluate`]; not the fused path of `deep train`).
fn scalar_rk4_step(net: &mut Net, h: f64) {
    let stage = |base: &Net, k: &[f64], c: f64| -> Net {
        let mut m = base.clone();
        for (x, v) in m.theta1.iter_mut().zip(k) {
            *x += c * v;
        }
        m
    };
    let k1 = finite::evaluate(net).vel1;
    let k2 = finite::evaluate(&stage(net, &k1, h / 2.0)).vel1;
    let k3 = finite::evaluate(&stage(net, &k2, h / 2.0)).vel1;
    let k4 = finite::evaluate(&stage(net, &k3, h)).vel1;
    for e in 0..net.theta1.len() {
        net.theta1[e] += h / 6.0 * (k1[e] + 2.0 * k2[e] + 2.0 * k3[e] + k4[e]);
    }
}

/// The rows of the trajectory case (`TRAJ_FIELDS` at every output time), computed
/// independently of `deep train`'s fast path: classical RK4 on the scalar closed forms
/// ([`finite::evaluate`], checked against the MPFR oracle and quadrature) with largest step
/// `h` (the output intervals cut into equal steps, as `deep train` does), the limit by method A
/// with parameters `lp`, the ideal particles θ̄_ij(t) = asinh(sinh θ_ij(0) + u_i1 Γ(a_j, t)),
/// and the gaps written out here from their definitions (the function gap by its closed form,
/// [`train::function_gap`]).
pub fn reference_rows(h: f64, lp: &limit::Params) -> Vec<[f64; 6]> {
    let c = trajectory_case();
    let (n, d) = (c.n, c.d);
    let mut net = deep::init(2, n, d, c.psi, train::draw_seed(c.seed, c.draw));
    let theta0 = net.theta1.clone();
    let grid = limit::a_rule(lp.a_nodes);
    let track: Vec<f64> = net.a.iter().chain(&grid.x).copied().collect();
    let lim = limit::method_a(lp, c.t_end, c.dt_out, &track);
    let mut rows = Vec::with_capacity(lim.times.len());
    for (ti, &t) in lim.times.iter().enumerate() {
        if ti > 0 {
            let span = t - lim.times[ti - 1];
            let steps = (span / h - 1e-9).ceil().max(1.0) as usize;
            for _ in 0..steps {
                scalar_rk4_step(&mut net, span / steps as f64);
            }
        }
        let ev = finite::evaluate(&net);
        let (gamma, alpha) = (&lim.gamma[ti], &lim.alpha[ti]);
        let mut edge = 0.0;
        for j in 0..n {
            for i in 0..n {
                let ideal = (theta0[j * n + i].sinh() + net.u[i * d] * gamma[j]).asinh();
                edge += (net.theta1[j * n + i] - ideal).powi(2);
            }
        }
        let mut node = 0.0;
        for j in 0..n {
            node += (ev.v[j * d] - alpha[j]).powi(2);
            node += ev.v[j * d + 1..(j + 1) * d]
                .iter()
                .map(|x| x * x)
                .sum::<f64>();
        }
        let fgap = train::function_gap(&ev.v, &net.a, ev.risk, d, &alpha[n..], &grid);
        rows.push([
            ev.risk,
            lim.risk[ti],
            ev.risk - lim.risk[ti],
            edge / (n * n) as f64,
            node / n as f64,
            fgap,
        ]);
    }
    rows
}

fn trajectory() -> Result<Case, String> {
    let c = trajectory_case();
    let p = limit::Params::new(c.psi);
    // The reference: scalar RK4 at step H/8, the limit with twice the nodes and a quarter of
    // its step. Its error estimate: the RK4 step error by step halving (X(h) − X* ≈ C h⁴, so
    // the error of X(H/8) is ≈ (16/15)|X(H/8) − X(H/16)|), plus the limit's by refinement
    // (128 a-nodes, an eighth of its step).
    let p_ref = limit::Params {
        h: p.h / 4.0,
        ..p.refined()
    };
    let p_fine = limit::Params {
        a_nodes: 128,
        h: p.h / 8.0,
        ..p.refined().refined()
    };
    let reference = reference_rows(TRAJ_H / 8.0, &p_ref);
    let half_step = reference_rows(TRAJ_H / 16.0, &p_ref);
    let finer_limit = reference_rows(TRAJ_H / 8.0, &p_fine);
    // The measured differences of a backend's setting: step halved, limit refined.
    let coarse = reference_rows(TRAJ_H, &p);
    let half = reference_rows(TRAJ_H / 2.0, &p);
    let lim_ref = reference_rows(TRAJ_H, &p.refined().halved());
    let nt = reference.len();
    let times: Vec<f64> = (0..nt)
        .map(|k| (k as f64 * TRAJ_DT_OUT).min(TRAJ_T_END))
        .collect();
    let mut quantities = Vec::new();
    for (q, name) in TRAJ_FIELDS.iter().enumerate() {
        let mut tol = Vec::with_capacity(nt);
        let mut values = Vec::with_capacity(nt);
        let mut bounds = Vec::with_capacity(nt);
        for k in 0..nt {
            let x = reference[k][q];
            let steps = times[k] / TRAJ_H;
            let round =
                ULPS * UNIT_ROUNDOFF * (steps + (TRAJ_N + TRAJ_D) as f64) * x.abs().max(1.0);
            let disc =
                2.0 * ((coarse[k][q] - half[k][q]).abs() + (coarse[k][q] - lim_ref[k][q]).abs());
            tol.push(round + disc);
            values.push(Float::with_val(53, x));
            let step_err = 16.0 / 15.0 * (x - half_step[k][q]).abs();
            bounds.push(Float::with_val(
                53,
                step_err + (x - finer_limit[k][q]).abs(),
            ));
        }
        quantities.push(Quantity {
            name: name.to_string(),
            description: format!(
                "{name} of `deep train` at t = 0, {TRAJ_DT_OUT}, {TRAJ_T_END} (RK4 step {TRAJ_H}); reference: RK4 on the scalar closed forms at step {}, limit refined",
                TRAJ_H / 8.0
            ),
            shape: vec![nt],
            values,
            // step halving (Richardson) plus limit refinement: a-posteriori differences
            bound_kind: crate::conventions::BoundKind::Estimate,
            bounds,
            tolerance: tol,
            tolerance_rule: format!(
                "ULPS*u*(t/H + N + d)*max(1,|x|) + 2(|X(H) - X(H/2)| + |X(H) - X(H, limit refined)|): rounding plus twice the measured step and limit-refinement differences (H = {TRAJ_H})"
            ),
        });
    }
    let key = train::draw_seed(c.seed, c.draw);
    let net = deep::init(2, c.n, c.d, c.psi, key);
    Ok(Case {
        name: format!("l2-gd-n{TRAJ_N}-d{TRAJ_D}-trajectory"),
        description: format!(
            "L = 2, psi = gd, N = {TRAJ_N}, d = {TRAJ_D}: the seeded network (deep train --seed {TRAJ_SEED}) under RK4 to t = {TRAJ_T_END}, gaps to the limit"
        ),
        parameters: parameters(
            &net,
            serde_json::json!({
                "rk4_step": TRAJ_H, "times": times, "seed": TRAJ_SEED,
                "ideal_particles": "theta_bar[j][i](t) = asinh(sinh theta1[j][i](0) + u_i1 Gamma(a_j, t)), Gamma of the limit (deep limit)",
                "gaps": "loss_gap = risk - risk_limit; edge_gap = mean_ij (theta - theta_bar)^2; node_gap = mean_j |v_j - alpha(a_j) e_1|^2; function_gap = E_x (f_N - f_inf)^2",
                "reference": "classical RK4 on the scalar closed forms (deep::finite, not the fused path of deep train) at step H/8, limit by method A refined (2x nodes, 1/4 step); bound = (16/15)|X(H/8) - X(H/16)| (RK4 step halving) + |X - X(limit at 128 nodes, 1/8 step)| (estimate)",
            }),
        ),
        inputs: vec![
            ("u".into(), arr(vec![c.n, c.d], &net.u)),
            ("a".into(), arr(vec![c.n], &net.a)),
            ("theta1".into(), arr(vec![c.n, c.n], &net.theta1)),
        ],
        quantities,
    })
}

fn build() -> Result<Vec<Case>, String> {
    Ok(vec![
        small_case(2, Psi::Gd)?,
        small_case(2, Psi::Id)?,
        small_case(3, Psi::Gd)?,
        trajectory()?,
    ])
}
