//! The kernels of the infinite-width limit for a general unit σ (`deep limit --unit SPEC`,
//! `deep train --unit SPEC`): one-dimensional Gaussian integrals along w*.
//!
//! ## Reduction (`proofs-notes/deep-general-unit.md`, "The infinite-width limit")
//! In the limit every node vector is collinear with w* = e₁ (rotation symmetry, for any σ):
//! v̄(a, t) = α(a, t) w* (L = 2), v̄ = α(t) w* (L = 3). The limit network is then a function of
//! x₁ only, f̄(z) = E_a[a σ(α(a) z)] (L = 2) or b σ(α z) (L = 3), and with Z ~ N(0, 1) and the
//! residual r(z) = f̄(z) − g(z), g = erf(·/√2):
//!
//! - R_∞ = E r(Z)²;
//! - V_s(α) = −E[Z σ'(αZ) r(Z)] (the w*-component of V̄ = −E_x[(f̄ − y) σ'(⟨v̄, x⟩) x]);
//! - L = 3: e = E[σ(αZ) r(Z)].
//!
//! These are the formulas of `proofs-notes/deep-meanfield.md` §3 and §7 with the a'-integral
//! taken inside: E_{a'}[a' d1k(α, α(a'))] − d1k_t(α) = E[Z σ'(αZ) r(Z)], so one rule in Z
//! serves every node (cost O(M·Q) per evaluation instead of O(M²·Q)).
//!
//! ## Quadrature
//! Composite Gauss–Legendre in z on [−Z_MAX, Z_MAX] (Gaussian density in the weights), panels
//! of width 1/(2·panels_per_unit) with [`ORDER`] nodes each, breakpoints at 0 and, for a kink
//! z₀ ≠ 0 of σ or σ', at z₀/α for every node α of the evaluation (σ(αz) has its kink at
//! z₀/α): every integrand is analytic on every panel (for σ analytic between its kinks). The
//! node refinement of `deep limit` (`node_diff`) doubles panels_per_unit, so it includes the
//! rule-doubling estimate of this quadrature. Outside [−12, 12] the Gaussian mass is
//! 3.6e−33 times σ's polynomial growth. At α = 0, σ'(αZ) = σ'(0) (relu' = step(0) = 1/2, the
//! mean of the one-sided values; only the node a = 0 and t = 0 see it, and there r = −g is odd,
//! so every one-sided limit gives the same V_s).
//!
//! ## Accuracy contract
//! No bound: the error is **estimated** by rule doubling (folded into `node_diff`). The
//! kernels k(α, β) = E σ(αZ)σ(βZ), ∂_α k, E σ(αZ)g(Z), E Zσ'(αZ)g(Z) computed by this rule
//! are checked against the Hermite series of [`super::general::node_table`] (another rule) and
//! against the relu closed forms in `tests/deep_unit_limit.rs`.
//!
//! ## Reproducibility
//! Per node the sums over z are sequential; the sum over nodes is sequential in the node order:
//! bit-identical for any number of threads.

use super::general::Unit;
use super::limit::Rule;
use crate::activation::{Expr, Func, Parity};
use crate::meanfield::flow::gauss_legendre;
use rayon::prelude::*;

/// Half-width of the z-interval.
pub const Z_MAX: f64 = 12.0;
/// Gauss–Legendre nodes per panel.
pub const ORDER: usize = 12;

/// An activation expression with its constants rounded once (the same f64 values as
/// [`crate::activation::Spec::eval_f64`], which re-rounds every rational literal per call).
#[derive(Clone, Debug)]
enum Op {
    Num(f64),
    Z,
    Neg(Box<Op>),
    Add(Box<Op>, Box<Op>),
    Sub(Box<Op>, Box<Op>),
    Mul(Box<Op>, Box<Op>),
    Div(Box<Op>, Box<Op>),
    Pow(Box<Op>, f64),
    Sqrt(Box<Op>),
    Call(Func, Box<Op>),
}

