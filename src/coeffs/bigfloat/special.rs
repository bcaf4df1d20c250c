//! Special functions on num-bigfloat: erf, erfc, the normal law, log1p, sigmoid, softplus
//! and the normalised Hermite polynomials (accuracy as stated in the parent module).

use super::*;

// The switch between erf's series and erfc's continued fraction is at 2.5 (`erf_switch`):
// there the series needs ≤ 66 terms, the fraction ≤ 219, and 1 − erf loses at most
// log10(1/erfc(2.5)) = 3.4 digits.

/// erf(x) for |x| ≤ 2.5 by the series without cancellation
/// erf(x) = (2/√π) e^{−x²} Σ_{n≥0} 2^n x^{2n+1} / (1·3·5···(2n+1)).
/// All terms have the sign of x. Each term is the previous one times 2x²/(2n+1), so term n
/// carries at most n+1 roundings; the terms that matter have n ≲ x² + 10, and the relative
/// error of the result is ≲ (x² + 15)·u with u = 5e−40. Summation stops when the term is
/// below 1e−44 of the sum and the ratio 2x²/(2n+3) is ≤ 1/2 (so the tail is below the term).
fn erf_series(x: &BigFloat) -> BigFloat {
    if x.abs() < consts().e20 {
        // erf(x) = (2/√π)(x − x³/3 + …): the relative error of the first term is < 1e−40
        return mul(FRAC_2_SQRT_PI, *x);
    }
    let x2 = *x * *x;
    let two_x2 = x2 + x2;
    let tiny = consts().e44;
    let mut term = *x;
    let mut sum = *x;
    let mut n: i64 = 0;
    loop {
        n += 1;
        term = term * two_x2 * (ONE / bf(2 * n + 1));
        sum += term;
        let ratio_small = two_x2 * TWO <= bf(2 * n + 3);
        if ratio_small && term.abs() <= tiny * sum.abs() {
            break;
        }
        if n > 400 {
            break; // unreachable for |x| ≤ 2.5 (66 terms suffice)
        }
    }
    FRAC_2_SQRT_PI * exp_bigfloat(&-x2) * sum
}

/// erfc(x) for x ≥ 2.5 by the Laplace continued fraction
/// erfc(x) = (e^{−x²}/√π) · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))),
/// evaluated forwards by the modified Lentz method. All partial numerators j/2 are positive,
/// so successive approximants bracket the limit and |f − f_n| ≤ |f_{n+1} − f_n|; the loop
/// stops when the last step changed the value by less than 1e−43 relative, which is then a
/// bound for the truncation error of the previous approximant (and so, a fortiori, of this
/// one). Rounding: the fraction is a well-conditioned S-fraction, each step costs a few u.
fn erfc_fraction(x: &BigFloat) -> BigFloat {
    if *x * *x > bf(291) {
        return ZERO; // e^{−x²} < 4e−127: below BigFloat's range
    }
    let tiny = consts().e60;
    let tol = consts().e43;
    // f = b0 + a1/(b1 + a2/(b2 + …)) with b_j = x, a_j = j/2; we want 1/f.
    let mut f = *x;
    let mut c = f;
    let mut d = ZERO;
    let step = half();
    let mut a = ZERO;
    let mut j: i64 = 1;
    loop {
        a += step; // a_j = j/2, exact in decimal
        d = *x + a * d;
        if d.is_zero() {
            d = tiny;
        }
        c = *x + a / c;
        if c.is_zero() {
            c = tiny;
        }
        d = ONE / d;
        let delta = c * d;
        f *= delta;
        if (delta - ONE).abs() < tol || j > 5000 {
            break;
        }
        j += 1;
    }
    // 1/√π = (2/√π)/2; (1/√π)/f ≥ 0.03 is normal, e^{−x²} is clean
    mul(exp_bigfloat(&-(*x * *x)), FRAC_2_SQRT_PI / TWO / f)
}

/// The error function erf(x), about 39 correct digits relative (a few units of 1e−40
/// relative, up to (x²+15)·5e−40 for |x| ≤ 2.5). For |x| ≥ 9.7, erfc(|x|) <
/// e^{−x²}/(|x|√π) < 1e−41 is below half an ulp of 1 and erf(x) = ±1 is returned directly.
pub fn erf_bigfloat(x: &BigFloat) -> BigFloat {
    let x = flush_subnormal(*x);
    let switch = consts().erf_switch;
    let ax = x.abs();
    let v = if ax <= switch {
        erf_series(&ax)
    } else if ax >= consts().erf_one {
        ONE
    } else {
        ONE - erfc_fraction(&ax)
    };
    if x.is_negative() {
        -v
    } else {
        v
    }
}

/// The complementary error function erfc(x) = 1 − erf(x), with a relative error bound
/// that holds for all real x:
/// - x ≥ 2.5: continued fraction, relative error ≲ 1e−38;
/// - 0 ≤ x < 2.5: 1 − erf(x), erfc ≥ erfc(2.5) = 4.07e−4, relative error ≲ 40·u/4.07e−4
///   ≈ 5e−35 in the worst case (typically 1e−37);
/// - x < 0: 1 + erf(|x|) ∈ [1, 2], no cancellation.
pub fn erfc_bigfloat(x: &BigFloat) -> BigFloat {
    let x = flush_subnormal(*x);
    let switch = consts().erf_switch;
    if x.is_negative() {
        ONE + erf_bigfloat(&x.abs())
    } else if x < switch {
        ONE - erf_series(&x)
    } else {
        erfc_fraction(&x)
    }
}

