//! Enclosure route for Hermite coefficients: c_k = ∫ f φ h_k with a PROVEN error bound.
//!
//! Accuracy contract: for every k the returned interval value ± abs_error_bound contains the
//! exact c_k (bound kind `enclosure`). The bound is the sum of
//! - the width of an interval evaluation of the rule (every rounding outward, `interval`);
//! - the rule's discretisation error, bounded by a theorem for analytic integrands:
//!   no kink: the trapezoidal rule on R with step h, error ≤ 2M/(e^{2πa/h} − 1)
//!   (Trefethen–Weideman 2014, Thm 5.1) for g = f φ h_k analytic in |Im z| < a with
//!   ∫|g(x+ib)|dx ≤ M; pieces between kinks: composite Clenshaw–Curtis panels, error
//!   ≤ ℓ·2M(2 + W)ρ^{−N}/(ρ − 1) for g analytic and |g| ≤ M in the Bernstein ellipse E_ρ of
//!   the panel (from |a_j| ≤ 2Mρ^{−j}, the exactness of the rule on degree ≤ N and
//!   W = Σ|w_j|, computed);
//! - the Gaussian tails beyond ±X, bounded in closed form from the strip growth of f and
//!   Cramér's inequality |h_k(x)| ≤ 1.0865 e^{x²/4}.
//!
//! M comes from `strip::strip_growth` (|f| on the strip, proved per function) and Mehler's
//! bound of |h_k| off the axis (`strip::mehler_factor`). Specs outside these rules (log1p or
//! sqrt of a non-constant, non-affine arguments, divisions by non-constants) return `None`
//! and keep the estimate route. Coefficients zero or polynomial by (shifted) parity are
//! exact. Proofs-note: `proofs-notes/coefficient-enclosures.md`. Tests:
//! `tests/coeff_enclosures.rs`.

pub use crate::interval;
pub mod strip;

use super::exact::Surd;
use super::{digits_to_bits, BoundKind, CoeffError, Coefficient, CoefficientTable, Routes};
use crate::activation::Spec;
use crate::interval::Interval as Iv;
use rug::Float;
use std::collections::HashMap;
use strip::{dn, eval_iv, mehler_factor, specialize, strip_growth, up, Consts, Growth, BP};

/// Candidate strip half-widths.
const STRIP_CANDIDATES: [f64; 8] = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0];
/// 1.0865/√(2π) rounded up: |φ(x) h_k(x)| ≤ TAIL_C·e^{−x²/4} (Cramér).
const TAIL_C: f64 = 0.4335;
/// 1/√(2π) rounded up.
const INV_SQRT_2PI_UP: f64 = 0.39895;

/// Enclosures c_0..c_K of `spec` (see the module doc), or `Ok(None)` when the spec is
/// outside the theorem's hypotheses (or exact by the default route: a polynomial, or closed
/// terms with exact tables such as exp(−z²)).
pub fn enclosure_table(
    spec: &Spec,
    degree: usize,
    digits: u32,
) -> Result<Option<CoefficientTable>, CoeffError> {
    if digits == 0 || digits > super::MAX_DIGITS {
        return Err(CoeffError::Digits(digits));
    }
    if degree > super::MAX_QUAD_DEGREE {
        return Err(CoeffError::Degree(degree, super::MAX_QUAD_DEGREE));
    }
    let dec = super::closed::decompose(&spec.expr);
    // exact tables (polynomials; closed terms with exact tables, e.g. exp(−z²)) are left to
    // the default route, which gives them exactly
    if dec.residual.is_none()
        && (dec.closed.is_empty()
            || super::closed::closed_exact_coefficients(&dec.closed, degree).is_some())
    {
        return Ok(None);
    }
    let exact = super::quad::parity_exact(&spec.expr, degree);
    let wanted: Vec<bool> = exact.iter().map(|e| e.is_none()).collect();
    let target = digits_to_bits(digits) + 1;
    let mut eps = Float::with_val(BP, 1) >> (target + 4);
    let mut guard = 64u32;
    let mut result = None;
    for _round in 0..5 {
        let eps_bits = (-eps.clone().log2().to_f64()).ceil().max(1.0) as u32;
        let prec = eps_bits + guard + degree as u32 / 2;
        let Some(sums) = enclose(spec, degree, &wanted, &eps, prec) else {
            return Ok(None);
        };
        // next eps: the smallest |c_k|·2^{−target−3} over the unresolved k
        let mut next = eps.clone();
        let mut all = true;
        let mut rounding_dominates = false;
        for k in 0..=degree {
            if !wanted[k] {
                continue;
            }
            let (v, b, rad) = &sums[k];
            let tol = Float::with_val(BP, v.abs_ref()) >> target;
            if v.is_zero() || *b > tol {
                all = false;
                let mag = Float::with_val(BP, v.abs_ref());
                let need = if mag > Float::with_val(BP, b * 2u32) {
                    mag >> (target + 3)
                } else {
                    Float::with_val(BP, &eps >> (target / 2 + 8))
                };
                if need < next {
                    next = need;
                }
                if *rad > Float::with_val(BP, &eps >> 2) {
                    rounding_dominates = true;
                }
            }
        }
        result = Some(sums);
        if all {
            break;
        }
        if rounding_dominates {
            guard += 64;
        }
        eps = next;
    }
    let sums = result.expect("at least one round");
    let coefficients = (0..=degree)
        .map(|k| match &exact[k] {
            Some(c) => exact_coefficient(k, c, digits),
            None => {
                let (value, bound, _) = sums[k].clone();
                let tol = Float::with_val(BP, value.abs_ref()) >> target;
                Coefficient {
                    k,
                    resolved: !value.is_zero() && bound <= tol,
                    value,
                    abs_error_bound: bound,
                    exact: None,
                    exact_zero: false,
                    bound_kind: BoundKind::Enclosure,
                }
            }
        })
        .collect();
    Ok(Some(CoefficientTable {
        spec: spec.source.clone(),
        degree,
        digits,
        coefficients,
        routes: Routes {
            exact: exact
                .iter()
                .any(|e| e.as_ref().is_some_and(|s| !s.is_zero())),
            closed_form: false,
            quadrature: true,
        },
    }))
}