impl Op {
    fn compile(e: &Expr) -> Op {
        use crate::activation::eval::eval_f64;
        if e.is_const() {
            return Op::Num(eval_f64(e, 0.0));
        }
        let b = |x: &Expr| Box::new(Op::compile(x));
        match e {
            Expr::Num(_) | Expr::Pi => Op::Num(eval_f64(e, 0.0)),
            Expr::Z => Op::Z,
            Expr::Neg(a) => Op::Neg(b(a)),
            Expr::Add(x, y) => Op::Add(b(x), b(y)),
            Expr::Sub(x, y) => Op::Sub(b(x), b(y)),
            Expr::Mul(x, y) => Op::Mul(b(x), b(y)),
            Expr::Div(x, y) => Op::Div(b(x), b(y)),
            Expr::Pow(x, n) => Op::Pow(b(x), *n as f64),
            Expr::Sqrt(x) => Op::Sqrt(b(x)),
            Expr::Call(f, x) => Op::Call(f.clone(), b(x)),
        }
    }

    fn eval(&self, z: f64) -> f64 {
        use crate::activation::eval::call_f64;
        match self {
            Op::Num(x) => *x,
            Op::Z => z,
            Op::Neg(a) => -a.eval(z),
            Op::Add(a, b) => a.eval(z) + b.eval(z),
            Op::Sub(a, b) => a.eval(z) - b.eval(z),
            Op::Mul(a, b) => a.eval(z) * b.eval(z),
            Op::Div(a, b) => a.eval(z) / b.eval(z),
            Op::Pow(a, n) => libm::pow(a.eval(z), *n),
            Op::Sqrt(a) => libm::sqrt(a.eval(z)),
            Op::Call(f, a) => call_f64(f, a.eval(z)),
        }
    }
}

/// σ and σ' of a general unit, compiled, with its kinks and parity.
#[derive(Clone, Debug)]
pub struct LimitUnit {
    sigma: Op,
    dsigma: Op,
    /// Kinks z₀ ≠ 0 of σ and σ' (their place z₀/α moves with α).
    moving: Vec<f64>,
    /// σ is odd, decided from the expression ([`crate::activation::Spec::parity`], conservative):
    /// then α is odd in a and the a-rule of L = 2 may cover [0, √3] only.
    pub odd: bool,
    /// The spec as given.
    pub source: String,
}

/// A rule in z for N(0, 1): nodes, weights (density included), and g(z) at the nodes.
pub struct ZRule {
    pub z: Vec<f64>,
    pub w: Vec<f64>,
    g: Vec<f64>,
}

impl LimitUnit {
    pub fn new(unit: &Unit) -> LimitUnit {
        LimitUnit {
            sigma: Op::compile(&unit.spec.expr),
            dsigma: Op::compile(&unit.dspec.expr),
            moving: unit.kinks.iter().copied().filter(|z| *z != 0.0).collect(),
            odd: unit.spec.parity() == Parity::Odd,
            source: unit.spec.source.clone(),
        }
    }

    /// σ(z).
    pub fn sigma(&self, z: f64) -> f64 {
        self.sigma.eval(z)
    }

    /// σ'(z).
    pub fn dsigma(&self, z: f64) -> f64 {
        self.dsigma.eval(z)
    }

    /// The z-rule with panels of width 1/(2·ppu), split at 0 and at z₀/α for every kink
    /// z₀ ≠ 0 and every α of `alphas`.
    pub fn zrule(&self, ppu: usize, alphas: &[f64]) -> ZRule {
        let panels = (2.0 * Z_MAX * 2.0 * ppu as f64).round() as usize;
        let h = 2.0 * Z_MAX / panels as f64;
        let mut br: Vec<f64> = (0..=panels).map(|k| -Z_MAX + k as f64 * h).collect();
        for &k in &self.moving {
            for &al in alphas {
                if al != 0.0 {
                    let z = k / al;
                    if z > -Z_MAX && z < Z_MAX {
                        br.push(z);
                    }
                }
            }
        }
        br.sort_by(f64::total_cmp);
        br.dedup();
        let (gx, gw) = gauss_legendre(ORDER);
        let inv = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        let mut z = Vec::with_capacity(br.len() * ORDER);
        let mut w = Vec::with_capacity(br.len() * ORDER);
        for p in br.windows(2) {
            let (m, r) = (0.5 * (p[0] + p[1]), 0.5 * (p[1] - p[0]));
            if r <= 0.0 {
                continue;
            }
            for (t, v) in gx.iter().zip(&gw) {
                let x = m + r * t;
                z.push(x);
                w.push(r * v * inv * (-0.5 * x * x).exp());
            }
        }
        let g = z
            .iter()
            .map(|&x| libm::erf(x / std::f64::consts::SQRT_2))
            .collect();
        ZRule { z, w, g }
    }

