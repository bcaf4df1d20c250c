//! Tests of activation specs: parser, printer, evaluators and analyses.
//!
//! Proofs-note: `proofs-notes/activation.md` (each section there names the tests here).
//! Computed values are checked against an independent evaluation (rug vs f64, 200 vs 400
//! bits, exact identities, finite differences, z vs −z, polynomial form vs tree), with
//! tolerances derived from the rounding model stated in each helper. The only literal
//! expected values are exact ones (kink locations of rational arguments, rational growth
//! exponents, exact trees and coefficients).

use mforacle::activation::analysis::{as_polynomial, derivative, fold_rational, kinks, parity};
use mforacle::activation::eval::{eval_const_rug, eval_f64, eval_rug, GUARD_BITS};
use mforacle::activation::parse::parse;
use mforacle::activation::{Expr, Func, Parity, Spec, SpecError};
use mforacle::hermite::{he_coefficients, NormalisedHermite};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use rug::{Float, Rational};

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

fn spec(s: &str) -> Expr {
    match Spec::parse(s) {
        Ok(sp) => sp.expr,
        Err(e) => panic!("{s:?} should be a valid spec: {e}"),
    }
}

fn b(e: Expr) -> Box<Expr> {
    Box::new(e)
}

fn q(n: i64, d: i64) -> Expr {
    Expr::Num(Rational::from((n, d)))
}

fn call(f: Func, e: Expr) -> Expr {
    Expr::Call(f, b(e))
}

fn fl(prec: u32, x: f64) -> Float {
    Float::with_val(prec, x)
}

fn absf(x: &Float) -> f64 {
    x.to_f64().abs()
}

const ALL_FUNCS: [Func; 14] = [
    Func::Relu,
    Func::Abs,
    Func::Step,
    Func::Sign,
    Func::Erf,
    Func::Tanh,
    Func::Sigmoid,
    Func::Softplus,
    Func::Gelu,
    Func::Silu,
    Func::Sin,
    Func::Cos,
    Func::Exp,
    Func::Log1p,
];

/// The specs quoted in the issue, all of which must parse.
const ISSUE_EXAMPLES: [&str; 6] = [
    "tanh(2*z+0.5)",
    "0.3*relu(z-0.25)+sin(1.5*z)",
    "5*(z^2*exp(-z^2)-sqrt(3)/9)",
    "he4+he6",
    "gelu",
    "log1p(z^2)",
];

/// f'(x) at 256 bits (0 for step/sign, whose jumps are handled by the callers).
fn fprime(f: &Func, x: &Float) -> Float {
    match derivative(&call(f.clone(), Expr::Z)) {
        Some(d) => eval_rug(&d, x, 256),
        None => Float::with_val(256, 0),
    }
}

/// max_{j≤k} |h_j(x)|, the scale of the Hermite recurrence's rounding errors.
fn hermite_scale(k: u32, x: &Float) -> f64 {
    NormalisedHermite::new(k as usize, 256)
        .values(x)
        .iter()
        .map(absf)
        .fold(0.0, f64::max)
}

/// First-order forward error bound for evaluating `e` at the exact point `z` in arithmetic
/// with unit roundoff `u`, returned with the value at 256 bits.
///
/// Model: every +, −, ×, ÷, sqrt and literal adds a relative error u; every named function
/// and pow adds `lib`·u·(|f(x)| + |x·f'(x)|), which covers both the library's own error
/// (≤ 1 ulp for libm's erf/erfc/exp/log1p/tanh/sin/cos/pow, 1/2 ulp for MPFR) and the
/// roundings inside the stable composite forms (e.g. −x/√2 in gelu is a relative
/// perturbation of the argument, amplified by |x f'(x)|); `lib` = 8 for f64, 4 for rug.
/// he<k> adds the recurrence bound 4(k+1)·u·max_{j≤k}|h_j(x)| (hermite.rs). Errors of
/// arguments propagate through products and powers exactly ((|a|+δ)^n − |a|^n, not just the
/// first-order term, which vanishes at a = 0), through functions by max |f'| at x and x ± δ;
/// step/sign add their jump when the argument's error interval contains 0. Callers skip
/// points where the bound is not small relative to the value (second-order effects).
fn error_bound(e: &Expr, z: &Float, u: f64, lib: f64) -> (Float, f64) {
    let v = eval_rug(e, z, 256);
    let av = absf(&v);
    let bd = match e {
        Expr::Num(_) | Expr::Pi => u * av,
        Expr::Z => 0.0,
        Expr::Neg(a) => error_bound(a, z, u, lib).1,
        Expr::Add(a, c) | Expr::Sub(a, c) => {
            error_bound(a, z, u, lib).1 + error_bound(c, z, u, lib).1 + u * av
        }
        Expr::Mul(a, c) => {
            let ((va, ba), (vc, bc)) = (error_bound(a, z, u, lib), error_bound(c, z, u, lib));
            absf(&vc) * ba + absf(&va) * bc + ba * bc + u * av
        }
        Expr::Div(a, c) => {
            let ((va, ba), (vc, bc)) = (error_bound(a, z, u, lib), error_bound(c, z, u, lib));
            let d = absf(&vc);
            if d <= bc {
                return (v, f64::INFINITY);
            }
            ba / (d - bc) + absf(&va) * bc / (d * (d - bc)) + u * av
        }
        Expr::Pow(a, n) => {
            let (va, ba) = error_bound(a, z, u, lib);
            let x = absf(&va);
            let n = *n as i32;
            ((x + ba).powi(n) - x.powi(n)) + lib * u * av
        }
        Expr::Sqrt(a) => {
            let (va, ba) = error_bound(a, z, u, lib);
            let x = absf(&va);
            let prop = if x > 0.0 {
                (ba / (2.0 * x.sqrt())).min(ba.sqrt())
            } else {
                ba.sqrt()
            };
            prop + u * av
        }
        Expr::Call(f, a) => {
            let (x, bx) = error_bound(a, z, u, lib);
            let fp = [-bx, 0.0, bx]
                .iter()
                .map(|t| absf(&fprime(f, &Float::with_val(256, &x + *t))))
                .fold(0.0, f64::max);
            let mut bd = fp * bx + lib * u * (av + absf(&x) * fp);
            match f {
                Func::Step if absf(&x) <= bx => bd += 1.0,
                Func::Sign if absf(&x) <= bx => bd += 2.0,
                Func::He(k) => bd += 4.0 * (*k as f64 + 1.0) * u * hermite_scale(*k, &x),
                _ => {}
            }
            bd
        }
    };
    (v, bd)
}

/// Largest magnitude of any intermediate of `e` at z (at 400 bits); a he<k> node counts
/// (k+1)·max_{j≤k}|h_j|, the scale of its recurrence.
fn max_intermediate(e: &Expr, z: &Float) -> f64 {
    let here = absf(&eval_rug(e, z, 400));
    let kids = match e {
        Expr::Num(_) | Expr::Pi | Expr::Z => 0.0,
        Expr::Call(Func::He(k), a) => {
            let x = eval_rug(a, z, 400);
            max_intermediate(a, z).max((*k as f64 + 1.0) * hermite_scale(*k, &x))
        }
        Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) | Expr::Call(_, a) => max_intermediate(a, z),
        Expr::Add(a, c) | Expr::Sub(a, c) | Expr::Mul(a, c) | Expr::Div(a, c) => {
            max_intermediate(a, z).max(max_intermediate(c, z))
        }
    };
    here.max(kids)
}

