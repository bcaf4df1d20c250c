//! The deep model with a general unit σ (`--unit SPEC`): finite-N risk and N²-scaled
//! velocities in f64 through the norm-dependent dual kernel κ(r, r', ρ).
//!
//! The network is that of [`super`] with every unit g(⟨v_j, x⟩) replaced by σ(⟨v_j, x⟩); the
//! teacher stays g(x₁) = erf(x₁/√2). For |v| = r, |v'| = r', ρ = cos∠(v, v'),
//! E σ(⟨v,x⟩) τ(⟨v',x⟩) = κ(r, r', ρ) = Σ_l c_l(σ_r) c_l(τ_{r'}) ρ^l with σ_r = σ(r·)
//! (`proofs-notes/dual-kernels.md`, "Norm-dependent kernels"). The route here:
//!
//! - per node j, the coefficients c_l(r_j) = E σ(r_j Z) h_l(Z) and their r-derivatives
//!   d_l(r_j) = ∂_r c_l = E Z σ'(r_j Z) h_l(Z), l ≤ K, by composite Gauss–Legendre on
//!   [−16, 16] (panels of width ≤ 1/4, 16 nodes each, split at the kinks of σ(r·)); the same
//!   rule gives n(r) = E σ(rZ)², m(r) = E Z σ'(rZ) σ(rZ) and the norms of the remainders;
//! - per pair j ≠ k, by Horner in ρ: κ = Σ c_l(r_j) c_l(r_k) ρ^l, ∂_{r_j}κ = Σ d_l(r_j) c_l(r_k) ρ^l,
//!   ∂_ρκ = Σ l c_l(r_j) c_l(r_k) ρ^{l−1}, and ∇_{v_j} K(v_j, v_k) = ∂_rκ v̂_j + (∂_ρκ/r_j)(v̂_k − ρ v̂_j);
//! - the diagonal j = k directly: K(v_j, v_j) = n(r_j), ∇₁K(v, w)|_{w=v} = m(r_j) v̂_j;
//! - the teacher as the node e₁ with the coefficients of g at r = 1.
//!
//! Then, as for erf ([`super::finite`]): R = (1/N²) Σ c_j c_k K_jk − (2/N) Σ c_j K_j* + E g²
//! (E g² = 1/3), V_j = −(1/N) Σ_k c_k ∇₁K_jk + ∇₁K_j*, e_j = (1/N) Σ_k c_k K_jk − K_j*, and the
//! velocities of [`super::finite::first_layer_velocity`] / `second_layer_velocity`.
//!
//! ## Accepted units
//! A spec σ whose derivative σ' is a function ([`crate::activation::Spec::derivative`]; a jump,
//! as in step or sign, is refused: ∂_ρκ at ρ = 1 is then infinite), of at most polynomial
//! growth (every spec of the grammar). Nothing else is required; the truncation estimate below
//! says how well degree K resolves σ at the radii reached. A node with v_j = 0 exactly (never
//! the case for the seeded networks, whose v_j have a density) has no direction: its gradient
//! terms through ρ are then left out (the MPFR oracle refuses such a node).
//!
//! ## Accuracy contract
//! No bound is proven. The truncation of the three series at degree K is estimated, per pair,
//! by the Parseval route (Cauchy–Schwarz): |Σ_{l>K} c_l c'_l ρ^l| ≤ |ρ|^{K+1} √(R_j R_k) with
//! R = n − Σ_{l≤K} c_l² computed by the same rule (likewise R' = E Z²σ'(rZ)² − Σ d_l² for ∂_r
//! and R₁ = r² E σ'(rZ)² − Σ l c_l² for ∂_ρ); these remainders are f64 differences of
//! quadratures, so the sums [`Readout::risk_tail`] and [`Readout::grad_tail`] are
//! **estimates**. The quadrature error of the tables is below 1e−15 relative for σ analytic
//! between kinks (checked against an independent two-dimensional quadrature and the erf closed
//! forms in `tests/deep_unit.rs`). Measured against the MPFR oracle
//! ([`super::oracle_general`]) in the same file.
//!
//! ## Reproducibility
//! Nodes and rows are processed in parallel, each by one thread in a fixed order; cross-row sums
//! are sequential in j: bit-identical for any number of threads.

