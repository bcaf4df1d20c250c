//! Hermite coefficients c_k(σ) = E[σ(Z) h_k(Z)], Z ~ N(0,1), h_k = He_k/√(k!).
//!
//! The engine is chosen per term. A spec is split (`closed::decompose`) into
//! - an exact polynomial part: c_k exact in Q(√2, √3, …) (`exact`), error bound 0;
//! - closed-form terms (polynomial × relu/abs/step/sign/erf/sin/cos of an affine argument,
//!   × exp of a quadratic): MPFR evaluation of the formulas of `proofs-notes/closed-forms.md`,
//!   with a Ziv loop on the precision (`closed`);
//! - a residual (everything else): quadrature split at the kinks (`quad`).
//!
//! Accuracy contract: for every k, `abs_error_bound` is meant to be ≥ |value − c_k| (exact
//! parts contribute 0, closed forms and quadrature their a-posteriori bounds of two
//! evaluations at different precisions/levels, plus the rounding of the sum): proven for
//! `exact` parts, an `estimate` for the others (see `BoundKind`), and a coefficient is `resolved` when the bound is at most half a unit
//! of its `digits`-th significant digit, so that the printed decimal carries `digits`
//! correct significant digits. A coefficient is `exact_zero` only for structural reasons
//! (exact arithmetic, parity, closed-form structure); a small number is never called zero.
//! When the limits of the Ziv loop are reached a coefficient is reported as unresolved,
//! never printed with unsure digits.
//!
//! Bound kinds: exact values are `exact`; this default route's closed-form and quadrature
//! bounds are `estimate`s (a-posteriori). `enclose::enclosure_table` is the proven route
//! (`enclosure`) for the specs its theorem covers.
//!
//! `bigfloat` is an independent second implementation of the quadrature route, used by the
//! tests to cross-check this one.

pub mod bigfloat;
pub mod closed;
pub mod enclose;
pub mod exact;
pub mod quad;

use crate::activation::Spec;
use exact::Surd;
use rug::Float;

/// Largest degree served by the quadrature route.
pub const MAX_QUAD_DEGREE: usize = 400;
/// Largest degree served by the exact and closed-form routes.
pub const MAX_DEGREE: usize = 2000;
/// Largest number of significant digits.
pub const MAX_DIGITS: u32 = 1000;

/// Which engines contributed to a coefficient table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routes {
    pub exact: bool,
    pub closed_form: bool,
    pub quadrature: bool,
}

impl Routes {
    /// "exact", "closed-form", "quadrature", or a '+'-joined mix.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.exact {
            parts.push("exact");
        }
        if self.closed_form {
            parts.push("closed-form");
        }
        if self.quadrature {
            parts.push("quadrature");
        }
        if parts.is_empty() {
            "exact".to_string() // the zero function
        } else {
            parts.join("+")
        }
    }
}

/// What a coefficient's bound is (the crate's three kinds, [`crate::conventions::BoundKind`]).
pub use crate::conventions::BoundKind;

/// One coefficient with its error bound.
#[derive(Clone, Debug)]
pub struct Coefficient {
    pub k: usize,
    pub value: Float,
    pub abs_error_bound: Float,
    /// The exact value, when every contributing part is exact (includes exact zeros).
    pub exact: Option<Surd>,
    /// Zero for a structural reason (exact arithmetic, parity, closed-form structure).
    pub exact_zero: bool,
    /// The bound certifies `digits` significant digits (always true for exact values).
    pub resolved: bool,
    /// What `abs_error_bound` is.
    pub bound_kind: BoundKind,
}

/// A table c_0..c_K of one spec.
#[derive(Clone, Debug)]
pub struct CoefficientTable {
    pub spec: String,
    pub degree: usize,
    pub digits: u32,
    pub coefficients: Vec<Coefficient>,
    pub routes: Routes,
}

