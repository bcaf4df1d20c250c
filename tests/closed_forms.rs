//! Closed-form Hermite coefficients and the spec decomposition (`src/coeffs/closed.rs`).
//! Proofs-note: `proofs-notes/closed-forms.md`.
//!
//! Independent checks, in order of strength:
//! (ii) composite Gauss–Legendre quadrature written here at 300 bits on [−40, 40], split at
//!      every kink, against `closed_coefficients` at 340 bits (≈ 100 digits), K = 200;
//! (i)  identities that use other formulas: lgamma closed forms for exp, dual-kernel closed
//!      forms (arcsine laws) for step, relu, erf, Stein's identity c_j(zσ') for sin;
//! (iii) precision doubling (200 vs 400 bits), including degree 1000;
//! (iv) Parseval: E σ² − Σ_{k≤K} c_k² is ≥ 0 and non-increasing in K;
//! (v)  the decomposition of the spec examples, built as expression trees.
//!
//! ## Why the quadrature is accurate to 1e−80 (tolerance below: 1e−75)
//! c_k = ∫ σ(z) h_k(z) φ(z) dz, k ≤ K = 200. Three error sources:
//! - Truncation to [−40, 40]. Cramér's inequality gives |h_k(z)| ≤ 1.0865·e^{z²/4} for every
//!   k, so the tail is ≤ 1.09·∫_{|z|>40} |σ(z)| e^{−z²/4}/√(2π) dz. Every σ below satisfies
//!   |σ(z)| ≤ 10(1+|z|)³e^{0.1z² + |z|} on the real line, so the tail is
//!   ≤ e^{−0.15·40² + 40 + 3·ln 41 + 3} < e^{−185} < 1e−80.
//! - Gauss–Legendre with n = 80 nodes per panel of width h ≤ 1 (unit panels, split at every
//!   kink, so each panel sees the restriction of an entire function). For an integrand
//!   analytic in the Bernstein ellipse E_ρ of the panel and bounded there by M, the error is
//!   ≤ (64/15)·M·ρ^{−2n}/(ρ²−1)·(h/2) (Trefethen, Approximation Theory and Approximation
//!   Practice, Thm 19.3). Take ρ = 16: E_ρ lies in |Im z| ≤ 4, |Re z| ≤ 44. Cauchy's estimate
//!   on |t| = √k in e^{zt−t²/2} = Σ h_k(z) t^k/√(k!) with Stirling gives
//!   |h_k(z)| ≤ √e·k^{1/4}·e^{|z|√k}; |φ(x+iy)| ≤ e^{(y²−x²)/2}; and on |Im z| ≤ 4 every σ
//!   below is ≤ 10(1+|z|)³e^{0.1x² + |x| + 30} (the worst factor is erf(−1.2z), ≤ e^{(1.2·4)²+3}).
//!   So M ≤ e^{max_x((√k+1)|x| − 0.4x²) + 4√k + 8 + 30 + 14 + 2} ≤ e^{143+57+54} < 2^{367},
//!   and the error per panel is ≤ 2^{367 + 3 − 640 − 7} = 2^{−277}; over ≤ 90 panels ≤ 2^{−270}.
//! - Rounding at 300 bits: the h_k recurrence errs by ≤ 4(k+1)·2^{−300}·max_j|h_j(z)|
//!   ≤ 900·2^{−300}·e^{z²/4} (hermite.rs contract and Cramér), and the weighted sums add a
//!   few ulps of Σ|terms|; with ∫|σ|e^{−z²/4}/√(2π) ≤ 2e4 this is ≤ 1e−82.
//!
//! Hence |quadrature − exact| < 1e−80. The closed forms at 340 bits err by ≲ 1e−95. The
//! tolerance 1e−75 (absolute; every σ here has max_k |c_k| ≤ 10) leaves a factor 1e5.

use mforacle::activation::{Expr, Func};
use mforacle::coeffs::closed::{
    atom_coefficients, closed_coefficients, closed_exact_zeros, decompose, Atom, ClosedTerm,
    Constant, Decomposition,
};
use mforacle::coeffs::exact::{exact_coefficients, Surd};
use mforacle::hermite::NormalisedHermite;
use rug::float::Constant as MpConst;
use rug::{Float, Integer, Rational};
use std::sync::OnceLock;

const QUAD_PREC: u32 = 300;
const CLOSED_PREC: u32 = 340; // ≈ 100 digits
const K: usize = 200;
const NODES: usize = 80;

// ----- expression builders (the parser is tested elsewhere; trees keep this file independent)

fn z() -> Expr {
    Expr::Z
}
fn num(n: i64, d: i64) -> Expr {
    Expr::Num(Rational::from((n, d)))
}
fn add(a: Expr, b: Expr) -> Expr {
    Expr::Add(Box::new(a), Box::new(b))
}
fn sub(a: Expr, b: Expr) -> Expr {
    Expr::Sub(Box::new(a), Box::new(b))
}
fn mul(a: Expr, b: Expr) -> Expr {
    Expr::Mul(Box::new(a), Box::new(b))
}
fn div(a: Expr, b: Expr) -> Expr {
    Expr::Div(Box::new(a), Box::new(b))
}
fn pow(a: Expr, n: u32) -> Expr {
    Expr::Pow(Box::new(a), n)
}
fn call(f: Func, a: Expr) -> Expr {
    Expr::Call(f, Box::new(a))
}
fn sqrt(a: Expr) -> Expr {
    Expr::Sqrt(Box::new(a))
}
fn rq(n: i64, d: i64) -> Constant {
    Constant::rational(Rational::from((n, d)))
}