use super::finite::{first_layer_velocity, readout_b, second_layer_velocity};
use super::Net;
use crate::activation::Spec;
use rayon::prelude::*;

/// Half-width of the integration interval (e^{−Z²/4} = e^{−64}: below the f64 resolution of
/// every h_l φ^{1/2}-weighted integrand of the tables).
const Z_MAX: f64 = 16.0;
/// Largest panel width.
const PANEL: f64 = 0.25;
/// Gauss–Legendre nodes per panel.
const GL: usize = 16;
/// Default truncation degree K.
pub const DEFAULT_DEGREE: usize = 96;
/// Largest accepted degree.
pub const MAX_DEGREE: usize = 400;

/// The default unit of the deep model: g(z) = erf(z/√2), the teacher's unit.
pub const ERF_UNIT: &str = "erf(z/sqrt(2))";

/// Whether `spec` is the default unit g (same expression tree as [`ERF_UNIT`]): then the erf
/// closed forms ([`super::finite`], [`super::fused`]) apply.
pub fn is_default_erf(spec: &Spec) -> bool {
    Spec::parse(ERF_UNIT)
        .map(|g| g.expr == spec.expr)
        .unwrap_or(false)
}

/// A general unit: σ, σ', the kinks, the degree.
#[derive(Clone, Debug)]
pub struct Unit {
    pub spec: Spec,
    pub(super) dspec: Spec,
    /// Kink locations of σ and σ' (z where an affine argument of relu/abs/step/sign vanishes).
    pub(super) kinks: Vec<f64>,
    pub degree: usize,
}

impl Unit {
    /// Checks the spec (σ' must be a function) and the degree (1..=MAX_DEGREE).
    pub fn new(spec: &Spec, degree: usize) -> Result<Unit, String> {
        if !(1..=MAX_DEGREE).contains(&degree) {
            return Err(format!(
                "--unit-degree {degree}: must be in 1..={MAX_DEGREE}"
            ));
        }
        let dspec = spec.derivative().ok_or_else(|| {
            format!(
                "--unit {}: the derivative is not a function (a jump); the deep model needs \
                 sigma' (velocities through the kernel's rho-derivative at rho = 1)",
                spec.source
            )
        })?;
        let mut kinks: Vec<f64> = spec
            .kinks()
            .iter()
            .chain(dspec.kinks().iter())
            .map(|k| k.location(64).to_f64())
            .filter(|z| z.is_finite())
            .collect();
        kinks.sort_by(|a, b| a.total_cmp(b));
        kinks.dedup();
        Ok(Unit {
            spec: spec.clone(),
            dspec,
            kinks,
            degree,
        })
    }
}

/// The per-node table of σ(r·): coefficients, r-derivatives, norms and remainders.
#[derive(Clone, Debug)]
pub struct NodeTable {
    pub r: f64,
    /// c_l(σ_r), l = 0..=K.
    pub c: Vec<f64>,
    /// ∂_r c_l(σ_r) = E Z σ'(rZ) h_l(Z), l = 0..=K.
    pub dc: Vec<f64>,
    /// n(r) = E σ(rZ)².
    pub norm: f64,
    /// m(r) = E Z σ'(rZ) σ(rZ) = n'(r)/2.
    pub m: f64,
    /// Estimated remainders R = n − Σ c_l², R' = E Z²σ'(rZ)² − Σ d_l², R₁ = r²E σ'(rZ)² − Σ l c_l².
    pub rem: f64,
    pub rem_d: f64,
    pub rem_1: f64,
}