/// A coefficient known exactly (by parity), as the default route reports it.
fn exact_coefficient(k: usize, c: &Surd, digits: u32) -> Coefficient {
    let prec = digits_to_bits(digits) + 128;
    let value = c.to_float(prec);
    let bound = Float::with_val(53, value.abs_ref()) >> (prec - 1);
    Coefficient {
        k,
        exact_zero: c.is_zero(),
        value,
        abs_error_bound: bound,
        exact: Some(c.clone()),
        resolved: true,
        bound_kind: BoundKind::Exact,
    }
}

/// (value, total bound, interval radius) per k at absolute target `eps`, or `None` when the
/// spec is outside the rules.
fn enclose(
    spec: &Spec,
    degree: usize,
    wanted: &[bool],
    eps: &Float,
    prec: u32,
) -> Option<Vec<(Float, Float, Float)>> {
    let c = Consts::new(prec);
    let mut kinks: Vec<Iv> = Vec::new();
    for k in spec.kinks() {
        let a = eval_iv(&k.a, &Iv::from_u64(prec, 0), &c)?;
        let b = eval_iv(&k.b, &Iv::from_u64(prec, 0), &c)?;
        kinks.push(b.div(&a)?.neg());
    }
    kinks.sort_by(|x, y| x.lo.partial_cmp(&y.lo).expect("finite"));
    // the same location written twice (relu(z) and abs(2*z)) is one kink
    kinks.dedup_by(|x, y| x.lo == y.lo && x.hi == y.hi);
    let mut acc = vec![Iv::from_u64(prec, 0); degree + 1];
    let mut err = vec![Float::new(BP); degree + 1];
    if kinks.is_empty() {
        line(&spec.expr, degree, wanted, eps, &c, &mut acc, &mut err)?;
    } else {
        pieces(
            &spec.expr, &kinks, degree, wanted, eps, &c, &mut acc, &mut err,
        )?;
    }
    Some(
        (0..=degree)
            .map(|k| {
                let v = acc[k].mul(&strip::inv_sqrt_factorial(prec, k));
                let (mid, rad) = v.mid_rad();
                let rad = up(&rad);
                (mid, up(&rad + &err[k]), rad)
            })
            .collect(),
    )
}

/// One side's tail ∫_Y^∞ ψ, ψ(x) = TAIL_C·G(x)·e^{−x²/4}, bounded by
/// TAIL_C·G(Y)·(4/Y)·e^{−Y²/4} for Y ≥ max(4(m+B), 1); returns (Y, bound) with
/// bound ≤ goal.
fn tail_cut(g: &Growth, goal: &Float) -> (Float, Float) {
    let start = up(up(&g.rate + g.m) * 4u32);
    let mut y = if start < 1 {
        Float::with_val(BP, 1)
    } else {
        Float::with_val(BP, start.ceil_ref())
    };
    loop {
        let gauss = up(up(-dn(up(y.square_ref()) / 4u32)).exp_ref());
        let t = up(up(up(up(g.at(&y) * TAIL_C) * 4u32) / &y) * &gauss);
        if t <= *goal || y > 1.0e4 {
            return (y, t);
        }
        y += 0.5;
    }
}