/// Compare eval_f64 with the 256-bit value; `Err` with a message when outside the bound.
/// `Ok(false)` when the point was skipped (f64 overflow, or the first-order bound is not
/// small relative to the value, where first-order error analysis is not trustworthy).
fn check_f64(e: &Expr, x: f64) -> Result<bool, String> {
    let z = fl(256, x);
    let (v, bd) = error_bound(e, &z, f64::EPSILON / 2.0, 8.0);
    let got = eval_f64(e, x);
    if !got.is_finite() || !v.is_finite() || absf(&v) > 1e300 || !bd.is_finite() {
        return Ok(false);
    }
    if bd > 1e-6 * absf(&v).max(1.0) {
        return Ok(false);
    }
    let diff = absf(&Float::with_val(256, &v - got));
    // factor 2: slack for the first-order model; 2^-1000: underflow to subnormals
    let tol = 2.0 * bd + 2f64.powi(-1000);
    if diff <= tol {
        Ok(true)
    } else {
        Err(format!(
            "{e} at z = {x}: f64 {got:e}, rug {v:.20e}, diff {diff:e} > tol {tol:e}"
        ))
    }
}

/// eval_rug at 200 and 400 bits must agree to 2^-190 times the largest intermediate: the
/// 200-bit run works at 232 bits, so each rounding is 2^-232 relative to its own
/// intermediate, and the final rounding 2^-201 relative to the result; the margin 2^10 covers
/// the operation count and the condition factors (≤ |argument|) of the functions used.
fn check_precision(e: &Expr, x: &Float) -> Result<(), String> {
    let v200 = eval_rug(e, x, 200);
    let v400 = eval_rug(e, x, 400);
    assert_eq!(v200.prec(), 200);
    assert_eq!(v400.prec(), 400);
    if !v400.is_finite() {
        return Ok(());
    }
    let m = max_intermediate(e, x);
    let diff = Float::with_val(400, &v200 - &v400).abs();
    let tol = Float::with_val(400, m) >> 190u32;
    if diff <= tol {
        Ok(())
    } else {
        Err(format!(
            "{e} at {x}: |v200 - v400| = {diff:e} > 2^-190·{m:e}"
        ))
    }
}

fn grid(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let mut v = Vec::new();
    let mut x = lo;
    while x <= hi {
        v.push(x);
        x += step;
    }
    v.extend([0.0, 1e-10, -1e-10, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0]);
    v
}

/// The exact domain of each function used in tests (sqrt, log1p need it).
fn in_domain(f: &Func, x: f64) -> bool {
    !matches!(f, Func::Log1p) || x > -0.99
}

// ---------------------------------------------------------------------------------------
// parsing
// ---------------------------------------------------------------------------------------

#[test]
fn parse_issue_examples() {
    for s in ISSUE_EXAMPLES {
        spec(s);
    }
    // exact trees for two of them
    assert_eq!(
        spec("tanh(2*z+0.5)"),
        call(
            Func::Tanh,
            Expr::Add(b(Expr::Mul(b(q(2, 1)), b(Expr::Z))), b(q(1, 2)))
        )
    );
    assert_eq!(
        spec("he4+he6"),
        Expr::Add(b(call(Func::He(4), Expr::Z)), b(call(Func::He(6), Expr::Z)))
    );
    assert_eq!(spec("gelu"), call(Func::Gelu, Expr::Z));
    let e = Spec::parse("exp(z^2)").unwrap_err();
    assert_eq!(e.position, 0);
}

#[test]
fn parse_numbers_exactly() {
    let cases: [(&str, i64, i64); 9] = [
        ("0.25", 1, 4),
        ("1e-3", 1, 1000),
        ("2.5E+2", 250, 1),
        ("2.5e2", 250, 1),
        (".5", 1, 2),
        ("3.", 3, 1),
        ("0.1", 1, 10),
        ("12.340e-1", 1234, 1000),
        ("007", 7, 1),
    ];
    for (s, n, d) in cases {
        assert_eq!(parse(s).unwrap(), q(n, d), "{s}");
    }
    // far outside f64's exact range, still exact
    let tiny = parse("1e-400").unwrap();
    let Expr::Num(t) = tiny else { panic!() };
    assert_eq!(
        t * Rational::from(rug::Integer::from(rug::Integer::u_pow_u(10, 400))),
        1
    );
}

#[test]
fn parse_precedence_and_bare_names() {
    let z = || b(Expr::Z);
    assert_eq!(parse("-z^2").unwrap(), Expr::Neg(b(Expr::Pow(z(), 2))));
    assert_eq!(parse("(-z)^2").unwrap(), Expr::Pow(b(Expr::Neg(z())), 2));
    assert_eq!(
        parse("z^-2").unwrap(),
        Expr::Div(b(q(1, 1)), b(Expr::Pow(z(), 2)))
    );
    assert_eq!(parse("z^-0").unwrap(), Expr::Pow(z(), 0));
    assert_eq!(
        parse("2-3-4").unwrap(),
        Expr::Sub(b(Expr::Sub(b(q(2, 1)), b(q(3, 1)))), b(q(4, 1)))
    );
    assert_eq!(
        parse("8/4/2").unwrap(),
        Expr::Div(b(Expr::Div(b(q(8, 1)), b(q(4, 1)))), b(q(2, 1)))
    );
    assert_eq!(
        parse("1+2*z").unwrap(),
        Expr::Add(b(q(1, 1)), b(Expr::Mul(b(q(2, 1)), z())))
    );
    assert_eq!(parse("--z").unwrap(), Expr::Neg(b(Expr::Neg(z()))));
    assert_eq!(
        parse("2*-z").unwrap(),
        Expr::Mul(b(q(2, 1)), b(Expr::Neg(z())))
    );
    assert_eq!(parse(" tanh ").unwrap(), call(Func::Tanh, Expr::Z));
    assert_eq!(parse("he4").unwrap(), call(Func::He(4), Expr::Z));
    assert_eq!(parse("he0").unwrap(), call(Func::He(0), Expr::Z));
    assert_eq!(parse("he1000").unwrap(), call(Func::He(1000), Expr::Z));
    assert_eq!(parse("sqrt").unwrap(), Expr::Sqrt(z()));
    assert_eq!(parse("sqrt(pi)").unwrap(), Expr::Sqrt(b(Expr::Pi)));
    assert_eq!(parse("tanh (z)").unwrap(), call(Func::Tanh, Expr::Z));
    for f in ALL_FUNCS {
        assert_eq!(parse(&f.name()).unwrap(), call(f.clone(), Expr::Z));
        assert_eq!(
            parse(&format!("{}(z)", f.name())).unwrap(),
            call(f, Expr::Z)
        );
    }
}