/// Nodes and weights (including the Gaussian density) of the composite rule for σ(r·),
/// panels split at the kinks z₀/r.
fn rule(unit: &Unit, r: f64) -> (Vec<f64>, Vec<f64>) {
    let (gx, gw) = crate::meanfield::flow::gauss_legendre(GL);
    let mut breaks = vec![-Z_MAX, Z_MAX];
    if r != 0.0 {
        for &k in &unit.kinks {
            let z = k / r;
            if z > -Z_MAX && z < Z_MAX {
                breaks.push(z);
            }
        }
    }
    breaks.sort_by(|a, b| a.total_cmp(b));
    breaks.dedup();
    let inv_sqrt_2pi = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    let mut x = Vec::new();
    let mut w = Vec::new();
    for seg in breaks.windows(2) {
        let (lo, hi) = (seg[0], seg[1]);
        let panels = (((hi - lo) / PANEL).ceil() as usize).max(1);
        let h = (hi - lo) / panels as f64;
        for p in 0..panels {
            let a = lo + p as f64 * h;
            for (t, wt) in gx.iter().zip(&gw) {
                let z = a + 0.5 * h * (t + 1.0);
                x.push(z);
                w.push(0.5 * h * wt * inv_sqrt_2pi * (-0.5 * z * z).exp());
            }
        }
    }
    (x, w)
}

/// The table of σ(r·) to degree `unit.degree` (see the module documentation).
pub fn node_table(unit: &Unit, r: f64) -> NodeTable {
    let k = unit.degree;
    let (x, w) = rule(unit, r);
    let mut c = vec![0.0; k + 1];
    let mut dc = vec![0.0; k + 1];
    let (mut norm, mut m, mut nd, mut n1) = (0.0, 0.0, 0.0, 0.0);
    let sq: Vec<f64> = (1..=k + 1).map(|l| (l as f64).sqrt()).collect();
    for (&z, &wz) in x.iter().zip(&w) {
        let s = unit.spec.eval_f64(r * z);
        let ds = unit.dspec.eval_f64(r * z);
        let (ws, wd) = (wz * s, wz * z * ds);
        norm += ws * s;
        m += wd * s;
        nd += wd * z * ds;
        n1 += wz * ds * ds;
        // normalised probabilists' Hermite: h_{l+1} = (z h_l − √l h_{l−1})/√(l+1)
        let (mut h0, mut h1) = (0.0, 1.0);
        for l in 0..=k {
            c[l] += ws * h1;
            dc[l] += wd * h1;
            let h2 = (z * h1 - if l == 0 { 0.0 } else { sq[l - 1] } * h0) / sq[l];
            h0 = h1;
            h1 = h2;
        }
    }
    let rem = (norm - c.iter().map(|v| v * v).sum::<f64>()).max(0.0);
    let rem_d = (nd - dc.iter().map(|v| v * v).sum::<f64>()).max(0.0);
    let rem_1 = (r * r * n1
        - c.iter()
            .enumerate()
            .map(|(l, v)| l as f64 * v * v)
            .sum::<f64>())
    .max(0.0);
    NodeTable {
        r,
        c,
        dc,
        norm,
        m,
        rem,
        rem_d,
        rem_1,
    }
}

/// The readout of a general-unit network: as [`super::finite::Readout`], plus the estimated
/// truncation of the series.
pub struct Readout {
    pub risk: f64,
    /// V_j, row-major N × d.
    pub big_v: Vec<f64>,
    pub e: Vec<f64>,
    /// Estimate of |risk − Σ truncated|: (1/N²) Σ |c_j c_k| τ_jk + (2/N) Σ |c_j| τ_j*.
    pub risk_tail: f64,
    /// Per node, the estimated truncation of V_j (Euclidean norm).
    pub grad_tail: Vec<f64>,
    /// Per node, the estimated truncation of e_j.
    pub e_tail: Vec<f64>,
}

/// Σ_l a_l b_l ρ^l, Σ_l da_l b_l ρ^l, Σ_l l a_l b_l ρ^{l−1} (Horner).
#[inline]
fn sums(a: &[f64], da: &[f64], b: &[f64], rho: f64) -> (f64, f64, f64) {
    let k = a.len() - 1;
    let (mut s0, mut sr, mut s1) = (0.0, 0.0, 0.0);
    for l in (0..=k).rev() {
        let p = a[l] * b[l];
        s0 = s0 * rho + p;
        sr = sr * rho + da[l] * b[l];
        if l >= 1 {
            s1 = s1 * rho + l as f64 * p;
        }
    }
    (s0, sr, s1)
}