/// Accumulates Σ v·He_k(x) for an interval node x (general recurrence).
fn accumulate(x: &Iv, v: &Iv, degree: usize, wanted: &[bool], acc: &mut [Iv]) {
    let p = x.prec();
    let mut h0 = Iv::from_u64(p, 1);
    let mut h1 = x.clone();
    for k in 0..=degree {
        let hk = match k {
            0 => h0.clone(),
            1 => h1.clone(),
            _ => {
                let h2 = x.mul(&h1).sub(&h0.mul_u64(k as u64 - 1));
                h0 = std::mem::replace(&mut h1, h2);
                h1.clone()
            }
        };
        if wanted[k] {
            acc[k].add_assign(&v.mul(&hk));
        }
    }
}

/// The trapezoidal rule on R (no kinks).
fn line(
    e: &crate::activation::Expr,
    degree: usize,
    wanted: &[bool],
    eps: &Float,
    c: &Consts,
    acc: &mut [Iv],
    err: &mut [Float],
) -> Option<()> {
    let branch = specialize(e, &Float::with_val(c.prec, 0.5), c.prec)?;
    // choose the strip half-width a with the largest admissible step h
    let mut best: Option<(f64, Float, Growth)> = None;
    for a in STRIP_CANDIDATES {
        let af = Float::with_val(BP, a);
        let Some(g) = strip_growth(&branch, &af) else {
            continue;
        };
        let m = max_m(&g, &af, degree, wanted);
        let h = 2.0 * std::f64::consts::PI * a / (4.0 * m.to_f64() / eps.to_f64() + 1.0).ln();
        if best.as_ref().map_or(true, |b| h > b.0) {
            best = Some((h, af, g));
        }
    }
    let (h, a, g) = best?;
    // h rounded down to 20 bits: nodes j·h are exact
    let h = Float::with_val(20, Float::with_val_round(20, h, rug::float::Round::Down).0);
    let (y, tail) = tail_cut(&g, &Float::with_val(BP, eps >> 3));
    let x_max = up(&y + &h);
    let jmax = Float::with_val(BP, &x_max / &h).floor().to_f64() as u64;
    // disc_k = 2 M_k / (e^{2πa/h} − 1)
    let q = dn(dn(dn(dn(rug::float::Constant::Pi) * 2u32) * &a) / &h);
    let denom = dn(dn(q.exp_ref()) - 1u32);
    for k in 0..=degree {
        if wanted[k] {
            let mk = m_line(&g, &a, k);
            err[k] = up(up(up(mk * 2u32) / &denom) + up(&tail * 2u32));
        }
    }
    let p = c.prec;
    let hi = Iv::point(p, &Float::with_val(p, &h));
    for j in 0..=jmax {
        let x = Float::with_val(p, &h * j);
        let xp = Iv::point(p, &x);
        let phi = xp.pow(2).shr(1).neg().exp().mul(&c.inv_sqrt_2pi);
        let vp = eval_iv(&branch, &xp, c)?.mul(&phi).mul(&hi);
        if j == 0 {
            accumulate(&xp, &vp, degree, wanted, acc);
            continue;
        }
        let xm = xp.neg();
        let vm = eval_iv(&branch, &xm, c)?.mul(&phi).mul(&hi);
        let even = vp.add(&vm);
        let odd = vp.sub(&vm);
        accumulate_pair(&x, &even, &odd, degree, wanted, acc);
    }
    Some(())
}

/// Σ over the pair ±x: even k get `even`·He_k(x), odd k get `odd`·He_k(x) (point x).
fn accumulate_pair(x: &Float, even: &Iv, odd: &Iv, degree: usize, wanted: &[bool], acc: &mut [Iv]) {
    let p = even.prec();
    let mut h0 = Iv::from_u64(p, 1);
    let mut h1 = Iv::point(p, x);
    for k in 0..=degree {
        let hk = match k {
            0 => h0.clone(),
            1 => h1.clone(),
            _ => {
                let h2 = h1.mul_point(x).sub(&h0.mul_u64(k as u64 - 1));
                h0 = std::mem::replace(&mut h1, h2);
                h1.clone()
            }
        };
        if wanted[k] {
            let w = if k % 2 == 0 { even } else { odd };
            acc[k].add_assign(&w.mul(&hk));
        }
    }
}