// ---------------------------------------------------------------------------------------
// errors: every class, with its position
// ---------------------------------------------------------------------------------------

#[track_caller]
fn assert_err(src: &str, position: usize, reason_part: &str) -> SpecError {
    let e = match Spec::parse(src) {
        Ok(s) => panic!("{src:?} should be rejected, parsed as {}", s.expr),
        Err(e) => e,
    };
    assert_eq!(e.position, position, "{src:?}: {}", e.reason);
    assert!(
        e.reason.contains(reason_part),
        "{src:?}: reason {:?} lacks {reason_part:?}",
        e.reason
    );
    assert_eq!(e.source_text, src);
    assert!(!e.reason.contains('\n'), "one-line reason");
    e
}

#[test]
fn error_empty_input() {
    assert_err("", 0, "empty");
    assert_err("   ", 0, "empty");
}

#[test]
fn error_unbalanced_parenthesis() {
    assert_err("(z+1", 0, "unbalanced parenthesis");
    assert_err("2*tanh(z", 6, "unbalanced parenthesis");
    assert_err("z+1)", 3, "unbalanced parenthesis");
    assert_err("tanh(z))", 7, "unbalanced parenthesis");
    assert_err(")", 0, "unbalanced parenthesis");
}

#[test]
fn error_unexpected_character() {
    assert_err("z + $", 4, "unexpected character '$'");
    assert_err("z ** 2", 3, "unexpected character '*'");
    assert_err("z + é", 4, "unexpected character 'é'");
    assert_err("z+", 2, "ended");
    assert_err("1.2.3", 3, "malformed number");
    assert_err("1e+", 1, "malformed number");
}

#[test]
fn error_unknown_function() {
    let e = assert_err("foo(z)", 0, "unknown name \"foo\"");
    for name in ["relu", "gelu", "log1p", "sqrt", "he<k>"] {
        assert!(e.reason.contains(name), "reason lists {name}");
    }
    assert_err("2*tanhh(z)", 2, "unknown name \"tanhh\"");
    assert_err("x", 0, "unknown name \"x\"");
    assert_err("he", 0, "unknown name");
}

#[test]
fn error_trailing_garbage() {
    assert_err("z $", 2, "after the end");
    assert_err("z z", 2, "implicit multiplication");
    assert_err("2z", 1, "implicit multiplication");
    assert_err("2exp(z)", 1, "implicit multiplication");
    assert_err("(z)(z)", 3, "implicit multiplication");
    assert_err("z^2^3", 3, "chained powers");
}

#[test]
fn error_bad_power() {
    assert_err("z^2.5", 2, "must be an integer");
    assert_err("z^1001", 2, "at most 1000");
    assert_err("z^-1001", 3, "at most 1000");
    assert_err("z^z", 2, "integer literal");
    assert_err("z^", 2, "ended");
    assert_err("he1001", 0, "at most 1000");
    assert_err("1e99999", 0, "exponent too large");
    // the limits themselves are fine
    spec("z^1000");
    spec("he1000");
}

#[test]
fn error_growth_too_fast() {
    assert_err("exp(z^2)", 0, "exp(z^2/4)");
    assert_err("exp(z^3)", 0, "argument of exp");
    assert_err("exp(0.3*z^2)", 0, "0.300000");
    assert_err("exp(z^2/4)", 0, "0.250000");
    assert_err("tanh(z) + exp(-z^3)", 10, "argument of exp");
    assert_err("exp(0.2*z^2)*exp(0.2*z^2)", 12, "0.400000");
    assert_err("z^2*exp(0.3*z^2)", 4, "0.300000");
    assert_err("1/sigmoid(-z^2)", 1, "");
    assert_err("exp(exp(z))", 0, "argument of exp");
    // just below the threshold, or decaying, or bounded: accepted
    spec("exp(0.2499*z^2)");
    spec("exp(-z^4+z^3)");
    spec("tanh(exp(z^2))");
}

#[test]
fn error_kink_argument_not_affine() {
    assert_err("relu(z^2)", 0, "affine");
    assert_err("1 + abs(tanh(z))", 4, "affine");
    assert_err("step(z*z)", 0, "degree 2");
    assert_err("sign(sin(z))", 0, "affine");
    spec("relu(2)");
    spec("relu(3*(z - 1)/2)");
    spec("abs(he1(z) + 1)");
}

#[test]
fn error_division_not_provably_nonzero() {
    assert_err("1/z", 1, "denominator");
    assert_err("tanh(z)/(z^2)", 7, "denominator");
    assert_err("1/(z^2 - 1)", 1, "denominator");
    assert_err("1/(2 + sin(z))", 1, "denominator"); // true but not provable by the rules
    assert_err("z^-2", 1, "denominator");
    assert_err("1/(1 - 1)", 1, "division by zero");
    assert_err("1/(pi - pi)", 1, "zero");
}

#[test]
fn error_sqrt_and_log1p_domain() {
    assert_err("sqrt(z)", 0, "sqrt");
    assert_err("1 + sqrt(z - 1)", 4, "sqrt");
    assert_err("sqrt(-1)", 0, "sqrt");
    assert_err("sqrt(3 - pi)", 0, "sqrt");
    assert_err("log1p(z)", 0, "log1p");
    assert_err("log1p(-z^2)", 0, "log1p");
    assert_err("log1p(-2)", 0, "log1p");
    spec("sqrt(pi - 3)");
    spec("log1p(-0.5)");
}

#[test]
fn error_nan_or_overflowing_constant() {
    assert_err("exp(1e30) - exp(1e30)", 0, "NaN");
    assert_err("z + 0*exp(1e30)", 6, "NaN");
}

#[test]
fn validate_accepts() {
    for s in [
        "exp(0.2499*z^2)",
        "exp(-z^4 + z^3)",
        "exp(-z^2)*z^5",
        "1/(1 + z^2)",
        "z/sigmoid(z^2)",
        "exp(0.1*z^2)/sigmoid(z)",
        "log1p(exp(z))",
        "sqrt(1 + z^2)",
        "sqrt(z^2)",
        "relu(2*z - 1)*exp(-z^2)",
        "1/exp(0.3*z^2)",
        "sign(pi - 3)",
        "abs(sqrt(2)*z - 1)",
        "exp(z*tanh(z))",
        "exp(-relu(z)^2)",
        "exp(-(z^2)/pi)",
        "softplus(z)/(1 + z^2)",
        "z^1000",
        "he1000",
        "3",
        // the polynomial rule cannot sign the leading coefficient sin(0)², the fallback can
        "exp(-(sin(0)*-z)^2)",
    ] {
        spec(s);
    }
}