/// Errors of the coefficient engines (all are usage errors: bad degree or digits).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CoeffError {
    #[error("--degree {0} is out of range (0..={1} for this spec's route)")]
    Degree(usize, usize),
    #[error("--digits {0} is out of range (1..={MAX_DIGITS})")]
    Digits(u32),
    #[error("quadrature failed: {0}")]
    Quadrature(String),
}

/// Bits needed for `digits` significant decimal digits.
pub fn digits_to_bits(digits: u32) -> u32 {
    (digits as f64 * std::f64::consts::LOG2_10).ceil() as u32
}

/// Closed-form part at `digits` digits: evaluate at p and p + 64 bits, raise p until the
/// difference certifies the digits (relative to each coefficient, or to `scale` for the
/// coefficients that cancel to nothing). Returns (values, bounds, resolved).
fn closed_part(
    terms: &[closed::ClosedTerm],
    degree: usize,
    digits: u32,
) -> (Vec<Float>, Vec<Float>, Vec<bool>) {
    let target = digits_to_bits(digits) + 4;
    let zeros = closed::closed_exact_zeros(terms, degree);
    let mut prec = target + 64;
    loop {
        let a = closed::closed_coefficients(terms, degree, prec);
        let b = closed::closed_coefficients(terms, degree, prec + 64);
        let mut bounds = Vec::with_capacity(degree + 1);
        let mut resolved = Vec::with_capacity(degree + 1);
        for k in 0..=degree {
            if zeros[k] {
                bounds.push(Float::new(53));
                resolved.push(true);
                continue;
            }
            // |b − c| ≪ |a − c| (64 more bits), so |a − b| (rounded up) bounds b's error;
            // one ulp of b at prec+64 is added for the final rounding.
            let diff = Float::with_val(53, &a[k] - &b[k]).abs();
            let ulp = Float::with_val(53, b[k].abs_ref()) >> (prec + 63);
            let bound = diff + ulp;
            let tol = Float::with_val(53, b[k].abs_ref()) >> target;
            resolved.push(!b[k].is_zero() && bound <= tol);
            bounds.push(bound);
        }
        if resolved.iter().all(|r| *r) || prec > 8 * target + 4096 {
            let values = b
                .into_iter()
                .enumerate()
                .map(|(k, v)| if zeros[k] { Float::new(prec + 64) } else { v })
                .collect();
            return (values, bounds, resolved);
        }
        prec *= 2;
    }
}

