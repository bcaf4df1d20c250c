//! Floating evaluation of the closed forms: the Hermite tables of every atom by its recurrence
//! (step, sign, relu, abs, exp of a quadratic, sin, cos, erf), polynomial factors applied by
//! c_j(zσ) = √j·c_{j−1}(σ) + √(j+1)·c_{j+1}(σ), at a working precision chosen from the degree.
//!
//! Accuracy contract: that of [`closed_coefficients`], stated in the module ([`super`]).

use super::*;

/// Working precision for tables of length n + 1 with a polynomial factor of degree d,
/// requested at `prec` bits: 32 + 2⌈log2(n+2)⌉ guard bits for the recurrences, plus
/// d·(⌈log2(n+2)⌉/2 + 1) for the growth (2√n)^d of the multiplications by z.
pub(super) fn working_prec(prec: u32, n: usize, d: usize) -> u32 {
    let lg = usize::BITS - (n + 2).leading_zeros();
    prec + 32 + 2 * lg + d as u32 * (lg / 2 + 1)
}

pub(super) fn sqrt_u(k: usize, w: u32) -> Float {
    Float::with_val(w, k as u64).sqrt()
}

/// Φ(x) = erfc(−x/√2)/2 (no cancellation for x ≪ 0).
pub(super) fn normal_cdf(x: &Float, w: u32) -> Float {
    let s = Float::with_val(w, -x) / sqrt_u(2, w);
    s.erfc() / 2u32
}

/// φ(x) = e^{−x²/2}/√(2π).
pub(super) fn normal_pdf(x: &Float, w: u32) -> Float {
    let e = (-(Float::with_val(w, x * x) / 2u32)).exp();
    let two_pi = Float::with_val(w, MpConst::Pi) * 2u32;
    e / two_pi.sqrt()
}

/// c_0..c_n of one atom at exactly `w` bits (no guard bits added; see
/// [`atom_coefficients`] for the public entry point).
pub(super) fn atom_table(atom: &Atom, n: usize, w: u32) -> Vec<Float> {
    let zero = || Float::new(w);
    match atom {
        Atom::One => {
            let mut t = vec![zero(); n + 1];
            t[0] = Float::with_val(w, 1);
            t
        }
        Atom::Step { a, b } => step_table(&a.value(w), &b.value(w), n, w),
        Atom::Sign { a, b } => {
            let (a, b) = (a.value(w), b.value(w));
            if a.is_zero() {
                return constant_table(sign_of(&b, w), n, w);
            }
            let mut t: Vec<Float> = step_table(&a, &b, n, w)
                .into_iter()
                .map(|x| x * 2u32)
                .collect();
            let arg = Float::with_val(w, &b / Float::with_val(w, a.abs_ref())) / sqrt_u(2, w);
            t[0] = arg.erf();
            t
        }
        Atom::Relu { a, b } => relu_table(&a.value(w), &b.value(w), n, w),
        Atom::Abs { a, b } => {
            let (a, b) = (a.value(w), b.value(w));
            let mut t: Vec<Float> = relu_table(&a, &b, n, w)
                .into_iter()
                .map(|x| x * 2u32)
                .collect();
            t[0] -= &b;
            if n >= 1 {
                t[1] -= &a;
            }
            t
        }
        Atom::Exp { c, e, f } => exp_table(&c.value(w), &e.value(w), &f.value(w), n, w),
        Atom::Sin { a, b } => trig_table(&a.value(w), &b.value(w), n, w, true),
        Atom::Cos { a, b } => trig_table(&a.value(w), &b.value(w), n, w, false),
        Atom::Erf { a, b } => erf_table(&a.value(w), &b.value(w), n, w),
    }
}

pub(super) fn sign_of(x: &Float, w: u32) -> Float {
    Float::with_val(w, x.cmp0().map_or(0, |o| o as i32))
}

pub(super) fn constant_table(v: Float, n: usize, w: u32) -> Vec<Float> {
    let mut t = vec![Float::new(w); n + 1];
    t[0] = v;
    t
}