/// M_k ≥ sup_{|b|<a} ∫|f φ h_k|(x+ib) dx ≤ 2·G(4(m+B))·e^{a²/2}·E_k(a) (proofs-note §3).
fn m_line(g: &Growth, a: &Float, k: usize) -> Float {
    let xs = up(up(&g.rate + g.m) * 4u32);
    let ea = up(up(up(a.square_ref()) / 2u32).exp_ref());
    up(up(up(g.at(&xs) * 2u32) * &ea) * mehler_factor(k, a))
}

fn max_m(g: &Growth, a: &Float, degree: usize, wanted: &[bool]) -> Float {
    let mut m = Float::new(BP);
    for k in 0..=degree {
        if wanted[k] {
            let mk = m_line(g, a, k);
            if mk > m {
                m = mk;
            }
        }
    }
    m
}

/// Clenshaw–Curtis rule with N+1 points on [−1, 1] (N even): nodes, weights, W ≥ Σ|w_j|.
struct Cc {
    nodes: Vec<Iv>,
    weights: Vec<Iv>,
    wsum: Float,
}

fn cc_rule(n: usize, c: &Consts) -> Cc {
    let p = c.prec;
    // T[i] = cos(iπ/N), i < 2N
    let table: Vec<Iv> = (0..2 * n)
        .map(|i| {
            c.pi.mul_u64(i as u64)
                .div(&Iv::from_u64(p, n as u64))
                .unwrap()
                .cos()
        })
        .collect();
    let nodes: Vec<Iv> = (0..=n).map(|j| table[j].clone()).collect();
    let mut weights = Vec::with_capacity(n + 1);
    let mut wsum = Float::new(BP);
    for j in 0..=n {
        let mut s = Iv::from_u64(p, 1);
        for m in 1..=n / 2 {
            let b = if m == n / 2 { 1 } else { 2 };
            let d = Iv::from_u64(p, (4 * m * m - 1) as u64);
            let term = table[(2 * m * j) % (2 * n)].mul_u64(b).div(&d).unwrap();
            s = s.sub(&term);
        }
        let cj = if j == 0 || j == n { 1 } else { 2 };
        let w = s.mul_u64(cj).div(&Iv::from_u64(p, n as u64)).unwrap();
        wsum = up(&wsum + up(w.mag()));
        weights.push(w);
    }
    Cc {
        nodes,
        weights,
        wsum,
    }
}