/// c_0..c_K of `spec` to `digits` significant digits, each with its error bound.
pub fn hermite_coefficients(
    spec: &Spec,
    degree: usize,
    digits: u32,
) -> Result<CoefficientTable, CoeffError> {
    if digits == 0 || digits > MAX_DIGITS {
        return Err(CoeffError::Digits(digits));
    }
    let dec = closed::decompose(&spec.expr);
    let max_degree = if dec.residual.is_some() {
        MAX_QUAD_DEGREE
    } else {
        MAX_DEGREE
    };
    if degree > max_degree {
        return Err(CoeffError::Degree(degree, max_degree));
    }
    // Closed terms whose tables are exact (exp(c z²) with rational c times an exact
    // polynomial, or polynomials) join the exact part, so that cancellations between them
    // (c_0 = c_2 = 0 for 5(z²e^{−z²} − √3/9)) are exact zeros, not small numbers.
    let closed_exact = closed::closed_exact_coefficients(&dec.closed, degree);
    let routes = Routes {
        exact: dec.exact_polynomial.iter().any(|c| !c.is_zero())
            || closed_exact.is_some() && !dec.closed.is_empty(),
        closed_form: !dec.closed.is_empty() && closed_exact.is_none(),
        quadrature: dec.residual.is_some(),
    };
    // Parts are computed to a few more digits than asked, so that their sum still carries
    // `digits` digits unless the parts cancel; cancellation is caught below and the parts
    // are recomputed with the missing digits added.
    let mut extra = 6u32;
    loop {
        let part_digits = digits + extra;
        let mut exact = exact::exact_coefficients(&dec.exact_polynomial, degree);
        if let Some(ce) = &closed_exact {
            exact = exact.iter().zip(ce).map(|(a, b)| a + b).collect();
        }
        let prec = digits_to_bits(part_digits) + 64;
        let closed = if routes.closed_form {
            // (closed terms without an exact table)
            Some(closed_part(&dec.closed, degree, part_digits))
        } else {
            None
        };
        let quad = match &dec.residual {
            Some(r) => Some(
                quad::quadrature_table(r, degree, part_digits).map_err(CoeffError::Quadrature)?,
            ),
            None => None,
        };
        let target = digits_to_bits(digits) + 1;
        let mut coefficients = Vec::with_capacity(degree + 1);
        let mut cancellation = 0u32;
        for (k, ex0) in exact.iter().enumerate() {
            // The exact part, joined by what the quadrature knows exactly (shifted parity).
            let mut ex = ex0.clone();
            // Floating parts: (value, bound, resolved).
            let mut floating: Vec<(&Float, &Float, bool)> = Vec::new();
            if let Some((v, b, r)) = &closed {
                // structural zeros of the closed part come back as exact 0 with bound 0
                if !(v[k].is_zero() && b[k].is_zero()) {
                    floating.push((&v[k], &b[k], r[k]));
                }
            }
            if let Some(q) = &quad {
                match &q.exact[k] {
                    Some(c) => ex = &ex + c,
                    None => floating.push((&q.values[k], &q.abs_error_bound[k], q.resolved[k])),
                }
            }
            let mut value = ex.to_float(prec + 64);
            // Surd::to_float has relative error at most 2^{1−prec}: one ulp at prec+64 bits.
            let mut bound = Float::with_val(53, value.abs_ref()) >> (prec + 63);
            let mut parts_resolved = true;
            for (v, b, r) in &floating {
                value += *v;
                bound += *b;
                // the sum is rounded to `value`'s precision (half an ulp; one ulp counted)
                bound += Float::with_val(53, value.abs_ref()) >> (value.prec() - 1);
                parts_resolved &= *r;
            }
            let all_exact = floating.is_empty();
            let exact_zero = all_exact && ex.is_zero();
            let tol = Float::with_val(53, value.abs_ref()) >> target;
            let resolved = all_exact || (!value.is_zero() && bound <= tol);
            if !resolved && parts_resolved && !value.is_zero() {
                // The parts were accurate but their sum lost digits: add them.
                let r = Float::with_val(53, &bound / &tol);
                cancellation = cancellation.max(r.log10().to_f64().ceil() as u32 + 2);
            }
            coefficients.push(Coefficient {
                k,
                exact: if all_exact { Some(ex) } else { None },
                value,
                // for exact values, the rounding of the exact value to `value`
                abs_error_bound: bound,
                exact_zero,
                resolved,
                bound_kind: if all_exact {
                    BoundKind::Exact
                } else {
                    BoundKind::Estimate
                },
            });
        }
        if cancellation == 0 || extra > digits + 64 {
            return Ok(CoefficientTable {
                spec: spec.source.clone(),
                degree,
                digits,
                coefficients,
                routes,
            });
        }
        extra += cancellation;
    }
}

/// The information exponent of one table: the smallest k ≥ 1 with c_k certainly nonzero.
/// `Err(k)` when some earlier coefficient k is neither an exact zero nor certainly nonzero.
pub fn information_exponent(table: &CoefficientTable) -> Result<Option<usize>, usize> {
    for c in table.coefficients.iter().skip(1) {
        if c.exact_zero {
            continue;
        }
        if c.value.clone().abs() > c.abs_error_bound {
            return Ok(Some(c.k));
        }
        return Err(c.k);
    }
    Ok(None)
}