/// step(a z + b): c_0 = Φ(b/|a|), c_k = sgn(a)·φ(z0)·h_{k−1}(z0)/√k, z0 = −b/a.
pub(super) fn step_table(a: &Float, b: &Float, n: usize, w: u32) -> Vec<Float> {
    if a.is_zero() {
        let v = match b.cmp0() {
            Some(std::cmp::Ordering::Greater) => Float::with_val(w, 1),
            Some(std::cmp::Ordering::Equal) => Float::with_val(w, 0.5),
            _ => Float::new(w),
        };
        return constant_table(v, n, w);
    }
    let abs_a = Float::with_val(w, a.abs_ref());
    let mut t = Vec::with_capacity(n + 1);
    t.push(normal_cdf(&Float::with_val(w, b / &abs_a), w));
    if n == 0 {
        return t;
    }
    let z0 = -Float::with_val(w, b / a);
    let mut amp = normal_pdf(&z0, w);
    if a.is_sign_negative() {
        amp = -amp;
    }
    let h = NormalisedHermite::new(n - 1, w).values(&z0);
    for k in 1..=n {
        t.push(Float::with_val(w, &amp * &h[k - 1]) / sqrt_u(k, w));
    }
    t
}

/// relu(a z + b): c_0 = |a|φ(b/|a|) + bΦ(b/|a|), c_k = a·c_{k−1}(step)/√k.
pub(super) fn relu_table(a: &Float, b: &Float, n: usize, w: u32) -> Vec<Float> {
    if a.is_zero() {
        let v = if b.is_sign_positive() {
            b.clone()
        } else {
            Float::new(w)
        };
        return constant_table(v, n, w);
    }
    let abs_a = Float::with_val(w, a.abs_ref());
    let t0 = Float::with_val(w, b / &abs_a);
    let c0 = Float::with_val(w, &abs_a * normal_pdf(&t0, w))
        + Float::with_val(w, b * normal_cdf(&t0, w));
    let mut t = vec![c0];
    if n >= 1 {
        let step = step_table(a, b, n - 1, w);
        for k in 1..=n {
            t.push(Float::with_val(w, a * &step[k - 1]) / sqrt_u(k, w));
        }
    }
    t
}

/// exp(c z² + e z + f), λ = 1 − 2c > 0: c_n = λ^{−1/2}e^{e²/(2λ)+f}·r_n with r_0 = 1,
/// r_1 = e/λ, r_{n+1} = ((e/λ) r_n + (2c/λ)√n r_{n−1})/√(n+1).
pub(super) fn exp_table(c: &Float, e: &Float, f: &Float, n: usize, w: u32) -> Vec<Float> {
    let lambda = Float::with_val(w, 1) - Float::with_val(w, c * 2u32);
    assert!(
        lambda.is_sign_positive() && !lambda.is_zero(),
        "exp(c z^2 + ...) needs c < 1/2 for E[exp(cZ^2)] to exist (got c = {c})"
    );
    let beta = Float::with_val(w, e / &lambda);
    let gamma2 = Float::with_val(w, c * 2u32) / &lambda;
    let expo = Float::with_val(w, e * e) / Float::with_val(w, &lambda * 2u32) + f;
    let amp = expo.exp() / lambda.sqrt();
    let mut r: Vec<Float> = Vec::with_capacity(n + 1);
    r.push(Float::with_val(w, 1));
    if n >= 1 {
        r.push(beta.clone());
    }
    for k in 1..n {
        let mut next = Float::with_val(w, &beta * &r[k]);
        let s = Float::with_val(w, &gamma2 * &r[k - 1]) * sqrt_u(k, w);
        next += s;
        r.push(next / sqrt_u(k + 1, w));
    }
    r.into_iter().map(|x| x * &amp).collect()
}

/// sin/cos(a z + b): c_k = e^{−a²/2}·(a^k/√(k!))·trig(b + kπ/2) with trig = sin or cos;
/// a^k/√(k!) by the running product m_k = m_{k−1}·a/√k.
pub(super) fn trig_table(a: &Float, b: &Float, n: usize, w: u32, is_sin: bool) -> Vec<Float> {
    let base = (-(Float::with_val(w, a * a) / 2u32)).exp();
    let (sb, cb) = b.clone().sin_cos(Float::new(w));
    // trig(b + kπ/2) cycles with period 4
    let cycle: [Float; 4] = if is_sin {
        [sb.clone(), cb.clone(), -sb, -cb]
    } else {
        [cb.clone(), -sb.clone(), -cb, sb]
    };
    let mut m = base;
    let mut t = Vec::with_capacity(n + 1);
    for k in 0..=n {
        if k >= 1 {
            m = Float::with_val(w, &m * a) / sqrt_u(k, w);
        }
        t.push(Float::with_val(w, &m * &cycle[k % 4]));
    }
    t
}