// ----- pointwise evaluation, written directly with MPFR (independent of the crate)

fn f(p: u32, x: f64) -> Float {
    Float::with_val(p, x)
}
/// n/d rounded once to p bits (never through an f64 literal such as 0.3).
fn rat(n: i64, d: i64, p: u32) -> Float {
    Float::with_val(p, Rational::from((n, d)))
}
fn relu(x: Float) -> Float {
    if x.is_sign_positive() {
        x
    } else {
        Float::new(x.prec())
    }
}
fn step(x: &Float) -> Float {
    let p = x.prec();
    match x.cmp0() {
        Some(std::cmp::Ordering::Greater) => f(p, 1.0),
        Some(std::cmp::Ordering::Less) => f(p, 0.0),
        _ => f(p, 0.5),
    }
}
fn sign(x: &Float) -> Float {
    Float::with_val(x.prec(), x.cmp0().map_or(0, |o| o as i32))
}
fn pi(p: u32) -> Float {
    Float::with_val(p, MpConst::Pi)
}

/// A test activation: its pointwise value, its spec tree, and its kinks (dyadic, so the
/// panel endpoints are exact).
struct Case {
    name: &'static str,
    value: fn(&Float) -> Float,
    expr: fn() -> Expr,
    kinks: &'static [f64],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            // 0.3*relu(z-0.25)+sin(1.5*z)
            name: "relu_sin",
            value: |x| {
                let p = x.prec();
                relu(Float::with_val(p, x - 0.25)) * rat(3, 10, p)
                    + Float::with_val(p, x * 1.5f64).sin()
            },
            expr: || {
                add(
                    mul(num(3, 10), call(Func::Relu, sub(z(), num(1, 4)))),
                    call(Func::Sin, mul(num(3, 2), z())),
                )
            },
            kinks: &[0.25],
        },
        Case {
            // 5*(z^2*exp(-z^2)-sqrt(3)/9)
            name: "paper",
            value: |x| {
                let p = x.prec();
                let x2 = Float::with_val(p, x * x);
                let e = Float::with_val(p, -&x2).exp();
                (x2 * e - f(p, 3.0).sqrt() / 9u32) * 5u32
            },
            expr: || {
                mul(
                    num(5, 1),
                    sub(
                        mul(
                            pow(z(), 2),
                            call(Func::Exp, Expr::Neg(Box::new(pow(z(), 2)))),
                        ),
                        div(sqrt(num(3, 1)), num(9, 1)),
                    ),
                )
            },
            kinks: &[],
        },
        Case {
            // gelu = z Φ(z)
            name: "gelu",
            value: |x| {
                let p = x.prec();
                let phi = (Float::with_val(p, x / f(p, 2.0).sqrt()).erf() + 1u32) / 2u32;
                phi * x
            },
            expr: || call(Func::Gelu, z()),
            kinks: &[],
        },
        Case {
            // step(1-2*z) + (z^2-1)*sign(z+0.5)
            name: "step_sign",
            value: |x| {
                let p = x.prec();
                step(&Float::with_val(p, 1 - Float::with_val(p, x * 2u32)))
                    + (Float::with_val(p, x * x) - 1u32) * sign(&Float::with_val(p, x + 0.5))
            },
            expr: || {
                add(
                    call(Func::Step, sub(num(1, 1), mul(num(2, 1), z()))),
                    mul(
                        sub(pow(z(), 2), num(1, 1)),
                        call(Func::Sign, add(z(), num(1, 2))),
                    ),
                )
            },
            kinks: &[0.5, -0.5],
        },
        Case {
            // abs(1.5*z-0.75) - 2*relu(-z)
            name: "abs_relu",
            value: |x| {
                let p = x.prec();
                Float::with_val(p, Float::with_val(p, x * 1.5f64) - 0.75f64).abs()
                    - relu(Float::with_val(p, -x)) * 2u32
            },
            expr: || {
                sub(
                    call(Func::Abs, sub(mul(num(3, 2), z()), num(3, 4))),
                    mul(num(2, 1), call(Func::Relu, Expr::Neg(Box::new(z())))),
                )
            },
            kinks: &[0.5, 0.0],
        },
        Case {
            // erf(0.7*z+0.3) + z*erf(-1.2*z)
            name: "erf_mix",
            value: |x| {
                let p = x.prec();
                Float::with_val(p, Float::with_val(p, x * rat(7, 10, p)) + rat(3, 10, p)).erf()
                    + Float::with_val(p, x * rat(-6, 5, p)).erf() * x
            },
            expr: || {
                add(
                    call(Func::Erf, add(mul(num(7, 10), z()), num(3, 10))),
                    mul(z(), call(Func::Erf, mul(num(-6, 5), z()))),
                )
            },
            kinks: &[],
        },
        Case {
            // exp(0.1*z^2-0.5*z+0.1) + z^3*exp(z-0.5*z^2)
            name: "exp_mix",
            value: |x| {
                let p = x.prec();
                let x2 = Float::with_val(p, x * x);
                let a = Float::with_val(p, &x2 * rat(1, 10, p)) - Float::with_val(p, x * 0.5f64)
                    + rat(1, 10, p);
                let b = Float::with_val(p, x - Float::with_val(p, &x2 * 0.5f64));
                a.exp() + b.exp() * x2 * x
            },
            expr: || {
                add(
                    call(
                        Func::Exp,
                        add(
                            sub(mul(num(1, 10), pow(z(), 2)), mul(num(1, 2), z())),
                            num(1, 10),
                        ),
                    ),
                    mul(
                        pow(z(), 3),
                        call(Func::Exp, sub(z(), mul(num(1, 2), pow(z(), 2)))),
                    ),
                )
            },
            kinks: &[],
        },
        Case {
            // cos(2*z-1) + z*sin(0.5*z+pi/3)
            name: "trig_pi",
            value: |x| {
                let p = x.prec();
                Float::with_val(p, Float::with_val(p, x * 2u32) - 1u32).cos()
                    + Float::with_val(p, Float::with_val(p, x * 0.5f64) + pi(p) / 3u32).sin() * x
            },
            expr: || {
                add(
                    call(Func::Cos, sub(mul(num(2, 1), z()), num(1, 1))),
                    mul(
                        z(),
                        call(
                            Func::Sin,
                            add(mul(num(1, 2), z()), div(Expr::Pi, num(3, 1))),
                        ),
                    ),
                )
            },
            kinks: &[],
        },
        Case {
            // pi*z^2 + relu(pi*z) - 1/3
            name: "pi_poly_relu",
            value: |x| {
                let p = x.prec();
                let px = Float::with_val(p, x * pi(p));
                Float::with_val(p, &px * x) + relu(px) - f(p, 1.0) / 3u32
            },
            expr: || {
                sub(
                    add(
                        mul(Expr::Pi, pow(z(), 2)),
                        call(Func::Relu, mul(Expr::Pi, z())),
                    ),
                    num(1, 3),
                )
            },
            kinks: &[0.0],
        },
        Case {
            // step(z-1): c_3 = 0 exactly because He_2(1) = 0
            name: "step_one",
            value: |x| step(&Float::with_val(x.prec(), x - 1u32)),
            expr: || call(Func::Step, sub(z(), num(1, 1))),
            kinks: &[1.0],
        },
    ]
}