/// E[f(Z)²] by an independent route: quadrature of f² (split at the kinks), or exactly for a
/// polynomial (Parseval over its full degree, in exact arithmetic). Returns (value, bound);
/// the bound's kind is [`norm_kind`].
pub fn norm_squared(spec: &Spec, digits: u32) -> Result<(Float, Float), String> {
    let dec = closed::decompose(&spec.expr);
    let prec = digits_to_bits(digits) + 64;
    if norm_is_exact(&dec) {
        let deg = dec.exact_polynomial.len().saturating_sub(1);
        let c = exact::exact_coefficients(&dec.exact_polynomial, deg);
        let mut sum = Surd::zero();
        for ck in &c {
            sum = sum + ck.square();
        }
        let v = sum.to_float(prec);
        let b = Float::with_val(53, v.abs_ref()) >> (prec - 1);
        return Ok((v, b));
    }
    quad::norm_squared(&spec.expr, digits + 4)
}

/// The coefficient table the kernels and the population oracle read: c_0..c_K with the
/// strongest bound kind available. Exact tables (polynomials, closed terms with exact tables)
/// come from [`hermite_coefficients`] (`exact`); specs covered by the enclosure theorems
/// (`enclose`, degree ≤ [`MAX_QUAD_DEGREE`]) from [`enclose::enclosure_table`]
/// (`enclosure`); the others from [`hermite_coefficients`] (`estimate`).
pub fn proven_table(
    spec: &Spec,
    degree: usize,
    digits: u32,
) -> Result<CoefficientTable, CoeffError> {
    // (`enclosure_table` declines the exact tables)
    if degree <= MAX_QUAD_DEGREE {
        if let Some(t) = enclose::enclosure_table(spec, degree, digits)? {
            return Ok(t);
        }
    }
    hermite_coefficients(spec, degree, digits)
}

/// E[f(Z)²] with its bound and the bound's kind, by the strongest route available:
/// exact Parseval for a polynomial (`exact`); otherwise c_0(f·f) = E[f²] by the enclosure
/// route (`enclose::enclosure_table` of the spec f·f at degree 0: proven trapezoidal or
/// Clenshaw–Curtis bound, Gaussian tails, outward rounding; `enclosure`) when f·f is covered
/// by its theorems, or exactly when f·f has an exact table (e.g. a polynomial times
/// exp(−z²)); else the quadrature of [`norm_squared`] (`estimate`).
/// Proofs-note: `proofs-notes/bound-kinds.md` ("Enclosed norms").
pub fn norm_enclosure(spec: &Spec, digits: u32) -> Result<(Float, Float, BoundKind), String> {
    let dec = closed::decompose(&spec.expr);
    if !norm_is_exact(&dec) {
        let square = Spec {
            source: format!("({})*({})", spec.source, spec.source),
            expr: crate::activation::Expr::Mul(
                Box::new(spec.expr.clone()),
                Box::new(spec.expr.clone()),
            ),
        };
        if let Some(t) = enclose::enclosure_table(&square, 0, digits).map_err(|e| e.to_string())? {
            let c = &t.coefficients[0];
            return Ok((c.value.clone(), c.abs_error_bound.clone(), c.bound_kind));
        }
        // declined because f·f has an exact table (closed terms such as exp(−z²) times a
        // polynomial): c_0(f·f) exactly
        if let Ok(t) = hermite_coefficients(&square, 0, digits) {
            let c = &t.coefficients[0];
            if c.bound_kind == BoundKind::Exact {
                return Ok((c.value.clone(), c.abs_error_bound.clone(), c.bound_kind));
            }
        }
    }
    let (v, b) = norm_squared(spec, digits)?;
    Ok((v, b, norm_kind(spec)))
}

/// Whether [`norm_squared`] takes the exact route (a polynomial: no closed-form pieces, no
/// residual for the quadrature).
fn norm_is_exact(dec: &closed::Decomposition) -> bool {
    dec.residual.is_none() && dec.closed.is_empty()
}

/// The kind of [`norm_squared`]'s bound: exact for a polynomial (Parseval in exact arithmetic,
/// the bound is the final rounding), an estimate for the quadrature route.
pub fn norm_kind(spec: &Spec) -> BoundKind {
    if norm_is_exact(&closed::decompose(&spec.expr)) {
        BoundKind::Exact
    } else {
        BoundKind::Estimate
    }
}