/// erf(a z + b): c_0 = erf(b/√(1+2a²)), c_k = (2a/√π)·c_{k−1}(exp(−(a z+b)²))/√k.
pub(super) fn erf_table(a: &Float, b: &Float, n: usize, w: u32) -> Vec<Float> {
    let a2 = Float::with_val(w, a * a);
    let den = (Float::with_val(w, &a2 * 2u32) + 1u32).sqrt();
    let mut t = vec![Float::with_val(w, b / &den).erf()];
    if n >= 1 {
        let c = -a2;
        let e = Float::with_val(w, a * b) * -2i32;
        let f = -Float::with_val(w, b * b);
        let g = exp_table(&c, &e, &f, n - 1, w);
        let pi = Float::with_val(w, MpConst::Pi);
        let amp = Float::with_val(w, a * 2u32) / pi.sqrt();
        for k in 1..=n {
            t.push(Float::with_val(w, &amp * &g[k - 1]) / sqrt_u(k, w));
        }
    }
    t
}

/// Hermite coefficients c_0..c_degree of one atom, at `prec` bits (computed with guard
/// bits, see the module's accuracy contract).
pub fn atom_coefficients(atom: &Atom, degree: usize, prec: u32) -> Vec<Float> {
    let w = working_prec(prec, degree, 0);
    atom_table(atom, degree, w)
        .into_iter()
        .map(|x| Float::with_val(prec, x))
        .collect()
}

/// Applies Σ_m p_m z^m to a table of length L + 1 (L ≥ D = deg p), giving length L − D + 1:
/// Horner with c_j(zσ) = √j c_{j−1}(σ) + √(j+1) c_{j+1}(σ).
pub(super) fn apply_poly(p: &[Float], table: &[Float], w: u32) -> Vec<Float> {
    let d = p.len() - 1;
    let sq: Vec<Float> = (0..=table.len()).map(|j| sqrt_u(j, w)).collect();
    let mut acc: Vec<Float> = table
        .iter()
        .map(|t| Float::with_val(w, t * &p[d]))
        .collect();
    for m in (0..d).rev() {
        let len = acc.len() - 1;
        let mut next = Vec::with_capacity(len);
        for j in 0..len {
            let mut v = Float::with_val(w, &sq[j + 1] * &acc[j + 1]);
            if j >= 1 {
                v += Float::with_val(w, &sq[j] * &acc[j - 1]);
            }
            if !p[m].is_zero() {
                v += Float::with_val(w, &p[m] * &table[j]);
            }
            next.push(v);
        }
        acc = next;
    }
    acc
}

/// c_0..c_degree of one closed term at `w` working bits.
pub(super) fn term_table(term: &ClosedTerm, degree: usize, w: u32) -> Vec<Float> {
    let poly = trim(term.poly.clone());
    if poly.is_empty() {
        return vec![Float::new(w); degree + 1];
    }
    let d = poly.len() - 1;
    let p: Vec<Float> = poly.iter().map(|c| c.value(w)).collect();
    apply_poly(&p, &atom_table(&term.atom, degree + d, w), w)
}

/// Hermite coefficients of one closed term, k = 0..=degree, at `prec` bits.
pub fn term_coefficients(term: &ClosedTerm, degree: usize, prec: u32) -> Vec<Float> {
    closed_coefficients(std::slice::from_ref(term), degree, prec)
}

/// Σ over `terms` of c_k(term), k = 0..=degree, at `prec` bits.
///
/// Accuracy: absolute error ≲ 2^{−prec−30}·Σ_m|q_m|·max_j|atom_j| per term plus the final
/// rounding 2^{−prec}|c_k| (module doc); in practice ≲ 2^{−prec}·max_k|c_k| (checked by
/// precision doubling, 200 vs 400 bits to degree 1000, in `tests/closed_forms.rs`).
/// Panics if an exp term has c ≥ 1/2.
pub fn closed_coefficients(terms: &[ClosedTerm], degree: usize, prec: u32) -> Vec<Float> {
    let max_d = terms
        .iter()
        .map(|t| t.poly.len().saturating_sub(1))
        .max()
        .unwrap_or(0);
    let w = working_prec(prec, degree + max_d, max_d);
    let mut acc = vec![Float::new(w); degree + 1];
    for t in terms {
        for (a, v) in acc.iter_mut().zip(term_table(t, degree, w)) {
            *a += v;
        }
    }
    acc.into_iter().map(|x| Float::with_val(prec, x)).collect()
}