// ----- Gauss–Legendre quadrature at QUAD_PREC bits

/// Nodes and weights of the n-point Gauss–Legendre rule on [−1, 1]: Newton's method on
/// P_n from the asymptotic guesses cos(π(i − 1/4)/(n + 1/2)), until the step is below
/// 2^{−prec+8}; weights 2/((1 − x²) P_n'(x)²).
fn gauss_legendre(n: usize, prec: u32) -> Vec<(Float, Float)> {
    let legendre = |x: &Float| -> (Float, Float) {
        // returns (P_n(x), P_n'(x)) by (j+1)P_{j+1} = (2j+1)x P_j − j P_{j−1}
        let (mut p0, mut p1) = (Float::with_val(prec, 1), x.clone());
        for j in 1..n {
            let p2 = (Float::with_val(prec, x * &p1) * (2 * j + 1) as u32
                - Float::with_val(prec, &p0 * j as u32))
                / (j + 1) as u32;
            p0 = std::mem::replace(&mut p1, p2);
        }
        let d = Float::with_val(prec, x * &p1) - &p0;
        let dp = d * n as u32 / (Float::with_val(prec, x * x) - 1u32);
        (p1, dp)
    };
    let tol = Float::with_val(prec, 1) >> (prec as i32 - 8);
    (1..=n)
        .map(|i| {
            let guess = (std::f64::consts::PI * (i as f64 - 0.25) / (n as f64 + 0.5)).cos();
            let mut x = Float::with_val(prec, guess);
            for _ in 0..100 {
                let (p, dp) = legendre(&x);
                let dx = p / dp;
                x -= &dx;
                if dx.abs() < tol {
                    break;
                }
            }
            let (_, dp) = legendre(&x);
            let w = Float::with_val(prec, 2) / ((1 - Float::with_val(prec, &x * &x)) * dp.square());
            (x, w)
        })
        .collect()
}

/// Quadrature results for every case: c_0..c_K and E σ².
struct QuadTables {
    coeffs: Vec<Vec<Float>>,
    second_moment: Vec<Float>,
}

/// One pass over a common panel set (unit panels on [−40, 40], split at the union of all
/// kinks), accumulating all cases at once.
fn quad_tables() -> &'static QuadTables {
    static CELL: OnceLock<QuadTables> = OnceLock::new();
    CELL.get_or_init(|| {
        let p = QUAD_PREC;
        let cs = cases();
        let mut breaks: Vec<f64> = (-40..=40).map(|i| i as f64).collect();
        breaks.extend(cs.iter().flat_map(|c| c.kinks.iter().copied()));
        breaks.sort_by(|a, b| a.partial_cmp(b).unwrap());
        breaks.dedup();
        let rule = gauss_legendre(NODES, p);
        let herm = NormalisedHermite::new(K, p);
        let inv_sqrt_2pi = (pi(p) * 2u32).sqrt().recip();
        let mut coeffs = vec![vec![Float::new(p); K + 1]; cs.len()];
        let mut second_moment = vec![Float::new(p); cs.len()];
        for win in breaks.windows(2) {
            let (l, r) = (f(p, win[0]), f(p, win[1]));
            let mid = Float::with_val(p, &l + &r) / 2u32;
            let half = Float::with_val(p, &r - &l) / 2u32;
            for (x, w) in &rule {
                let zz = Float::with_val(p, &half * x) + &mid;
                let density =
                    Float::with_val(p, -Float::with_val(p, &zz * &zz) / 2u32).exp() * &inv_sqrt_2pi;
                let wphi = density * w * &half;
                let h = herm.values(&zz);
                for (i, c) in cs.iter().enumerate() {
                    let v = (c.value)(&zz);
                    let wv = Float::with_val(p, &wphi * &v);
                    second_moment[i] += Float::with_val(p, &wv * &v);
                    for (acc, hk) in coeffs[i].iter_mut().zip(&h) {
                        *acc += Float::with_val(p, &wv * hk);
                    }
                }
            }
        }
        QuadTables {
            coeffs,
            second_moment,
        }
    })
}