/// The growth rule against the functions themselves: log|σ(z)|/z² at z = ±100 (256 bits)
/// is below 1/4 for accepted specs and at least 1/4 − 0.01 for the ones rejected for growth.
/// (At |z| = 100 the polynomial factors contribute at most log(100^k)/10^4 ≈ 0.005·k/10.)
#[test]
fn validate_growth_matches_asymptotics() {
    let ratio = |e: &Expr, x: f64| {
        let v = eval_rug(e, &fl(256, x), 256).abs();
        if v == 0 {
            f64::NEG_INFINITY
        } else {
            v.ln().to_f64() / (x * x)
        }
    };
    for s in [
        "exp(0.2499*z^2)",
        "exp(-z^4 + z^3)",
        "exp(0.1*z^2)/sigmoid(z)",
        "tanh(exp(z^2))",
        "exp(z*tanh(z))",
        "z^5*exp(0.2*z^2)",
        "1/exp(0.3*z^2)",
    ] {
        let e = spec(s);
        for x in [100.0, -100.0] {
            assert!(ratio(&e, x) < 0.25, "{s} at {x}");
        }
    }
    for s in [
        "exp(z^2)",
        "exp(z^3)",
        "exp(0.3*z^2)",
        "exp(z^2/4)",
        "1/sigmoid(-z^2)",
        "exp(0.2*z^2)*exp(0.2*z^2)",
    ] {
        let e = parse(s).unwrap();
        assert!(Spec::parse(s).is_err());
        let worst = ratio(&e, 100.0).max(ratio(&e, -100.0));
        assert!(worst >= 0.24, "{s}: {worst}");
    }
}

#[test]
fn validate_growth_bound_values() {
    use mforacle::activation::analysis::{growth_bound, Growth};
    let gauss = |s: &str| match growth_bound(&spec(s)) {
        Growth::Gauss(c) => c.to_f64(),
        g => panic!("{s}: {g:?}"),
    };
    assert_eq!(growth_bound(&spec("z^3 + tanh(z)*z")), Growth::Poly(3));
    assert_eq!(growth_bound(&spec("tanh")), Growth::Poly(0));
    assert_eq!(growth_bound(&spec("exp(-z^2)*z^2")), Growth::Poly(2));
    assert_eq!(growth_bound(&spec("sqrt(1 + z^2)")), Growth::Poly(1));
    // conservative: log1p(exp(z)) ≤ |z| + log 2, but the rule only uses exp(z) = Gauss(0)
    assert_eq!(growth_bound(&spec("log1p(exp(z))")), Growth::Poly(2));
    assert_eq!(gauss("exp(z)"), 0.0);
    assert_eq!(gauss("gelu(exp(z))/(1 + z^2)"), 0.0);
    // exact for rational exponents (rounded up at 256 bits: equal in f64)
    assert_eq!(gauss("z^3*exp(0.2*z^2)"), 0.2);
    assert_eq!(gauss("exp(0.1*z^2)/sigmoid(z)"), 0.1);
    assert_eq!(gauss("sqrt(exp(0.2*z^2))"), 0.1);
    // 3·0.05 at 256 bits rounded up: 0.15 to within 2^-250
    assert!((gauss("exp(0.05*z^2)^3") - 0.15).abs() < 1e-16);
}

// ---------------------------------------------------------------------------------------
// printing
// ---------------------------------------------------------------------------------------

#[test]
fn display_round_trip_examples() {
    for s in ISSUE_EXAMPLES.iter().copied().chain([
        "-z^2",
        "(-z)^2",
        "z^-3",
        "--z",
        "2-3-4",
        "2-(3-4)",
        "8/(4/2)",
        "8/4/2",
        "(z^2)^3",
        "0.25^2",
        "1e-3*z",
        "2.5E+2*z",
        "z - -z",
        "2*-z",
        "-(z+1)*3",
        "sqrt(pi)*he3(z/sqrt(2))",
        "0.000001*z + 123456789.125",
    ]) {
        let e = parse(s).unwrap();
        let printed = e.to_string();
        assert_eq!(parse(&printed).unwrap(), e, "{s} printed as {printed}");
    }
    assert_eq!(parse("z - (1 - z)").unwrap().to_string(), "z - (1 - z)");
    assert_eq!(parse("((z))*(2)").unwrap().to_string(), "z*2");
}

/// Literals the parser never produces (negative, non-decimal rationals, as built by
/// `derivative` and `as_polynomial`) print as an equal-valued expression, and printing is
/// idempotent after one round.
#[test]
fn display_non_decimal_literals() {
    let cases = [
        q(1, 3),
        q(-2, 1),
        q(-1, 3),
        Expr::Mul(b(q(1, 3)), b(Expr::Z)),
        Expr::Mul(b(Expr::Z), b(q(-1, 7))),
        Expr::Pow(b(q(1, 3)), 2),
        Expr::Pow(b(q(-2, 1)), 3),
        Expr::Neg(b(q(-2, 1))),
        Expr::Sub(b(Expr::Z), b(q(-5, 2))),
        Expr::Div(b(Expr::Z), b(q(2, 3))),
    ];
    for e in cases {
        let once = parse(&e.to_string()).unwrap();
        for x in [0.7, -1.3] {
            let (v1, v2) = (
                eval_rug(&e, &fl(200, x), 200),
                eval_rug(&once, &fl(200, x), 200),
            );
            let tol = Float::with_val(200, v1.abs_ref()) >> 195u32;
            assert!(
                Float::with_val(200, &v1 - &v2).abs() <= tol,
                "{e:?} -> {once}"
            );
        }
        assert_eq!(parse(&once.to_string()).unwrap(), once);
    }
}

// ---------------------------------------------------------------------------------------
// evaluation
// ---------------------------------------------------------------------------------------

#[test]
fn eval_special_values() {
    let at = |s: &str, x: f64| eval_f64(&parse(s).unwrap(), x);
    let at_rug = |s: &str, x: f64| eval_rug(&parse(s).unwrap(), &fl(64, x), 64).to_f64();
    for ev in [at, at_rug] {
        assert_eq!(ev("step", 0.0), 0.5);
        assert_eq!(ev("step", -0.0), 0.5);
        assert_eq!(ev("sign", 0.0), 0.0);
        assert_eq!(ev("sign", -3.0), -1.0);
        assert_eq!(ev("relu", -2.0), 0.0);
        assert_eq!(ev("he0", 7.0), 1.0);
        assert_eq!(ev("he1", 7.0), 7.0);
        // no overflow or NaN in the stable forms at extreme arguments
        assert_eq!(ev("softplus", 800.0), 800.0);
        assert_eq!(ev("sigmoid", 800.0), 1.0);
        assert_eq!(ev("gelu", 800.0), 800.0);
        assert!(ev("sigmoid", -800.0) >= 0.0);
        assert!(ev("silu", -800.0) <= 0.0);
        assert!(ev("softplus", -800.0) >= 0.0);
    }
    assert!(eval_const_rug(&parse("sqrt(2)^2 - 2").unwrap(), 200).abs() < 1e-59);
    assert_eq!(GUARD_BITS, 32);
}