    /// The residual r(z_q) = f̄(z_q) − g(z_q) of f̄(z) = Σ_j c_j σ(α_j z).
    fn residual(&self, zr: &ZRule, alphas: &[f64], c: &[f64]) -> Vec<f64> {
        let rows: Vec<Vec<f64>> = alphas
            .par_iter()
            .map(|&al| zr.z.iter().map(|&z| self.sigma(al * z)).collect())
            .collect();
        let mut r: Vec<f64> = zr.g.iter().map(|g| -g).collect();
        for (row, cj) in rows.iter().zip(c) {
            for (x, s) in r.iter_mut().zip(row) {
                *x += cj * s;
            }
        }
        r
    }

    /// −E[Z σ'(αZ) r(Z)] for every α of `alphas`.
    fn drift(&self, zr: &ZRule, r: &[f64], alphas: &[f64]) -> Vec<f64> {
        alphas
            .par_iter()
            .map(|&al| {
                let mut s = 0.0;
                for ((w, z), rq) in zr.w.iter().zip(&zr.z).zip(r) {
                    s += w * z * self.dsigma(al * z) * rq;
                }
                -s
            })
            .collect()
    }

    /// L = 2: V_s at every entry of `alpha` (the first `grid.x.len()` entries are α at the
    /// a-nodes of `grid`, whose weights and nodes give f̄) and R_∞, with the z-rule of
    /// resolution `ppu`.
    pub fn velocity_and_risk(&self, alpha: &[f64], grid: &Rule, ppu: usize) -> (Vec<f64>, f64) {
        let m = grid.x.len();
        let zr = self.zrule(ppu, alpha);
        let c: Vec<f64> = grid.w.iter().zip(&grid.x).map(|(w, a)| w * a).collect();
        let r = self.residual(&zr, &alpha[..m], &c);
        let risk = zr.w.iter().zip(&r).map(|(w, x)| w * x * x).sum();
        (self.drift(&zr, &r, alpha), risk)
    }

    /// L = 3: the drive (dΓ1/dt, dΩ/dt) = (2b V_s, −2e) and R_∞ at (α, b).
    pub fn drive3(&self, al: f64, b: f64, ppu: usize) -> ([f64; 2], f64) {
        let zr = self.zrule(ppu, &[al]);
        let r = self.residual(&zr, &[al], &[b]);
        let risk = zr.w.iter().zip(&r).map(|(w, x)| w * x * x).sum();
        let vs = self.drift(&zr, &r, &[al])[0];
        let e: f64 = (0..zr.z.len())
            .map(|q| zr.w[q] * self.sigma(al * zr.z[q]) * r[q])
            .sum();
        ([2.0 * b * vs, -2.0 * e], risk)
    }

    /// The four kernels at (α, β) by the z-rule: k(α, β) = E σ(αZ)σ(βZ),
    /// d1k(α, β) = E Zσ'(αZ)σ(βZ), k_t(α) = E σ(αZ)g(Z), d1k_t(α) = E Zσ'(αZ)g(Z).
    pub fn kernels(&self, al: f64, be: f64, ppu: usize) -> [f64; 4] {
        let zr = self.zrule(ppu, &[al, be]);
        let mut out = [0.0; 4];
        for q in 0..zr.z.len() {
            let (z, w) = (zr.z[q], zr.w[q]);
            let (sa, sb, da) = (self.sigma(al * z), self.sigma(be * z), self.dsigma(al * z));
            out[0] += w * sa * sb;
            out[1] += w * z * da * sb;
            out[2] += w * sa * zr.g[q];
            out[3] += w * z * da * zr.g[q];
        }
        out
    }
}

/// The a-rule of the L = 2 limit for `unit` with `m` Gauss–Legendre nodes per half: [0, √3]
/// only (weights summing to 1) when σ is odd (erf, or `unit.odd`), else both halves
/// [−√3, 0] and [0, √3] (weights summing to 1; the split at a = 0 keeps the rule exact for
/// integrands that jump there, e.g. V_s for relu, which depends on the sign of α).
pub fn a_grid(odd: bool, m: usize) -> Rule {
    let half = super::limit::a_rule(m);
    if odd {
        return half;
    }
    let mut x: Vec<f64> = half.x.iter().rev().map(|a| -a).collect();
    x.extend(&half.x);
    let mut w: Vec<f64> = half.w.iter().rev().map(|v| 0.5 * v).collect();
    w.extend(half.w.iter().map(|v| 0.5 * v));
    Rule { x, w }
}