/// c_0..c_degree of a residual-free decomposition: exact part + closed terms.
fn table(d: &Decomposition, degree: usize, prec: u32) -> Vec<Float> {
    assert!(d.residual.is_none(), "unexpected residual {:?}", d.residual);
    let exact = exact_coefficients(&d.exact_polynomial, degree);
    let closed = closed_coefficients(&d.closed, degree, prec);
    exact
        .iter()
        .zip(closed)
        .map(|(e, c)| e.to_float(prec) + c)
        .collect()
}

fn closed_of(case: &Case, degree: usize, prec: u32) -> (Decomposition, Vec<Float>) {
    let d = decompose(&(case.expr)());
    let t = table(&d, degree, prec);
    (d, t)
}

fn max_abs(v: &[Float]) -> Float {
    v.iter().fold(Float::new(v[0].prec()), |m, x| {
        m.max(&Float::with_val(x.prec(), x.abs_ref()))
    })
}

fn two_pow(e: i32) -> Float {
    Float::with_val(64, 1) << e
}

// ----- (ii) quadrature

#[test]
fn quadrature_agrees_to_1e75() {
    let tol = Float::with_val(64, 1e-75); // derived in the module doc
    let q = quad_tables();
    for (i, case) in cases().iter().enumerate() {
        let (_, c) = closed_of(case, K, CLOSED_PREC);
        for k in 0..=K {
            let diff = Float::with_val(CLOSED_PREC, &c[k] - &q.coeffs[i][k]).abs();
            assert!(
                diff <= tol,
                "{}: c_{k} closed {} vs quadrature {} (diff {})",
                case.name,
                c[k].to_string_radix(10, Some(30)),
                q.coeffs[i][k].to_string_radix(10, Some(30)),
                diff.to_string_radix(10, Some(5))
            );
        }
        // a non-trivial table: the check would catch a vanishing or mis-scaled table
        assert!(max_abs(&c) > 0.1, "{}", case.name);
    }
}

// ----- (iv) Parseval

#[test]
fn parseval_tail_nonnegative_and_decreasing() {
    // tail(K) = E σ² − Σ_{k≤K} c_k² = Σ_{k>K} c_k² ≥ 0 and non-increasing in K. Both sides
    // are accurate to 1e−80 (quadrature bound in the module doc; Σ c_k² adds ≤ 2·201·10·1e−95
    // from the closed side), so the slack is 1e−75.
    let slack = Float::with_val(64, 1e-75);
    let q = quad_tables();
    let smooth = ["paper", "gelu", "exp_mix", "trig_pi", "erf_mix"];
    for (i, case) in cases().iter().enumerate() {
        let (_, c) = closed_of(case, K, CLOSED_PREC);
        let mut prev: Option<Float> = None;
        for kk in [5usize, 10, 25, 50, 100, 200] {
            let partial = c[..=kk].iter().fold(Float::new(CLOSED_PREC), |acc, x| {
                acc + Float::with_val(CLOSED_PREC, x * x)
            });
            let tail = Float::with_val(CLOSED_PREC, &q.second_moment[i] - &partial);
            assert!(tail >= -slack.clone(), "{}: tail({kk}) = {tail}", case.name);
            if let Some(p) = &prev {
                assert!(
                    tail <= Float::with_val(CLOSED_PREC, p + &slack),
                    "{}: tail grew at {kk}",
                    case.name
                );
            }
            if kk == 200 && smooth.contains(&case.name) {
                // entire functions of order 2: c_k² decays at least like 0.75^k here
                // (z·erf(−1.2z): |2γ| = 2·1.44/3.88 ≈ 0.74), so tail(200) ≲ 1e−20
                assert!(tail < 1e-20, "{}: smooth tail {tail}", case.name);
            }
            prev = Some(tail);
        }
    }
}

// ----- (iii) precision doubling

fn doubling(case: &Case, degree: usize) {
    let (_, lo) = closed_of(case, degree, 200);
    let (_, hi) = closed_of(case, degree, 400);
    // contract: error ≲ 2^{−prec}·max|c| after the 32 + 2 log2(K) guard bits; 5 bits slack
    let tol = max_abs(&hi) * two_pow(-195);
    for k in 0..=degree {
        let diff = Float::with_val(400, &lo[k] - &hi[k]).abs();
        assert!(
            diff <= tol,
            "{} K={degree}: c_{k} 200 vs 400 bits differ by {diff}",
            case.name
        );
    }
}

#[test]
fn precision_doubling_degree_200() {
    for case in cases() {
        doubling(&case, K);
    }
}

#[test]
fn precision_doubling_degree_1000() {
    for case in cases() {
        if ["relu_sin", "paper", "step_sign", "erf_mix"].contains(&case.name) {
            doubling(&case, 1000);
        }
    }
}

// ----- (i) independent identities