/// Composite Clenshaw–Curtis on each piece between kinks.
#[allow(clippy::too_many_arguments)]
fn pieces(
    e: &crate::activation::Expr,
    kinks: &[Iv],
    degree: usize,
    wanted: &[bool],
    eps: &Float,
    c: &Consts,
    acc: &mut [Iv],
    err: &mut [Float],
) -> Option<()> {
    let p = c.prec;
    let mids: Vec<Float> = kinks.iter().map(|k| k.mid_rad().0).collect();
    let npieces = mids.len() + 1;
    let rho = Float::with_val(BP, 4.236f64); // ≤ 2 + √5
    let rho_m1 = Float::with_val(BP, 3.236f64); // ≤ ρ − 1
    let sqrt5 = up(2.2361f64);
    let mut rules: HashMap<usize, Cc> = HashMap::new();
    let mut branches = Vec::new();
    for i in 0..npieces {
        let lo = if i == 0 {
            None
        } else {
            Some(mids[i - 1].clone())
        };
        let hi = mids.get(i).cloned();
        let sample = match (&lo, &hi) {
            (None, Some(h)) => Float::with_val(p, h - 1u32),
            (Some(l), None) => Float::with_val(p, l + 1u32),
            (Some(l), Some(h)) => Float::with_val(p, l + h) / 2u32,
            (None, None) => unreachable!(),
        };
        let branch = specialize(e, &sample, p)?;
        // strip: the largest candidate the branch admits, at most 1.5
        let mut choice = None;
        for a in STRIP_CANDIDATES {
            if a > 1.5 {
                break;
            }
            let af = Float::with_val(BP, a);
            if let Some(g) = strip_growth(&branch, &af) {
                choice = Some((af, g));
            }
        }
        let (a, g) = choice?;
        branches.push((lo, hi, branch, a, g));
    }
    // the kinks are replaced by the midpoints of their intervals: each adds
    // rad·(|g_left| + |g_right|) ≤ rad·TAIL_C·(G_l + G_r)(|k| + rad) (Cramér, e^{−x²/4} ≤ 1)
    for (i, k) in kinks.iter().enumerate() {
        let (_, rad) = k.mid_rad();
        let at = up(up(k.mag()) + &rad);
        let gl = branches[i].4.at(&at);
        let gr = branches[i + 1].4.at(&at);
        let e_k = up(up(up(gl + gr) * TAIL_C) * up(&rad));
        for x in err.iter_mut() {
            *x = up(&*x + &e_k);
        }
    }
    for (lo, hi, branch, a, g) in &branches {
        let (y, tail) = tail_cut(g, &Float::with_val(BP, eps >> (4 + npieces as u32)));
        let left = match lo {
            Some(l) if *l > Float::with_val(BP, -&y) => l.clone(),
            _ => Float::with_val(p, -&y),
        };
        let right = match hi {
            Some(h) if *h < y => h.clone(),
            _ => Float::with_val(p, &y),
        };
        // the parts of the piece beyond −Y and beyond Y are each bounded by one tail
        let neg_y = Float::with_val(BP, -&y);
        let cut_left = lo.as_ref().map_or(true, |l| *l < neg_y);
        let cut_right = hi.as_ref().map_or(true, |h| *h > y);
        let tails = cut_left as u32 + cut_right as u32;
        let tail_total = up(&tail * tails);
        for (k, x) in err.iter_mut().enumerate() {
            if wanted[k] {
                *x = up(&*x + &tail_total);
            }
        }
        if left >= right {
            continue;
        }
        let len = Float::with_val(p, &right - &left);
        let npanels = Float::with_val(BP, &len / a).ceil().to_f64().max(1.0) as u64;
        let ell = Iv::point(p, &right)
            .sub(&Iv::point(p, &left))
            .div(&Iv::from_u64(p, 2 * npanels))?;
        let ell_up = up(&ell.hi);
        let panel_goal = Float::with_val(BP, eps >> (3 + npieces as u32)) / npanels;
        for i in 0..npanels {
            let u = Iv::point(p, &left).add(&ell.mul_u64(2 * i + 1));
            // the ellipse of the panel: |Im z| ≤ 2ℓ ≤ a, Re z ∈ u ± √5 ℓ
            let reach = up(&sqrt5 * &ell_up);
            let ulo = dn(&u.lo - &reach);
            let uhi = up(&u.hi + &reach);
            let dmax = if up(ulo.abs_ref()) > up(uhi.abs_ref()) {
                up(ulo.abs_ref())
            } else {
                up(uhi.abs_ref())
            };
            let dmin = if ulo <= 0 && uhi >= 0 {
                Float::new(BP)
            } else if ulo > 0 {
                ulo.clone()
            } else {
                dn(-&uhi)
            };
            let gauss = up(up(-dn(dn(dmin.square_ref()) / 4u32)).exp_ref());
            let ea = up(up(up(a.square_ref()) / 2u32).exp_ref());
            let base = up(up(up(g.at(&dmax) * INV_SQRT_2PI_UP) * &gauss) * &ea);
            let mks: Vec<Float> = (0..=degree)
                .map(|k| up(&base * mehler_factor(k, a)))
                .collect();
            let mmax = mks
                .iter()
                .fold(Float::new(BP), |m, x| if *x > m { x.clone() } else { m });
            // N: ℓ·2M·4·ρ^{−N}/(ρ−1) ≤ panel_goal
            let need = up(up(up(up(&ell_up * &mmax) * 8u32) / &rho_m1) / &panel_goal);
            let mut n = if need <= 1 {
                4
            } else {
                (need.log2().to_f64() / rho.clone().log2().to_f64()).ceil() as usize + 1
            };
            n = (n.max(4) + 1) & !1;
            let rule = rules.entry(n).or_insert_with(|| cc_rule(n, c));
            let rho_n = dn(rug::ops::Pow::pow(&rho, n as u32));
            for (k, x) in err.iter_mut().enumerate() {
                if wanted[k] {
                    let e_k = up(up(up(up(&ell_up * &mks[k]) * 2u32) * up(&rule.wsum + 2u32))
                        / dn(&rho_m1 * &rho_n));
                    *x = up(&*x + &e_k);
                }
            }
            for (xj, wj) in rule.nodes.iter().zip(&rule.weights) {
                let x = u.add(&ell.mul(xj));
                let phi = x.pow(2).shr(1).neg().exp().mul(&c.inv_sqrt_2pi);
                let v = eval_iv(branch, &x, c)?.mul(&phi).mul(&wj.mul(&ell));
                accumulate(&x, &v, degree, wanted, acc);
            }
        }
    }
    Some(())
}