/// R, V_j, e_j of f = (1/N) Σ_j c_j σ(⟨v_j, x⟩) against the teacher g(x₁).
pub fn readout(unit: &Unit, v: &[f64], c: &[f64], n: usize, d: usize) -> Readout {
    let k = unit.degree;
    let radii: Vec<f64> = v
        .chunks(d)
        .map(|r| r.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    let tables: Vec<NodeTable> = radii.par_iter().map(|&r| node_table(unit, r)).collect();
    let g = Spec::parse(ERF_UNIT).expect("the teacher spec parses");
    let gu = Unit::new(&g, k).expect("the teacher's unit is accepted");
    let teacher = node_table(&gu, 1.0);
    let inv = 1.0 / n as f64;
    let unit_dir = |j: usize| -> Vec<f64> {
        let r = radii[j];
        v[j * d..(j + 1) * d]
            .iter()
            .map(|x| if r > 0.0 { x / r } else { 0.0 })
            .collect()
    };
    // Per row j: (Σ_k c_k K_jk, K_j*, V_j, Σ_k |c_k| τ_jk, τ_j*, grad tail, e tail).
    type Row = (f64, f64, Vec<f64>, f64, f64, f64, f64);
    let rows: Vec<Row> = (0..n)
        .into_par_iter()
        .map(|j| {
            let tj = &tables[j];
            let rj = radii[j];
            let vhj = unit_dir(j);
            let mut acc = vec![0.0; d];
            let mut along = 0.0;
            let (mut rk, mut tail0, mut tailg) = (0.0, 0.0, 0.0);
            for kk in 0..n {
                if kk == j {
                    rk += c[j] * tj.norm;
                    along += c[j] * tj.m;
                    continue;
                }
                let tk = &tables[kk];
                let vk = &v[kk * d..(kk + 1) * d];
                let rkk = radii[kk];
                let dot: f64 = v[j * d..(j + 1) * d]
                    .iter()
                    .zip(vk)
                    .map(|(x, y)| x * y)
                    .sum();
                let rho = if rj > 0.0 && rkk > 0.0 {
                    (dot / (rj * rkk)).clamp(-1.0, 1.0)
                } else {
                    0.0
                };
                let (s0, sr, s1) = sums(&tj.c, &tj.dc, &tk.c, rho);
                rk += c[kk] * s0;
                let q = if rj > 0.0 { s1 / rj } else { 0.0 };
                along += c[kk] * (sr - rho * q);
                if rkk > 0.0 {
                    for (x, &y) in acc.iter_mut().zip(vk) {
                        *x += c[kk] * q * y / rkk;
                    }
                }
                let pa = rho.abs();
                let t0 = pa.powi(k as i32 + 1) * (tj.rem * tk.rem).sqrt();
                let tr = pa.powi(k as i32 + 1) * (tj.rem_d * tk.rem).sqrt();
                let t1 = pa.powi(k as i32) * (tj.rem_1 * tk.rem_1).sqrt();
                let sin = (1.0 - rho * rho).max(0.0).sqrt();
                tail0 += c[kk].abs() * t0;
                tailg += c[kk].abs() * (tr + if rj > 0.0 { t1 * sin / rj } else { 0.0 });
            }
            // V_j = −(1/N) Σ_k c_k ∇₁K_jk + ∇₁K_j*.
            let mut big: Vec<f64> = (0..d).map(|m| -inv * (along * vhj[m] + acc[m])).collect();
            let rho = if rj > 0.0 { v[j * d] / rj } else { 0.0 };
            let rho = rho.clamp(-1.0, 1.0);
            let (kt, sr, s1) = sums(&tj.c, &tj.dc, &teacher.c, rho);
            let q = if rj > 0.0 { s1 / rj } else { 0.0 };
            for m in 0..d {
                big[m] += (sr - rho * q) * vhj[m];
            }
            big[0] += q;
            let pa = rho.abs();
            let t0 = pa.powi(k as i32 + 1) * (tj.rem * teacher.rem).sqrt();
            let tr = pa.powi(k as i32 + 1) * (tj.rem_d * teacher.rem).sqrt();
            let t1 = pa.powi(k as i32) * (tj.rem_1 * teacher.rem_1).sqrt();
            let sin = (1.0 - rho * rho).max(0.0).sqrt();
            let gt = inv * tailg + tr + if rj > 0.0 { t1 * sin / rj } else { 0.0 };
            let et = inv * tail0 + t0;
            (rk, kt, big, tail0, t0, gt, et)
        })
        .collect();
    let (mut quad, mut lin, mut tq, mut tl) = (0.0, 0.0, 0.0, 0.0);
    let mut e = Vec::with_capacity(n);
    let mut big_v = Vec::with_capacity(n * d);
    let mut grad_tail = Vec::with_capacity(n);
    let mut e_tail = Vec::with_capacity(n);
    for (j, (rk, kt, big, t0, ts, gt, et)) in rows.into_iter().enumerate() {
        quad += c[j] * rk;
        lin += c[j] * kt;
        tq += c[j].abs() * t0;
        tl += c[j].abs() * ts;
        e.push(rk * inv - kt);
        big_v.extend(big);
        grad_tail.push(gt);
        e_tail.push(et);
    }
    Readout {
        risk: quad * inv * inv - 2.0 * inv * lin + 1.0 / 3.0,
        big_v,
        e,
        risk_tail: tq * inv * inv + 2.0 * inv * tl,
        grad_tail,
        e_tail,
    }
}

/// Risk, velocities and truncation estimates of a general-unit network.
pub struct Eval {
    pub risk: f64,
    pub vel1: Vec<f64>,
    pub vel2: Vec<f64>,
    /// Estimate of the series truncation in the risk.
    pub risk_tail: f64,
    /// Estimate of the series truncation, max over all velocities.
    pub velocity_tail: f64,
}

/// Risk and all velocities of `net` with unit σ.
pub fn evaluate(unit: &Unit, net: &Net) -> Eval {
    let (n, d) = (net.n, net.d);
    let (v, c) = nodes_and_weights(net);
    let r = readout(unit, &v, &c, n, d);
    let vel1 = first_layer_velocity(net, &c, &r.big_v);
    let vel2 = if net.layers == 3 {
        second_layer_velocity(net.psi, &net.theta2, &net.a, &r.e, n)
    } else {
        Vec::new()
    };
    // |Δ dθ_ij/dt| ≤ 2|c_j| sup ψ' |u_i| |ΔV_j| (sup ψ' = 1 for gd and id);
    // |Δ dθ2_jk/dt| ≤ 2|a_k| sup ψ' |Δe_j|.
    let umax = net
        .u
        .chunks(d)
        .map(|r| r.iter().map(|x| x * x).sum::<f64>().sqrt())
        .fold(0.0, f64::max);
    let mut vt = (0..n)
        .map(|j| 2.0 * c[j].abs() * umax * r.grad_tail[j])
        .fold(0.0, f64::max);
    if net.layers == 3 {
        let amax = net.a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        vt = r.e_tail.iter().fold(vt, |m, &t| m.max(2.0 * amax * t));
    }
    Eval {
        risk: r.risk,
        vel1,
        vel2,
        risk_tail: r.risk_tail,
        velocity_tail: vt,
    }
}

/// Risk only.
pub fn risk(unit: &Unit, net: &Net) -> f64 {
    let (v, c) = nodes_and_weights(net);
    readout(unit, &v, &c, net.n, net.d).risk
}

/// Node vectors v_j and readout weights c (a for L = 2, b for L = 3).
fn nodes_and_weights(net: &Net) -> (Vec<f64>, Vec<f64>) {
    let c = if net.layers == 3 {
        readout_b(net)
    } else {
        net.a.clone()
    };
    (super::finite::node_vectors(net), c)
}