#[test]
fn exp_linear_matches_lgamma_formula() {
    // c_k(exp(a z + f)) = e^{f + a²/2} a^k/√(k!), here via exp(k ln|a| − lnΓ(k+1)/2): a
    // different route from the recurrence r_{n+1} = (e/λ) r_n/√(n+1). Relative error of
    // both ≲ K·2^{−prec} ≈ 2^{−330} at K = 1000, prec 340: tolerance 2^{−320} relative.
    let p = CLOSED_PREC;
    for (a, fc) in [(7i64, 10i64), (-13, 10), (5, 2)] {
        let term = ClosedTerm::new(
            vec![Constant::one()],
            Atom::Exp {
                c: Constant::zero(),
                e: rq(a, fc),
                f: rq(1, 4),
            },
        );
        let c = closed_coefficients(&[term], 1000, p);
        let av = Float::with_val(p, a) / fc;
        let amp = (Float::with_val(p, &av * &av) / 2u32 + 0.25f64).exp();
        for k in (0..=1000).step_by(7) {
            let lg = Float::with_val(p, k + 1).ln_gamma() / 2u32;
            let mag = (Float::with_val(p, av.clone().abs().ln() * k as u32) - lg).exp() * &amp;
            let want = if av.is_sign_negative() && k % 2 == 1 {
                -mag
            } else {
                mag
            };
            let rel = Float::with_val(p, &c[k] - &want) / &want;
            assert!(rel.abs() < two_pow(-320), "exp({a}/{fc} z): c_{k}");
        }
    }
}

#[test]
fn exp_quadratic_even_matches_closed_form() {
    // c_{2m}(exp(c z²)) = λ^{−1/2}·√((2m)!)·(c/λ)^m/m!, odd ones 0 (λ = 1 − 2c), via lgamma.
    let p = CLOSED_PREC;
    for (cn, cd) in [(-1i64, 1i64), (-3, 10), (1, 5)] {
        let term = ClosedTerm::new(
            vec![Constant::one()],
            Atom::Exp {
                c: rq(cn, cd),
                e: Constant::zero(),
                f: Constant::zero(),
            },
        );
        let c = closed_coefficients(&[term], K, p);
        let cv = Float::with_val(p, cn) / cd;
        let lambda = Float::with_val(p, 1) - Float::with_val(p, &cv * 2u32);
        let g = Float::with_val(p, &cv / &lambda);
        for m in 0..=K / 2 {
            let lg = Float::with_val(p, 2 * m + 1).ln_gamma() / 2u32
                - Float::with_val(p, m + 1).ln_gamma();
            let mag = (Float::with_val(p, g.clone().abs().ln() * m as u32) + lg).exp()
                / lambda.clone().sqrt();
            let want = if g.is_sign_negative() && m % 2 == 1 {
                -mag
            } else {
                mag
            };
            let rel = Float::with_val(p, &c[2 * m] - &want) / &want;
            assert!(rel.abs() < two_pow(-320), "exp({cn}/{cd} z²): c_{}", 2 * m);
            if 2 * m < K {
                assert!(c[2 * m + 1].is_zero());
            }
        }
    }
}

#[test]
fn sin_cos_derivative_identity() {
    // d/dz sin(az+b) = a cos(az+b), so c_k(a cos(az+b)) = √(k+1)·c_{k+1}(sin(az+b)), and
    // c_k(−a sin) = √(k+1)·c_{k+1}(cos). Also Stein's c_j(z σ') = j c_j(σ) + √((j+1)(j+2))
    // c_{j+2}(σ) (docs/conventions.md §1), which exercises the polynomial-factor path. Values are
    // O(1)·e^{−a²/2}; tolerance 2^{−320} absolute (K·2^{−prec} with prec 340).
    let p = CLOSED_PREC;
    let tol = two_pow(-320);
    for (a, b) in [(rq(3, 2), rq(-1, 3)), (rq(-5, 2), Constant::Expr(Expr::Pi))] {
        let one = vec![Constant::one()];
        let sin = closed_coefficients(
            &[ClosedTerm::new(
                one.clone(),
                Atom::Sin {
                    a: a.clone(),
                    b: b.clone(),
                },
            )],
            K + 2,
            p,
        );
        let cos = closed_coefficients(
            &[ClosedTerm::new(
                one,
                Atom::Cos {
                    a: a.clone(),
                    b: b.clone(),
                },
            )],
            K + 2,
            p,
        );
        let zacos = closed_coefficients(
            &[ClosedTerm::new(
                vec![Constant::zero(), a.clone()],
                Atom::Cos {
                    a: a.clone(),
                    b: b.clone(),
                },
            )],
            K,
            p,
        );
        let av = a.value(p);
        for k in 0..=K {
            let s = Float::with_val(p, k + 1).sqrt();
            let d1 = Float::with_val(p, &av * &cos[k]) - Float::with_val(p, &s * &sin[k + 1]);
            let d2 = -Float::with_val(p, &av * &sin[k]) - Float::with_val(p, &s * &cos[k + 1]);
            let stein = Float::with_val(p, &sin[k] * k as u32)
                + Float::with_val(
                    p,
                    Float::with_val(p, ((k + 1) * (k + 2)) as u32).sqrt() * &sin[k + 2],
                );
            let d3 = Float::with_val(p, &zacos[k] - &stein);
            assert!(
                d1.abs() < tol && d2.abs() < tol && d3.abs() < tol,
                "k = {k}"
            );
        }
    }
}