/// The standard normal CDF Φ(x) = erfc(−x/√2)/2, accurate relative to Φ(x) even in the far
/// left tail (no 1 − (…) cancellation there).
pub fn normal_cdf_bigfloat(x: &BigFloat) -> BigFloat {
    mul(erfc_bigfloat(&-mul(*x, FRAC_1_SQRT_2)), half())
}

/// The standard normal density φ(x) = e^{−x²/2}/√(2π).
/// Flushed to zero for |x| > 20.2 (φ < 1e−89, see "Dynamic range").
pub fn normal_pdf_bigfloat(x: &BigFloat) -> BigFloat {
    let x = flush_subnormal(*x);
    mul(inv_sqrt_2pi(), exp_bigfloat(&-mul(mul(x, x), half())))
}

/// log(1+u) for u > −1. For |u| < 1/4 it uses log(1+u) = 2 atanh(s), s = u/(2+u),
/// |s| ≤ 1/7, summed as 2 Σ s^{2j+1}/(2j+1) until the term is below 1e−44 of the sum
/// (≤ 25 terms); this avoids forming 1+u, which would lose the low digits of a small u.
/// Otherwise ln(1+u), whose rounding of 1+u costs at most u/|ln(1+u)| ≤ 4.5u relative.
pub fn log1p_bigfloat(u: &BigFloat) -> Result<BigFloat, String> {
    let u = &flush_subnormal(*u);
    if *u <= -ONE {
        return Err(format!("log1p: argument {u} ≤ −1"));
    }
    let quarter = ONE / bf(4);
    if u.abs() < consts().e30 {
        // log1p(u) = u − u²/2 + u³/3 − …: relative error of u − u²/2 below |u|²/3 < 1e−60
        Ok(flush_subnormal(*u - mul(mul(*u, *u), half())))
    } else if u.abs() < quarter {
        let s = *u / (TWO + *u);
        let s2 = s * s;
        let tiny = consts().e44;
        let mut power = s;
        let mut sum = s;
        let mut j: i64 = 0;
        loop {
            j += 1;
            power = mul(power, s2);
            let term = mul(power, ONE / bf(2 * j + 1));
            sum += term;
            if term.abs() <= tiny * sum.abs() || j > 200 {
                break;
            }
        }
        Ok(mul(sum, TWO))
    } else {
        check_finite((ONE + *u).ln(), "log1p")
    }
}

/// The logistic function 1/(1+e^{−x}), written so that e^{·} is only taken of −|x|
/// (no overflow, no cancellation): for x < 0 it is e^{x}/(1+e^{x}).
pub fn sigmoid_bigfloat(x: &BigFloat) -> BigFloat {
    let e = exp_bigfloat(&-x.abs());
    let r = ONE / (ONE + e);
    if x.is_negative() {
        mul(e, r)
    } else {
        r
    }
}

/// softplus(x) = log(1+e^{x}) = max(x, 0) + log1p(e^{−|x|}).
pub fn softplus_bigfloat(x: &BigFloat) -> Result<BigFloat, String> {
    let e = exp_bigfloat(&-x.abs());
    let tail = log1p_bigfloat(&e)?;
    Ok(if x.is_positive() { *x + tail } else { tail })
}

/// √j and 1/√j for j < 512, computed once (BigFloat's sqrt costs about as much as a
/// hundred multiplications, and he<k> specs are evaluated at thousands of nodes).
fn sqrt_table() -> &'static [(BigFloat, BigFloat)] {
    static TABLE: OnceLock<Vec<(BigFloat, BigFloat)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..512)
            .map(|j| {
                let r = bf(j).sqrt();
                (r, if j == 0 { ZERO } else { ONE / r })
            })
            .collect()
    })
}

/// (√j, 1/√j)
pub(super) fn sqrt_and_inverse(j: usize) -> (BigFloat, BigFloat) {
    match sqrt_table().get(j) {
        Some(pair) => *pair,
        None => {
            let r = bf(j as i64).sqrt();
            (r, ONE / r)
        }
    }
}

/// The normalised probabilists' Hermite polynomial h_k(x) = He_k(x)/√(k!), by the
/// normalised recurrence h_{j+1} = (x h_j − √j h_{j−1})/√(j+1), h_0 = 1, h_1 = x.
pub fn normalised_hermite_bigfloat(k: u32, x: &BigFloat) -> BigFloat {
    let x = &flush_subnormal(*x);
    if k == 0 {
        return ONE;
    }
    let mut prev = ONE;
    let mut cur = *x;
    for j in 1..k as usize {
        let (sqrt_j, _) = sqrt_and_inverse(j);
        let (_, inv_sqrt_j1) = sqrt_and_inverse(j + 1);
        let next = mul(
            flush_subnormal(mul(*x, cur) - mul(sqrt_j, prev)),
            inv_sqrt_j1,
        );
        prev = cur;
        cur = next;
    }
    cur
}