/// Every function, sqrt and pow, at ~170 points in [−30, 30]: eval_f64 within the rounding
/// bound of `error_bound` (a few ulps × condition) of the 256-bit value.
#[test]
fn eval_f64_matches_rug_each_function() {
    let mut exprs: Vec<Expr> = ALL_FUNCS.iter().map(|f| call(f.clone(), Expr::Z)).collect();
    for k in [0, 1, 2, 3, 5, 10, 25, 60] {
        exprs.push(call(Func::He(k), Expr::Z));
    }
    for n in [0, 2, 3, 7, 20] {
        exprs.push(Expr::Pow(b(Expr::Z), n));
    }
    exprs.push(Expr::Sqrt(b(Expr::Z)));
    let mut checked = 0;
    for e in &exprs {
        for x in grid(-30.0, 30.0, 0.37) {
            let ok_domain = match e {
                Expr::Call(f, _) => in_domain(f, x),
                Expr::Sqrt(_) => x >= 0.0,
                _ => true,
            };
            if !ok_domain {
                continue;
            }
            if check_f64(e, x).unwrap_or_else(|m| panic!("{m}")) {
                checked += 1;
            }
        }
    }
    assert!(checked > 4000, "only {checked} points checked");
}

/// Relative accuracy of the stable forms where the naive formula fails completely.
#[test]
fn eval_f64_stable_forms_in_the_tails() {
    for (s, x) in [
        ("gelu", -37.0),
        ("gelu", -20.0),
        ("sigmoid", -700.0),
        ("silu", -700.0),
        ("softplus", -700.0),
        ("softplus", 40.0),
        ("sigmoid", 40.0),
    ] {
        let e = parse(s).unwrap();
        let v = eval_rug(&e, &fl(256, x), 256);
        let got = eval_f64(&e, x);
        let rel = (Float::with_val(256, &v - got) / &v).abs().to_f64();
        // the condition |x f'/f| is at most x² + 1 ≈ 1400 here (gelu at −37), times 8 ulps
        assert!(rel < 1400.0 * 8.0 * f64::EPSILON, "{s}({x}): rel {rel:e}");
    }
}

#[test]
fn eval_f64_matches_rug_issue_examples() {
    let mut checked = 0;
    for s in ISSUE_EXAMPLES
        .iter()
        .copied()
        .chain(["exp(-z^2)*cos(3*z)", "he7(0.8*z + 0.1)/(1 + z^2)"])
    {
        let e = spec(s);
        for x in grid(-12.0, 12.0, 0.173) {
            if check_f64(&e, x).unwrap_or_else(|m| panic!("{m}")) {
                checked += 1;
            }
        }
    }
    assert!(checked > 1000);
}

#[test]
fn eval_rug_precision_200_vs_400() {
    let mut exprs: Vec<Expr> = ALL_FUNCS.iter().map(|f| call(f.clone(), Expr::Z)).collect();
    exprs.push(call(Func::He(40), Expr::Z));
    exprs.extend(ISSUE_EXAMPLES.iter().map(|s| spec(s)));
    for e in &exprs {
        for x in grid(-30.0, 30.0, 0.61) {
            if let Expr::Call(f, _) = e {
                if !in_domain(f, x) {
                    continue;
                }
            }
            check_precision(e, &fl(64, x)).unwrap_or_else(|m| panic!("{m}"));
        }
    }
    // a point that is not an f64: z = 1/3 at 400 bits
    let third = Float::with_val(400, Rational::from((1, 3)));
    for e in &exprs {
        check_precision(e, &third).unwrap_or_else(|m| panic!("{m}"));
    }
}