/// Σ_{k≤K} c_k(σ) c_k(τ) s^k.
fn kernel_series(c: &[Float], d: &[Float], s: &Float) -> Float {
    let p = s.prec();
    let mut acc = Float::new(p);
    let mut sk = Float::with_val(p, 1);
    for (x, y) in c.iter().zip(d) {
        acc += Float::with_val(p, x * y) * &sk;
        sk *= s;
    }
    acc
}

#[test]
fn dual_kernels_arcsine_laws() {
    // docs/conventions.md §2: κ(s) = Σ c_k(σ)c_k(τ)s^k. Closed forms (orthant probabilities):
    //   step·step: 1/4 + arcsin(s)/(2π);  relu·relu: (√(1−s²) + (π − arccos s)s)/(2π);
    //   erf(az)·erf(bz): (2/π) arcsin(2ab s/√((1+2a²)(1+2b²))).
    // At s = 1/2 the truncation after K = 200 is ≤ s^{201}·√(Eσ²·Eτ²) ≤ 2^{−201}·2 (Cauchy–
    // Schwarz, E step² = 1/2, E relu² = 1/2, E erf² < 1), so tolerance 2^{−195}.
    let p = CLOSED_PREC;
    let s = Float::with_val(p, 0.5);
    let tol = two_pow(-195);
    let one = || vec![Constant::one()];
    let (zero, unit) = (Constant::zero(), Constant::one());
    let st = atom_coefficients(
        &Atom::Step {
            a: unit.clone(),
            b: zero.clone(),
        },
        K,
        p,
    );
    let want = Float::with_val(p, s.clone().asin()) / (pi(p) * 2u32) + 0.25f64;
    assert!(
        Float::with_val(p, kernel_series(&st, &st, &s) - &want).abs() < tol,
        "step"
    );
    let re = closed_coefficients(
        &[ClosedTerm::new(
            one(),
            Atom::Relu {
                a: unit.clone(),
                b: zero.clone(),
            },
        )],
        K,
        p,
    );
    let root = (Float::with_val(p, 1) - Float::with_val(p, &s * &s)).sqrt();
    let want = (root + (pi(p) - s.clone().acos()) * &s) / (pi(p) * 2u32);
    assert!(
        Float::with_val(p, kernel_series(&re, &re, &s) - &want).abs() < tol,
        "relu"
    );
    let (a, b) = (rat(7, 10, p), rat(13, 10, p));
    let ea = closed_coefficients(
        &[ClosedTerm::new(
            one(),
            Atom::Erf {
                a: rq(7, 10),
                b: zero.clone(),
            },
        )],
        K,
        p,
    );
    let eb = closed_coefficients(
        &[ClosedTerm::new(
            one(),
            Atom::Erf {
                a: rq(13, 10),
                b: zero.clone(),
            },
        )],
        K,
        p,
    );
    let den = ((Float::with_val(p, &a * &a) * 2u32 + 1u32)
        * (Float::with_val(p, &b * &b) * 2u32 + 1u32))
        .sqrt();
    let want = (Float::with_val(p, &a * &b) * 2u32 * &s / den).asin() * 2u32 / pi(p);
    assert!(
        Float::with_val(p, kernel_series(&ea, &eb, &s) - &want).abs() < tol,
        "erf"
    );
}

// ----- exact zeros

#[test]
fn exact_zeros_are_structural_and_numerically_zero() {
    let p = CLOSED_PREC;
    let term = |atom: Atom| ClosedTerm::new(vec![Constant::one()], atom);
    let (zero, unit) = (Constant::zero(), Constant::one());
    // (atom, predicate for the claimed zero set)
    let checks: Vec<(ClosedTerm, fn(usize) -> bool)> = vec![
        (
            term(Atom::Relu {
                a: unit.clone(),
                b: zero.clone(),
            }),
            |k| k >= 3 && k % 2 == 1,
        ),
        (
            term(Atom::Relu {
                a: Constant::Expr(Expr::Pi),
                b: zero.clone(),
            }),
            |k| k >= 3 && k % 2 == 1,
        ),
        (
            term(Atom::Abs {
                a: rq(-2, 1),
                b: zero.clone(),
            }),
            |k| k % 2 == 1,
        ),
        (
            term(Atom::Sign {
                a: unit.clone(),
                b: zero.clone(),
            }),
            |k| k % 2 == 0,
        ),
        (
            term(Atom::Step {
                a: unit.clone(),
                b: zero.clone(),
            }),
            |k| k >= 2 && k % 2 == 0,
        ),
        (
            term(Atom::Sin {
                a: rq(3, 2),
                b: zero.clone(),
            }),
            |k| k % 2 == 0,
        ),
        (
            term(Atom::Cos {
                a: rq(3, 2),
                b: zero.clone(),
            }),
            |k| k % 2 == 1,
        ),
        (
            term(Atom::Erf {
                a: rq(7, 10),
                b: zero.clone(),
            }),
            |k| k % 2 == 0,
        ),
        (
            term(Atom::Exp {
                c: rq(-1, 1),
                e: zero.clone(),
                f: rq(1, 2),
            }),
            |k| k % 2 == 1,
        ),
        // step(z − 1): He_2(1) = 0 gives c_3 = 0; no other He_n has the root 1
        (
            term(Atom::Step {
                a: unit.clone(),
                b: rq(-1, 1),
            }),
            |k| k == 3,
        ),
        // relu(2z − 2√3): z0 = √3 is a root of He_3 → c_5 = 0 (c_k ∝ He_{k−2}(z0))
        (
            term(Atom::Relu {
                a: rq(2, 1),
                b: Constant::Exact(Surd::from_term(Rational::from(-2), Integer::from(3))),
            }),
            |k| k == 5,
        ),
        // z·relu(z) = z² step(z): even k ≥ 4 vanish
        (
            ClosedTerm::new(
                vec![zero.clone(), unit.clone()],
                Atom::Relu {
                    a: unit.clone(),
                    b: zero.clone(),
                },
            ),
            |k| k >= 4 && k % 2 == 0,
        ),
        // nothing is claimed for a shifted relu, or for sin(z + pi) (b is not exact)
        (
            term(Atom::Relu {
                a: unit.clone(),
                b: rq(-1, 4),
            }),
            |_| false,
        ),
        (
            term(Atom::Sin {
                a: unit.clone(),
                b: Constant::Expr(Expr::Pi),
            }),
            |_| false,
        ),
    ];
    for (t, want) in &checks {
        let zeros = closed_exact_zeros(std::slice::from_ref(t), 60);
        let c = closed_coefficients(std::slice::from_ref(t), 60, p);
        let scale = max_abs(&c);
        for k in 0..=60 {
            assert_eq!(zeros[k], want(k), "{t:?}: k = {k}");
            if zeros[k] {
                // a claimed zero must also be numerically zero
                assert!(
                    Float::with_val(p, c[k].abs_ref())
                        <= Float::with_val(p, &scale * two_pow(-320)),
                    "{t:?}: k = {k}"
                );
            }
        }
    }
    // several terms: a zero is claimed only where all terms vanish
    let both = [checks[5].0.clone(), checks[6].0.clone()]; // sin (even zero) + cos (odd zero)
    assert!(closed_exact_zeros(&both, 20).iter().all(|z| !z));
}

