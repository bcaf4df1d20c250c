//! A-priori bounds on the f64 rounding error of the fast path (proofs-notes/fast-path.md §3–§5).
//!
//! Model: every f64 operation (+, −, ×, fused multiply-add) returns the exact result times
//! (1 + δ), |δ| ≤ u = 2⁻⁵³; γ_n = nu/(1 − nu). A value formed from exact inputs through at most
//! n roundings per term is within γ_n of the sum of its terms' magnitudes, whatever the order of
//! summation (so the bound covers gemm's blocking and FMAs and the naive loops alike).
//!
//! What is bounded: |fast − exact| where "exact" evaluates the same formulas in exact arithmetic
//! on the same f64 inputs (W, a, θ, series coefficients as given; closed-form kernels at the
//! exact overlap clamped to [−1, 1]). The series truncation error is the caller's to add.
//! The bound depends only on the inputs, not on the computed values: it is computed in O(Nd)
//! from magnitude bounds (row norms ρ, column sums A_k = Σ_j |a_j||w_jk|, kernel sup norms) and
//! then inflated by a relative 4γ_{2N+4d+1000} to cover the rounding of this arithmetic itself.

use super::kernel::{gamma, Func};
use super::{moment, resolve, FastError, Funcs, Problem, Quantities, Route};

const U: f64 = f64::EPSILON / 2.0;

/// Per-quantity a-priori error bounds (same shapes as [`super::Evaluation`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorBound {
    /// The route whose rounding is bounded (never `Auto`).
    pub route: Route,
    pub loss: f64,
    /// N×d.
    pub tangent_gradient: Vec<f64>,
    /// N.
    pub radial_gradient: Vec<f64>,
    /// N×d.
    pub velocity: Vec<f64>,
}

/// A magnitude bound and an error bound for one intermediate quantity.
#[derive(Clone, Copy, Debug)]
struct Bounded {
    mag: f64,
    err: f64,
}

/// Bounds on the pair sums of a route: S_ik (per column k, valid for every i) and the row sums of
/// κ and κ_{zσ',σ} (valid for every row).
struct PairBounds {
    s: Vec<Bounded>,
    lsum: Bounded,
    rsum: Bounded,
}

/// The a-priori bound for `evaluate(p, route)` (`Auto` resolves as `evaluate` does).
pub fn error_bound(p: &Problem, route: Route) -> Result<ErrorBound, FastError> {
    p.validate()?;
    let route = resolve(p, route, Quantities::All)?;
    let (n, d) = (p.n, p.d);
    let f = Funcs::new(p);
    let norm =
        |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt() * (1.0 + gamma(d as f64 + 2.0));
    let rho_w = p.w.chunks_exact(d).map(norm).fold(0.0, f64::max);
    let rho_t = norm(p.theta);
    // |computed overlap| ≤ r; |computed − exact| ≤ eps_s (pairs), eps_t (teacher).
    let r = rho_w.max(rho_t) * rho_w * (1.0 + gamma(d as f64));
    let eps_s = gamma(d as f64) * rho_w * rho_w;
    let eps_t = gamma(d as f64) * rho_w * rho_t;
    let up = 1.0 + gamma(n as f64 + 1.0);
    let a_abs = p.a.iter().map(|x| x.abs()).sum::<f64>() * up;
    let mut a_col = vec![0.0; d];
    for (row, aj) in p.w.chunks_exact(d).zip(p.a) {
        for k in 0..d {
            a_col[k] += aj.abs() * row[k].abs();
        }
    }
    a_col.iter_mut().for_each(|x| *x *= up);

    let pairs = match route {
        Route::Moment => moment_pairs(p, rho_w, a_abs, &a_col),
        _ => tiled_pairs(&f, n, r, eps_s, a_abs, &a_col),
    };
    let scale = p.loss_scale.factor();
    let g2 = gamma(2.0);
    let teacher = |g: &Func| Bounded {
        mag: g.sup_abs(r),
        err: g.eval_error(r) + g.modulus(eps_t, r),
    };
    let (psi, dpsi, psir) = (
        teacher(&f.psi),
        teacher(&f.psi_prime),
        teacher(&f.psi_radial),
    );

    // u_k = S_ik − ψ'(t_i) θ_k, valid for every i.
    let u: Vec<Bounded> = (0..d)
        .map(|k| {
            let th = p.theta[k].abs();
            let mag = pairs.s[k].mag + th * dpsi.mag;
            let err = (pairs.s[k].err + th * dpsi.err) * (1.0 + g2) + g2 * mag;
            Bounded { mag, err }
        })
        .collect();

    let mut tangent = vec![0.0; n * d];
    let mut vel = vec![0.0; n * d];
    for (i, w) in p.w.chunks_exact(d).enumerate() {
        // c = ⟨w_i, u⟩ (d products, d − 1 sums), then P u = u − c w_i.
        let c_mag: f64 = (0..d).map(|k| w[k].abs() * u[k].mag).sum();
        let c_err: f64 = (0..d).map(|k| w[k].abs() * u[k].err).sum::<f64>()
            * (1.0 + gamma(d as f64))
            + gamma(d as f64) * c_mag;
        let ga = 2.0 * scale * p.a[i].abs();
        for k in 0..d {
            let mag = u[k].mag + w[k].abs() * c_mag;
            let err = u[k].err + w[k].abs() * c_err;
            let err = err + g2 * (mag + err);
            tangent[i * d + k] = ga * (err * (1.0 + U) + U * mag);
            vel[i * d + k] = 2.0 * scale * err;
        }
    }

    // Radial: 2 scale a_i (rsum_i − κ_{zσ',σ*}(t_i)).
    let diff = sub(pairs.rsum, psir);
    let radial: Vec<f64> =
        p.a.iter()
            .map(|ai| 2.0 * scale * ai.abs() * (diff.err * (1.0 + U) + U * diff.mag))
            .collect();

    // Loss: scale (Σ_i a_i (lsum_i − 2ψ(t_i)) + constant).
    let ld = sub(
        pairs.lsum,
        Bounded {
            mag: 2.0 * psi.mag,
            err: 2.0 * psi.err,
        },
    );
    let (mut e_mag, mut e_err) = (0.0, 0.0);
    for ai in p.a {
        e_mag += ai.abs() * ld.mag;
        e_err += ai.abs() * (ld.err * (1.0 + U) + U * ld.mag);
    }
    let sum_err = e_err + gamma(n as f64) * (e_mag + e_err);
    let loss = scale * (sum_err + U * (e_mag + sum_err + p.constant.abs()));

    let safety = 1.0 + 4.0 * gamma(2.0 * n as f64 + 4.0 * d as f64 + 1000.0);
    let inflate = |v: Vec<f64>| v.into_iter().map(|x| x * safety).collect::<Vec<_>>();
    Ok(ErrorBound {
        route,
        loss: loss * safety,
        tangent_gradient: inflate(tangent),
        radial_gradient: inflate(radial),
        velocity: inflate(vel),
    })
}