/// Identities that hold exactly, evaluated at 400 bits: each expression is identically zero,
/// so its value must be below 2^-380 times the largest intermediate (the rounding errors are
/// 2^-432 per step, relative to that scale). These catch what comparing two precisions
/// cannot: a constant or formula that is wrong at every precision (e.g. π taken from f64).
#[test]
fn eval_rug_identities() {
    let zero_specs = [
        "sin(pi)",
        "cos(pi) + 1",
        "cos(pi/3) - 0.5",
        "sqrt(2)^2 - 2",
        "gelu(z) - gelu(-z) - z",
        "gelu(z) - z*(1 + erf(z/sqrt(2)))/2",
        "sigmoid(z) + sigmoid(-z) - 1",
        "softplus(z) - softplus(-z) - z",
        "silu(z) - silu(-z) - z",
        "silu(z) - z*sigmoid(z)",
        "tanh(z) - (2*sigmoid(2*z) - 1)",
        "relu(z) - relu(-z) - z",
        "abs(z) - relu(z) - relu(-z)",
        "sign(z) - step(z) + step(-z)",
        "step(z) + step(-z) - 1",
        "exp(log1p(z^2)) - 1 - z^2",
        "log1p(exp(z)) - softplus(z)",
        "sin(z)^2 + cos(z)^2 - 1",
        "exp(z)*exp(-z) - 1",
        "erf(z) + erf(-z)",
        // z h_k = √(k+1) h_{k+1} + √k h_{k−1}
        "z*he5 - sqrt(6)*he6 - sqrt(5)*he4",
        "z*he40 - sqrt(41)*he41 - sqrt(40)*he39",
        "he2 - (z^2 - 1)/sqrt(2)",
        "he3 - (z^3 - 3*z)/sqrt(6)",
    ];
    for s in zero_specs {
        let e = parse(s).unwrap();
        for x in [-7.3, -1.0, -0.2, 0.0, 0.6, 2.5, 9.1] {
            let z = fl(400, x);
            let v = eval_rug(&e, &z, 400);
            let tol = Float::with_val(400, max_intermediate(&e, &z) + 1.0) >> 380u32;
            assert!(v.clone().abs() <= tol, "{s} at {x}: {v:e}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// derivative
// ---------------------------------------------------------------------------------------

#[test]
fn derivative_exact_forms() {
    let d = |s: &str| derivative(&parse(s).unwrap()).unwrap();
    assert_eq!(
        d("he4"),
        Expr::Mul(b(q(2, 1)), b(call(Func::He(3), Expr::Z)))
    );
    assert_eq!(d("z^3"), Expr::Mul(b(q(3, 1)), b(Expr::Pow(b(Expr::Z), 2))));
    assert_eq!(d("relu"), call(Func::Step, Expr::Z));
    assert_eq!(d("abs(2*z - 1)"), parse("2*sign(2*z - 1)").unwrap());
    assert_eq!(d("softplus"), call(Func::Sigmoid, Expr::Z));
    assert_eq!(d("3*z + 1"), q(3, 1));
    assert_eq!(d("pi"), q(0, 1));
    assert_eq!(d("step(2)"), q(0, 1));
    assert_eq!(d("z/4"), q(1, 4));
}

#[test]
fn derivative_none_for_jumps() {
    for s in [
        "step",
        "sign",
        "step(z - 1)*z",
        "tanh(sign(2*z))",
        "sqrt(z^2)",
    ] {
        assert!(derivative(&parse(s).unwrap()).is_none(), "{s}");
    }
    // relu'' and abs'' contain a delta
    for s in ["relu", "abs(3*z + 1)"] {
        let d1 = derivative(&parse(s).unwrap()).expect("first derivative exists");
        assert!(derivative(&d1).is_none(), "{s}''");
    }
    let sp = Spec::parse("relu(z)").unwrap();
    assert!(sp.derivative().unwrap().derivative().is_none());
}

/// Derivative vs central finite differences in rug at 400 bits with h = 2^-100 (≈ 7.9e-31,
/// an exact binary step so z ± h are exact). The truncation error is h²/6·|f'''| ≈
/// 2^-202·|f'''| and the rounding error 2^-432·M/h ≈ 2^-332·M, so 2^-150·(1 + |f| + |f'|)
/// leaves a margin of 2^50 for |f'''|. Points within 2^-90 of a kink are skipped.
fn check_derivative(e: &Expr, x: &Float) -> Result<bool, String> {
    let Some(d) = derivative(e) else {
        return Err(format!("{e}: no derivative"));
    };
    for k in kinks(e) {
        let loc = k.location(400);
        if Float::with_val(400, &loc - x).abs() < Float::with_val(400, 1) >> 90u32 {
            return Ok(false);
        }
    }
    let h = Float::with_val(400, 1) >> 100u32;
    let xp = Float::with_val(400, x + &h);
    let xm = Float::with_val(400, x - &h);
    let fd: Float =
        Float::with_val(400, eval_rug(e, &xp, 400) - eval_rug(e, &xm, 400)) / (h * 2u32);
    let dv = eval_rug(&d, x, 400);
    let f = eval_rug(e, x, 400);
    if !fd.is_finite() || !dv.is_finite() {
        return Ok(false);
    }
    let scale = Float::with_val(400, 1 + f.abs()) + dv.clone().abs();
    let tol = scale >> 150u32;
    let diff = Float::with_val(400, &fd - &dv).abs();
    if diff <= tol {
        Ok(true)
    } else {
        Err(format!(
            "d/dz {e} = {d} at {x}: derivative {dv:e}, finite difference {fd:e}"
        ))
    }
}

#[test]
fn derivative_matches_finite_differences() {
    let mut specs: Vec<String> = ALL_FUNCS
        .iter()
        .filter(|f| !matches!(f, Func::Step | Func::Sign | Func::Log1p))
        .map(|f| format!("{}(1.3*z - 0.4)", f.name()))
        .collect();
    specs.extend(
        [
            "log1p(z^2)",
            "log1p(exp(1.3*z - 0.4))",
            "sqrt(1 + z^2)",
            "he7(0.8*z + 0.1)",
            "he1",
            "he0*z",
            "z^5/(1 + z^2)",
            "exp(-z^2)*cos(3*z)",
            "1/exp(z)",
            "sigmoid(z)/softplus(z)",
            "relu(z)^2 + abs(z - 1)*z",
            "erf(z)^3 - gelu(z^2)",
            "step(2)*z + sign(-1)",
        ]
        .map(String::from),
    );
    specs.extend(ISSUE_EXAMPLES.map(String::from));
    let mut checked = 0;
    for s in &specs {
        let e = spec(s);
        for x in grid(-4.0, 4.0, 0.29) {
            if check_derivative(&e, &fl(400, x)).unwrap_or_else(|m| panic!("{m}")) {
                checked += 1;
            }
        }
    }
    assert!(checked > 1000);
}

/// The derivative of a valid spec prints as a string that parses back to an equal-valued
/// expression.
#[test]
fn derivative_prints_parsable() {
    for s in ISSUE_EXAMPLES {
        let d = derivative(&spec(s)).unwrap();
        let back = parse(&d.to_string()).unwrap();
        for x in [0.3, -1.7, 2.2] {
            let (v1, v2) = (
                eval_rug(&d, &fl(200, x), 200),
                eval_rug(&back, &fl(200, x), 200),
            );
            let tol = Float::with_val(200, 1 + v1.clone().abs()) >> 190u32;
            assert!(Float::with_val(200, &v1 - &v2).abs() <= tol, "{s}: {d}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// parity
// ---------------------------------------------------------------------------------------

/// f(−z) − s·f(z) at 200 bits (s = ±1) within the rug error bound at both points.
fn symmetric_at(e: &Expr, x: f64, sign: i32) -> bool {
    let u = 2f64.powi(-(200 + GUARD_BITS as i32));
    let (vp, bp) = error_bound(e, &fl(200, x), u, 4.0);
    let (vm, bm) = error_bound(e, &fl(200, -x), u, 4.0);
    let diff = absf(&Float::with_val(
        256,
        &vm - Float::with_val(256, &vp * sign),
    ));
    // factor 2 for the first-order model, plus the final rounding of both values
    diff <= 2.0 * (bp + bm) + 2f64.powi(-199) * (absf(&vp) + absf(&vm))
}

#[test]
fn parity_examples() {
    let odd = [
        "tanh",
        "erf",
        "sin",
        "z^3",
        "he3",
        "sign(z)",
        "z/(1 + z^2)",
        "he5(2*z)",
        "tanh(z)^3*cos(z)",
    ];
    let even = [
        "cos",
        "abs(z)",
        "z^2",
        "he4",
        "exp(-z^2)",
        "5*(z^2*exp(-z^2)-sqrt(3)/9)",
        "tanh(z)*sin(z)",
        "cos(z^3) + z^2",
        "relu(z^2 - z^2 + 1)",
        "3",
        "he4+he6",
        "log1p(z^2)",
    ];
    let neither = [
        "relu(z)",
        "gelu",
        "exp(z)",
        "z+z^2",
        "erf(z) + 1",
        "tanh(2*z+0.5)",
        "silu",
        "step(z)",
    ];
    for (list, want, sign) in [(&odd[..], Parity::Odd, -1), (&even[..], Parity::Even, 1)] {
        for s in list {
            let e = parse(s).unwrap();
            assert_eq!(parity(&e), want, "{s}");
            for x in [0.3, 1.7, 2.9] {
                assert!(symmetric_at(&e, x, sign), "{s} is not {want:?} at {x}");
            }
        }
    }
    for s in neither {
        let e = parse(s).unwrap();
        assert_eq!(parity(&e), Parity::Neither, "{s}");
        // and they really are neither: not even and not odd at z = 1.1
        assert!(
            !symmetric_at(&e, 1.1, 1) && !symmetric_at(&e, 1.1, -1),
            "{s}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// kinks
// ---------------------------------------------------------------------------------------

#[test]
fn kinks_locations_and_dedup() {
    let locs = |s: &str| -> Vec<f64> {
        Spec::parse(s)
            .unwrap()
            .kinks()
            .iter()
            .map(|k| k.location(256).to_f64())
            .collect()
    };
    assert_eq!(locs("0.3*relu(z-0.25)+sin(1.5*z)"), vec![0.25]);
    assert_eq!(locs("relu(z) + abs(2*z) + step(-z)"), vec![0.0]);
    assert_eq!(locs("relu(3*z - 1) + relu(z - 1/3)"), vec![1.0 / 3.0]);
    assert_eq!(locs("relu(z - 1) + relu(z + 1)"), vec![-1.0, 1.0]);
    assert_eq!(locs("relu(2) + tanh(z)"), Vec::<f64>::new());
    assert_eq!(locs("tanh(relu(z/2 + 1))"), vec![-2.0]);
    // irrational locations, equal to 256 bits: one kink at 1/√2
    let l = locs("abs(sqrt(2)*z - 1) + relu(z - sqrt(2)/2)");
    assert_eq!(l.len(), 1);
    assert!((l[0] - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-15);
    // pi/3 and 1.0471975512 are different points
    assert_eq!(locs("relu(z - pi/3) + relu(z - 1.0471975512)").len(), 2);
    // the location is a zero of the argument a·z + b at 256 bits
    for k in kinks(&spec("sign(pi*z + sqrt(3))")) {
        let x = k.location(256);
        let r = Float::with_val(256, eval_const_rug(&k.a, 256) * &x) + eval_const_rug(&k.b, 256);
        assert!(r.abs() < 1e-70);
    }
}

// ---------------------------------------------------------------------------------------
// polynomial form
// ---------------------------------------------------------------------------------------

/// Evaluate monomial coefficients at x with `prec` bits (Horner).
fn horner(p: &[Expr], x: &Float, prec: u32) -> Float {
    let mut acc = Float::with_val(prec, 0);
    for c in p.iter().rev() {
        acc = acc * x + eval_const_rug(c, prec);
    }
    acc
}

#[test]
fn polynomial_examples() {
    let p = as_polynomial(&spec("(z+1)^3")).unwrap();
    assert_eq!(p, vec![q(1, 1), q(3, 1), q(3, 1), q(1, 1)]);
    let p = as_polynomial(&spec("z^2/2 - pi*z + 3")).unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(fold_rational(&p[2]), Some(Rational::from((1, 2))));
    assert!((eval_const_rug(&p[1], 64).to_f64() + std::f64::consts::PI).abs() < 1e-15);
    assert_eq!(as_polynomial(&spec("z - z")).unwrap(), vec![q(0, 1)]);
    assert_eq!(as_polynomial(&spec("sqrt(2)*pi")).unwrap().len(), 1);
    for s in [
        "tanh",
        "1/(1 + z^2)",
        "sqrt(1 + z^2)",
        "relu(z)",
        "exp(z)",
        "gelu",
    ] {
        assert!(as_polynomial(&spec(s)).is_none(), "{s}");
    }
    // he4 + he6 against the exact integer coefficients of He_4, He_6
    let p = as_polynomial(&spec("he4+he6")).unwrap();
    let (h4, h6) = (he_coefficients(4), he_coefficients(6));
    let (s4, s6) = (
        Float::with_val(200, 24).sqrt(),
        Float::with_val(200, 720).sqrt(),
    );
    assert_eq!(p.len(), 7);
    for m in 0..7 {
        let mut want = Float::with_val(200, h6[m].clone()) / &s6;
        if m <= 4 {
            want += Float::with_val(200, h4[m].clone()) / &s4;
        }
        let got = eval_const_rug(&p[m], 200);
        assert!(
            Float::with_val(200, got - want).abs() < 1e-55,
            "coefficient {m}"
        );
    }
}

/// Polynomial forms against tree evaluation: he_k(a z + b), products, division by constants.
/// Horner at 400 bits vs eval_rug at 400 bits; both errors are ≲ 2^-390 times the sum of
/// |c_m x^m| (Horner) or the largest intermediate (tree).
#[test]
fn polynomial_matches_evaluation() {
    for s in [
        "he5(2*z+1)",
        "he8(0.5*z - 0.25)",
        "(z^2 - 1)^4/3 + he3(z)*he2(z)",
        "z^3/sqrt(2) - pi*z",
        "he3(pi*z + 1)",
        "he2(z^2 + z)",
        "-(z - 1)^2*2.5",
    ] {
        let e = spec(s);
        let p = as_polynomial(&e).unwrap_or_else(|| panic!("{s} is a polynomial"));
        for x in [-2.5, -1.0, 0.0, 0.3, 1.9] {
            let z = fl(400, x);
            let poly = horner(&p, &z, 400);
            let tree = eval_rug(&e, &z, 400);
            let abs_sum: f64 = p
                .iter()
                .enumerate()
                .map(|(m, c)| absf(&eval_const_rug(c, 64)) * x.abs().powi(m as i32))
                .sum();
            let scale = abs_sum + max_intermediate(&e, &z) + 1.0;
            let tol = Float::with_val(400, scale) >> 380u32;
            assert!(
                Float::with_val(400, &poly - &tree).abs() <= tol,
                "{s} at {x}"
            );
        }
    }
}

#[test]
fn polynomial_he1000() {
    let p = as_polynomial(&spec("he1000")).unwrap();
    assert_eq!(p.len(), 1001);
    // the monomial coefficients reach ~10^190 in size with alternating signs, so Horner at
    // x = 0.5 cancels about 650 bits: evaluate at 2000 bits, compare with the recurrence at
    // 200 bits (error ≤ 4·1001·2^-232·max_j|h_j(0.5)| < 2^-215).
    let x = fl(2000, 0.5);
    let poly = horner(&p, &x, 2000);
    let rec = eval_rug(&spec("he1000"), &x, 200);
    assert!(Float::with_val(2000, &poly - &rec).abs() < Float::with_val(64, 1) >> 200u32);
}

// ---------------------------------------------------------------------------------------
// property tests over random valid expression trees
// ---------------------------------------------------------------------------------------

/// A random expression tree that the validator must accept: non-negative decimal literals,
/// kinked functions of affine arguments, denominators and sqrt/log1p arguments of provably
/// positive forms, exp of arguments bounded above by a linear function. Depth 2 to 4.
#[derive(Clone, Debug)]
struct Valid(Expr);

fn gen_num(g: &mut Gen) -> Expr {
    let (n, d) = *g
        .choose(&[
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 1),
            (1, 2),
            (1, 4),
            (3, 4),
            (5, 2),
            (1, 10),
            (3, 10),
            (13, 100),
            (7, 5),
        ])
        .unwrap();
    q(n, d)
}

fn gen_pos_num(g: &mut Gen) -> Expr {
    let (n, d) = *g
        .choose(&[(1, 1), (2, 1), (1, 2), (3, 4), (5, 2), (3, 10)])
        .unwrap();
    q(n, d)
}

fn gen_affine(g: &mut Gen) -> Expr {
    match *g.choose(&[0, 1, 2, 3, 4]).unwrap() {
        0 => Expr::Z,
        1 => Expr::Sub(b(Expr::Z), b(gen_num(g))),
        2 => Expr::Add(b(Expr::Mul(b(gen_pos_num(g)), b(Expr::Z))), b(gen_num(g))),
        3 => Expr::Mul(b(gen_pos_num(g)), b(Expr::Sub(b(Expr::Z), b(gen_num(g))))),
        _ => Expr::Neg(b(Expr::Z)),
    }
}

fn gen_expr(g: &mut Gen, depth: u32) -> Expr {
    let leaf = |g: &mut Gen| match *g.choose(&[0, 0, 0, 1, 2, 2]).unwrap() {
        0 => Expr::Z,
        1 => Expr::Pi,
        _ => gen_num(g),
    };
    if depth == 0 {
        return leaf(g);
    }
    let d = depth - 1;
    let smooth = [
        Func::Erf,
        Func::Tanh,
        Func::Sigmoid,
        Func::Sin,
        Func::Cos,
        Func::Softplus,
        Func::Gelu,
        Func::Silu,
    ];
    let kinked = [Func::Relu, Func::Abs, Func::Step, Func::Sign];
    match *g.choose(&(0..=13).collect::<Vec<u32>>()).unwrap() {
        0 => leaf(g),
        1 => Expr::Neg(b(gen_expr(g, d))),
        2 => Expr::Add(b(gen_expr(g, d)), b(gen_expr(g, d))),
        3 => Expr::Sub(b(gen_expr(g, d)), b(gen_expr(g, d))),
        4 => Expr::Mul(b(gen_expr(g, d)), b(gen_expr(g, d))),
        5 => {
            let den = match *g.choose(&[0, 1, 2, 3, 4]).unwrap() {
                0 => gen_pos_num(g),
                1 => Expr::Add(b(q(1, 1)), b(Expr::Pow(b(gen_expr(g, d)), 2))),
                2 => call(Func::Exp, call(Func::Tanh, gen_expr(g, d))),
                3 => call(Func::Sigmoid, gen_affine(g)),
                _ => call(Func::Softplus, gen_affine(g)),
            };
            Expr::Div(b(gen_expr(g, d)), b(den))
        }
        6 => Expr::Pow(b(gen_expr(g, d)), *g.choose(&[0, 1, 2, 3]).unwrap()),
        7 => Expr::Sqrt(b(Expr::Add(
            b(gen_pos_num(g)),
            b(Expr::Pow(b(gen_expr(g, d)), 2)),
        ))),
        8 => call(g.choose(&kinked).unwrap().clone(), gen_affine(g)),
        9 | 10 => call(g.choose(&smooth).unwrap().clone(), gen_expr(g, d)),
        11 => call(
            Func::He(*g.choose(&[0, 1, 2, 3, 4, 5, 6]).unwrap()),
            gen_expr(g, d),
        ),
        12 => {
            let arg = match *g.choose(&[0, 1, 2, 3]).unwrap() {
                0 => call(Func::Tanh, gen_expr(g, d)),
                1 => Expr::Neg(b(Expr::Pow(b(gen_expr(g, d)), 2))),
                2 => Expr::Mul(b(gen_pos_num(g)), b(call(Func::Sin, gen_expr(g, d)))),
                _ => gen_affine(g),
            };
            call(Func::Exp, arg)
        }
        _ => {
            let arg = if bool::arbitrary(g) {
                Expr::Pow(b(gen_expr(g, d)), 2)
            } else {
                call(Func::Exp, call(Func::Tanh, gen_expr(g, d)))
            };
            call(Func::Log1p, arg)
        }
    }
}

impl Arbitrary for Valid {
    fn arbitrary(g: &mut Gen) -> Self {
        let depth = 2 + u32::arbitrary(g) % 3;
        Valid(gen_expr(g, depth))
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let kids: Vec<Expr> = match &self.0 {
            Expr::Num(_) | Expr::Pi | Expr::Z => Vec::new(),
            Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) | Expr::Call(_, a) => {
                vec![(**a).clone()]
            }
            Expr::Add(a, c) | Expr::Sub(a, c) | Expr::Mul(a, c) | Expr::Div(a, c) => {
                vec![(**a).clone(), (**c).clone()]
            }
        };
        let valid: Vec<Valid> = kids
            .into_iter()
            .filter(|e| Spec::parse(&e.to_string()).is_ok())
            .map(Valid)
            .collect();
        Box::new(valid.into_iter())
    }
}

/// A point z = k/64 in [−3, 3] (exact in f64 and at every precision).
fn point(k: i16) -> f64 {
    (k % 193) as f64 / 64.0
}

fn quickcheck_n(n: u64) -> QuickCheck {
    QuickCheck::new().tests(n).max_tests(10 * n)
}

#[test]
fn display_round_trip_quickcheck() {
    fn prop(v: Valid) -> TestResult {
        let printed = v.0.to_string();
        match Spec::parse(&printed) {
            Ok(s) if s.expr == v.0 => TestResult::passed(),
            Ok(s) => TestResult::error(format!("{printed} parsed as {:?}, was {:?}", s.expr, v.0)),
            Err(e) => TestResult::error(format!("valid tree rejected: {e}")),
        }
    }
    quickcheck_n(2000).quickcheck(prop as fn(Valid) -> TestResult);
}

#[test]
fn eval_consistency_quickcheck() {
    fn prop(v: Valid, k: i16) -> TestResult {
        let x = point(k);
        if let Err(m) = check_f64(&v.0, x) {
            return TestResult::error(m);
        }
        match check_precision(&v.0, &fl(64, x)) {
            Ok(()) => TestResult::passed(),
            Err(m) => TestResult::error(m),
        }
    }
    quickcheck_n(400).quickcheck(prop as fn(Valid, i16) -> TestResult);
}

#[test]
fn parity_sound_quickcheck() {
    fn prop(v: Valid, k: i16) -> TestResult {
        let x = point(k);
        let sign = match parity(&v.0) {
            Parity::Even => 1,
            Parity::Odd => -1,
            Parity::Neither => return TestResult::discard(),
        };
        TestResult::from_bool(symmetric_at(&v.0, x, sign))
    }
    quickcheck_n(300).quickcheck(prop as fn(Valid, i16) -> TestResult);
}

#[test]
fn derivative_quickcheck() {
    fn prop(v: Valid, k: i16) -> TestResult {
        if derivative(&v.0).is_none() {
            // only step/sign (or sqrt of something not provably positive) may cause this
            let s = v.0.to_string();
            return TestResult::from_bool(
                s.contains("step") || s.contains("sign") || s.contains("sqrt"),
            );
        }
        match check_derivative(&v.0, &fl(400, point(k))) {
            Ok(_) => TestResult::passed(),
            Err(m) => TestResult::error(m),
        }
    }
    quickcheck_n(300).quickcheck(prop as fn(Valid, i16) -> TestResult);
}

#[test]
fn polynomial_quickcheck() {
    fn prop(v: Valid, k: i16) -> TestResult {
        let Some(p) = as_polynomial(&v.0) else {
            return TestResult::discard();
        };
        let x = fl(400, point(k));
        let poly = horner(&p, &x, 400);
        let tree = eval_rug(&v.0, &x, 400);
        let xf = point(k).abs();
        let abs_sum: f64 = p
            .iter()
            .enumerate()
            .map(|(m, c)| absf(&eval_const_rug(c, 64)) * xf.powi(m as i32))
            .sum();
        let scale = abs_sum + max_intermediate(&v.0, &x) + 1.0;
        let tol = Float::with_val(400, scale) >> 370u32;
        TestResult::from_bool(Float::with_val(400, &poly - &tree).abs() <= tol)
    }
    quickcheck_n(300).quickcheck(prop as fn(Valid, i16) -> TestResult);
}