// ----- (v) decomposition of the spec examples

#[test]
fn decompose_relu_plus_sin() {
    // 0.3*relu(z-0.25)+sin(1.5*z)
    let d = decompose(&(cases()[0].expr)());
    assert!(d.exact_polynomial.is_empty());
    assert!(d.residual.is_none());
    assert_eq!(
        d.closed,
        vec![
            ClosedTerm::new(
                vec![rq(3, 10)],
                Atom::Relu {
                    a: Constant::one(),
                    b: rq(-1, 4)
                }
            ),
            ClosedTerm::new(
                vec![Constant::one()],
                Atom::Sin {
                    a: rq(3, 2),
                    b: Constant::zero()
                }
            ),
        ]
    );
}

#[test]
fn decompose_paper_activation_is_exact() {
    // 5*(z^2*exp(-z^2)-sqrt(3)/9): exact part −5√3/9, closed 5z²·exp(−z²); every coefficient
    // is exact (λ = 3, λ^{−1/2} = √3/3), and c_0 = c_1 = c_2 = c_3 = 0 exactly
    // (information exponent 4, docs/conventions.md §7).
    let d = decompose(&(cases()[1].expr)());
    assert_eq!(
        d.exact_polynomial,
        vec![Surd::from_term(Rational::from((-5, 9)), Integer::from(3))]
    );
    assert_eq!(
        d.closed,
        vec![ClosedTerm::new(
            vec![Constant::zero(), Constant::zero(), rq(5, 1)],
            Atom::Exp {
                c: rq(-1, 1),
                e: Constant::zero(),
                f: Constant::zero()
            }
        )]
    );
    assert!(d.residual.is_none());
    let exact = d.exact_hermite(K).expect("exact table");
    assert!(exact[..4].iter().all(Surd::is_zero));
    assert!(!exact[4].is_zero());
    // the exact table agrees with the quadrature (tolerance as in quadrature_agrees_to_1e75)
    let q = &quad_tables().coeffs[1];
    for k in 0..=K {
        let diff = Float::with_val(QUAD_PREC, exact[k].to_float(CLOSED_PREC) - &q[k]).abs();
        assert!(
            diff < 1e-75,
            "c_{k}: exact {} vs quadrature {}",
            exact[k],
            q[k]
        );
    }
    // closed part alone, 5z²e^{−z²}: c_0 = 5√3/9 ≠ 0; c_2 = 5(3·3^{−5/2} − 3^{−3/2})/√2 = 0
    // exactly (found by the exact table, not by smallness); odd ones vanish by parity
    let z = closed_exact_zeros(&d.closed, 10);
    assert_eq!(
        z,
        (0..=10).map(|k| k % 2 == 1 || k == 2).collect::<Vec<_>>()
    );
}

#[test]
fn decompose_gelu() {
    // gelu(z) = z/2 + (z/2)·erf(z/√2)
    let d = decompose(&call(Func::Gelu, z()));
    let half = Surd::from_rational(Rational::from((1, 2)));
    assert_eq!(d.exact_polynomial, vec![Surd::zero(), half.clone()]);
    let inv_sqrt2 = Surd::from_term(Rational::from((1, 2)), Integer::from(2));
    assert_eq!(
        d.closed,
        vec![ClosedTerm::new(
            vec![Constant::zero(), Constant::Exact(half)],
            Atom::Erf {
                a: Constant::Exact(inv_sqrt2),
                b: Constant::zero()
            }
        )]
    );
    assert!(d.residual.is_none());
}