/// x − y with one rounding.
fn sub(x: Bounded, y: Bounded) -> Bounded {
    let mag = x.mag + y.mag;
    let err = (x.err + y.err) * (1.0 + U) + U * mag;
    Bounded { mag, err }
}

/// Tiled route: each kernel value within E = eval_error + modulus(eps_s) of the exact one,
/// times a_j (one rounding), N-term sums (γ_N), times w_jk inside the GEMM (one more).
fn tiled_pairs(f: &Funcs, n: usize, r: f64, eps_s: f64, a_abs: f64, a_col: &[f64]) -> PairBounds {
    let kern = |g: &Func| (g.sup_abs(r), g.eval_error(r) + g.modulus(eps_s, r));
    let row_sum = |(fm, fe): (f64, f64), weight: f64, extra: f64| Bounded {
        mag: weight * fm,
        err: weight * (fe + gamma(n as f64 + extra) * (fm + fe)),
    };
    let kp = kern(&f.kappa_prime);
    PairBounds {
        s: a_col.iter().map(|&ak| row_sum(kp, ak, 2.0)).collect(),
        lsum: row_sum(kern(&f.kappa), a_abs, 1.0),
        rsum: row_sum(kern(&f.kappa_radial), a_abs, 1.0),
    }
}

/// Moment route: ∇P_m entry k within γ_h (m+1) ρ^{2m} A_k, P_m within γ_{h+d} ρ^{2m+2} A
/// (Cauchy–Schwarz: ⟨|w_i|, |w_j|⟩ ≤ ρ²), combined with the coefficients p_{m+1}, r_{m+1}
/// (one product each, and a sum over the powers used plus the constant term).
fn moment_pairs(p: &Problem, rho_w: f64, a_abs: f64, a_col: &[f64]) -> PairBounds {
    let (pw, p0, r0) = moment::used_powers(p, Quantities::All).expect("moment route available");
    let (n, d) = (p.n, p.d);
    let terms = pw.len() as f64 + 2.0;
    let rho2 = rho_w * rho_w;
    let (mut s_mag, mut s_err) = (0.0, 0.0);
    let (mut l_mag, mut l_err) = (p0.abs() * a_abs, gamma(n as f64) * p0.abs() * a_abs);
    let (mut r_mag, mut r_err) = (r0.abs() * a_abs, gamma(n as f64) * r0.abs() * a_abs);
    for &(m, pc, rc) in &pw {
        let h = moment::depth(n, d, m);
        let grad = (m as f64 + 1.0) * rho2.powi(m as i32);
        let val = rho2.powi(m as i32 + 1) * a_abs;
        s_mag += pc.abs() * grad;
        s_err += pc.abs() * grad * gamma(h);
        l_mag += pc.abs() * val;
        l_err += pc.abs() * val * gamma(h + d as f64);
        r_mag += rc.abs() * val;
        r_err += rc.abs() * val * gamma(h + d as f64);
    }
    let combine = |mag: f64, err: f64| Bounded {
        mag,
        err: err * (1.0 + gamma(terms)) + gamma(terms) * mag,
    };
    PairBounds {
        s: a_col
            .iter()
            .map(|&ak| combine(s_mag * ak, s_err * ak))
            .collect(),
        lsum: combine(l_mag, l_err),
        rsum: combine(r_mag, r_err),
    }
}