#[test]
fn decompose_tanh_plus_relu() {
    let e = add(call(Func::Tanh, z()), call(Func::Relu, z()));
    let d = decompose(&e);
    assert_eq!(d.residual, Some(call(Func::Tanh, z())));
    assert_eq!(
        d.closed,
        vec![ClosedTerm::new(
            vec![Constant::one()],
            Atom::Relu {
                a: Constant::one(),
                b: Constant::zero()
            }
        )]
    );
    assert!(d.exact_polynomial.is_empty());
    // products with a residual factor or of two non-exp atoms go to the residual whole
    for e in [
        mul(call(Func::Relu, z()), call(Func::Sin, z())),
        mul(add(z(), call(Func::Tanh, z())), call(Func::Relu, z())),
        pow(call(Func::Relu, z()), 2),
        call(Func::Relu, pow(z(), 2)),
        call(Func::Sin, call(Func::Sin, z())),
    ] {
        let d = decompose(&e);
        assert_eq!(d.residual, Some(e.clone()));
        assert!(d.closed.is_empty() && d.exact_polynomial.is_empty());
    }
}

#[test]
fn decompose_he4_plus_he6_is_exact() {
    let d = decompose(&add(call(Func::He(4), z()), call(Func::He(6), z())));
    assert!(d.closed.is_empty() && d.residual.is_none());
    let c = exact_coefficients(&d.exact_polynomial, 8);
    for (k, ck) in c.iter().enumerate() {
        let want = if k == 4 || k == 6 {
            Surd::one()
        } else {
            Surd::zero()
        };
        assert_eq!(*ck, want, "k = {k}");
    }
    // he3 of an affine argument: h_3(2z + 1) is a polynomial with exact coefficients
    let d = decompose(&call(Func::He(3), add(mul(num(2, 1), z()), num(1, 1))));
    assert!(d.closed.is_empty() && d.residual.is_none());
    assert_eq!(d.exact_polynomial.len(), 4);
}

#[test]
fn decompose_products_and_constants() {
    // exp(z/2)·exp(−z²/4) merges into one exp atom
    let e = mul(
        call(Func::Exp, mul(num(1, 2), z())),
        call(Func::Exp, Expr::Neg(Box::new(mul(num(1, 4), pow(z(), 2))))),
    );
    let d = decompose(&e);
    assert_eq!(
        d.closed,
        vec![ClosedTerm::new(
            vec![Constant::one()],
            Atom::Exp {
                c: rq(-1, 4),
                e: rq(1, 2),
                f: Constant::zero()
            }
        )]
    );
    // (z+1)·relu(z)/sqrt(2): polynomial factor with surd coefficients
    let e = div(
        mul(add(z(), num(1, 1)), call(Func::Relu, z())),
        sqrt(num(2, 1)),
    );
    let d = decompose(&e);
    let r = Constant::Exact(Surd::from_term(Rational::from((1, 2)), Integer::from(2)));
    assert_eq!(
        d.closed,
        vec![ClosedTerm::new(
            vec![r.clone(), r],
            Atom::Relu {
                a: Constant::one(),
                b: Constant::zero()
            }
        )]
    );
    // pi·z² + 1: exact part 1, closed term pi·z² with atom 1
    let d = decompose(&add(mul(Expr::Pi, pow(z(), 2)), num(1, 1)));
    assert_eq!(d.exact_polynomial, vec![Surd::one()]);
    assert_eq!(
        d.closed,
        vec![ClosedTerm::new(
            vec![Constant::zero(), Constant::zero(), Constant::Expr(Expr::Pi)],
            Atom::One
        )]
    );
    // every case reassembles: decompose(decompose(σ).to_expr()) has the same coefficients
    // (to 2^{−190}, the precision-doubling contract at 200 bits)
    for case in cases() {
        let d = decompose(&(case.expr)());
        let again = decompose(&d.to_expr());
        let (a, b) = (table(&d, 30, 200), table(&again, 30, 200));
        let tol = max_abs(&a) * two_pow(-190);
        for k in 0..=30 {
            assert!(
                Float::with_val(200, &a[k] - &b[k]).abs() <= tol,
                "{}: c_{k}",
                case.name
            );
        }
    }
}

#[test]
fn decompose_parsed_spec_examples() {
    // The spec strings through the parser give the same decomposition tables as the trees
    // above (to 2^{−190}, the precision-doubling contract at 200 bits), and the same
    // residual split.
    use mforacle::activation::Spec;
    let pairs = [
        ("0.3*relu(z-0.25)+sin(1.5*z)", (cases()[0].expr)()),
        ("5*(z^2*exp(-z^2)-sqrt(3)/9)", (cases()[1].expr)()),
        ("gelu", (cases()[2].expr)()),
        (
            "he4+he6",
            add(call(Func::He(4), z()), call(Func::He(6), z())),
        ),
        ("cos(2*z-1) + z*sin(0.5*z+pi/3)", (cases()[7].expr)()),
    ];
    for (src, tree) in pairs {
        let spec = Spec::parse(src).unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (decompose(&spec.expr), decompose(&tree));
        let (ta, tb) = (table(&a, 30, 200), table(&b, 30, 200));
        let tol = max_abs(&tb) * two_pow(-190);
        for k in 0..=30 {
            assert!(
                Float::with_val(200, &ta[k] - &tb[k]).abs() <= tol,
                "{src}: c_{k}"
            );
        }
        assert_eq!(a.exact_hermite(30), b.exact_hermite(30), "{src}");
    }
    let d = decompose(&Spec::parse("tanh(z)+relu(z)").unwrap().expr);
    assert_eq!(d.residual, Some(call(Func::Tanh, z())));
    assert_eq!(d.closed.len(), 1);
}
