//! Norm-dependent dual kernels κ(r, r', ρ) = E σ(⟨v,x⟩) τ(⟨v',x⟩), |v| = r, |v'| = r'
//! (`kernel --radii`, `Spec::scaled`). Proofs-note: `proofs-notes/dual-kernels.md`,
//! "Norm-dependent kernels".
//!
//! Every check compares the scaled-spec route (coefficients of σ(r·) by the crate's own
//! engines) with a route that never forms σ(r·):
//! - erf: the closed form (2/π) asin(2 r r' ρ / √((1 + 2r²)(1 + 2r'²))), written here in f64;
//! - relu: positive homogeneity, κ(r, r', ρ) = r r' κ(1, 1, ρ), against the unit closed form;
//! - tanh: a two-dimensional trapezoidal quadrature of the Gaussian expectation;
//! - coefficients: the Hermite scaling identity from σ's own unit table.

mod common;

use mforacle::activation::Spec;
use mforacle::coeffs::{hermite_coefficients, norm_squared};
use mforacle::kernel::{closed_kernel, closed_value, series, Side};
use rug::{Float, Rational};

const P: u32 = 256;

fn q(text: &str) -> Rational {
    match mforacle::activation::parse::parse(text).unwrap() {
        mforacle::activation::Expr::Num(q) => q,
        e => panic!("{text} parsed as {e:?}"),
    }
}

fn kernel_json(args: &[&str]) -> serde_json::Value {
    let o = common::run(args);
    assert!(o.status.success(), "{args:?}: {}", common::stderr(&o));
    serde_json::from_str(&common::stdout(&o)).unwrap()
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn erf_radii_match_the_closed_form_written_independently() {
    // (2/π) asin(c ρ), c = 2 r r' / √((1 + 2r²)(1 + 2r'²)); κ' = (2/π) c/√(1 − c²ρ²).
    for (r, rp) in [(0.5f64, 2.0f64), (1.5, 0.25), (3.0, 3.0)] {
        let c = 2.0 * r * rp / ((1.0 + 2.0 * r * r) * (1.0 + 2.0 * rp * rp)).sqrt();
        let radii = format!("{r},{rp}");
        let doc = kernel_json(&[
            "kernel",
            "erf",
            "--s",
            "-0.9,0.3,0.99",
            "--radii",
            &radii,
            "--digits",
            "25",
            "--format",
            "json",
        ]);
        for p in doc["points"].as_array().unwrap() {
            let s: f64 = num(&p["s"]);
            let want = match p["derivative"].as_u64().unwrap() {
                0 => 2.0 / std::f64::consts::PI * (c * s).asin(),
                1 => 2.0 / std::f64::consts::PI * c / (1.0 - c * c * s * s).sqrt(),
                _ => continue,
            };
            assert_eq!(p["method"], "closed-form");
            assert_eq!(p["bound_kind"], "enclosure");
            // The f64 reference: a few roundings of asin/sqrt of O(1) arguments, condition
            // ≤ 1/√(1 − c²ρ²) ≤ 3 here; 64 ulps of |want| + 1e-16 covers it.
            let got = num(&p["value"]);
            assert!(
                (got - want).abs() <= 64.0 * f64::EPSILON * want.abs() + 1e-16,
                "erf r={r} r'={rp} s={s}: {got} vs {want}"
            );
            // The series of the scaled tables agrees with the closed form within both bounds.
            let (sv, sb) = (num(&p["series_value"]), num(&p["series_abs_error_bound"]));
            let cb = num(&p["abs_error_bound"]);
            assert!((sv - got).abs() <= sb + cb + 2.0 * f64::EPSILON * got.abs());
        }
    }
}

#[test]
fn relu_radii_are_homogeneous() {
    let relu = Spec::parse("relu").unwrap();
    let ck = closed_kernel(&relu, &relu).unwrap();
    for (r, rp) in [("0.5", "0.5"), ("0.3", "1.7"), ("2", "0.75")] {
        let (a, b) = (relu.scaled(&q(r)), relu.scaled(&q(rp)));
        let (sa, sb) = (
            // Degree 400: κ'' of relu is singular at |ρ| = 1, so at ρ = 0.9 the geometric
            // tail needs 0.9^K small against the value.
            Side::new(&a, 400, 30).unwrap(),
            Side::new(&b, 400, 30).unwrap(),
        );
        let rr = Float::with_val(P, Rational::from(&q(r) * &q(rp)));
        for x in [-0.8, -0.2, 0.0, 0.45, 0.9] {
            let s = Float::with_val(P, x);
            for order in 0..=2 {
                let ser = series(&sa, &sb, &s, order).unwrap();
                let unit = closed_value(&ck, &s, order, P).unwrap();
                let want = Float::with_val(P, &rr * &unit.value);
                let allowed =
                    Float::with_val(P, &ser.abs_error_bound + &rr * &unit.abs_error_bound);
                let d = Float::with_val(P, &ser.value - &want).abs();
                assert!(
                    d <= allowed,
                    "relu r={r} r'={rp} s={x} order {order}: |diff| {d:.3e} > {allowed:.3e}"
                );
                // Not vacuous: a relative homogeneity error of 1e-6 would be seen.
                assert!(
                    ser.abs_error_bound < Float::with_val(P, want.abs_ref()) * 1e-6,
                    "relu r={r} r'={rp} s={x} order {order}: bound {:.3e} vs value {want:.3e}",
                    ser.abs_error_bound
                );
            }
        }
    }
}

/// E tanh(r X) tanh(r' Y) with corr(X, Y) = ρ, by the trapezoidal rule in (x, z),
/// Y = ρx + √(1 − ρ²) z, step h on [−L, L]², with the sum's rounding bound.
fn tanh_pair_by_quadrature(r: f64, rp: f64, rho: f64) -> (f64, f64) {
    let (h, l) = (0.05, 12.0);
    let n = (2.0 * l / h) as i64;
    let w = |t: f64| (-0.5 * t * t).exp() * h / (2.0 * std::f64::consts::PI).sqrt();
    let c = (1.0 - rho * rho).sqrt();
    let (mut total, mut abs) = (0.0f64, 0.0f64);
    for i in 0..=n {
        let x = -l + h * i as f64;
        let (mut row, mut row_abs) = (0.0f64, 0.0f64);
        for j in 0..=n {
            let z = -l + h * j as f64;
            let t = w(z) * (r * x).tanh() * (rp * (rho * x + c * z)).tanh();
            row += t;
            row_abs += t.abs();
        }
        total += w(x) * row;
        abs += w(x) * row_abs;
    }
    // Rounding: each term has a few relative roundings (exp, tanh, products: ≤ 12u), and
    // the two nested sums of ≤ 481 terms add ≤ 962u relative to Σ|t|. The trapezoidal rule's
    // error for an integrand analytic in the strip |Im| < a (tanh(r'·) has poles at
    // distance π/(2r'(|ρ| + c)) ≥ π/(2√2 r')) is ≤ 2M/(e^{2πa/h} − 1) per dimension, below
    // e^{−100} here, and the Gaussian tails beyond |t| = 12 weigh < e^{−72}.
    let bound = 1000.0 * f64::EPSILON * abs + 1e-30;
    (total, bound)
}

#[test]
fn tanh_radii_match_a_two_dimensional_quadrature() {
    let tanh = Spec::parse("tanh").unwrap();
    for (r, rp) in [("0.5", "1.5"), ("1.25", "1.25"), ("2", "0.3")] {
        let (a, b) = (tanh.scaled(&q(r)), tanh.scaled(&q(rp)));
        let (sa, sb) = (
            Side::new(&a, 160, 25).unwrap(),
            Side::new(&b, 160, 25).unwrap(),
        );
        for x in [-0.7, 0.2, 0.95] {
            let ser = series(&sa, &sb, &Float::with_val(P, x), 0).unwrap();
            let (quad, qb) = tanh_pair_by_quadrature(r.parse().unwrap(), rp.parse().unwrap(), x);
            let d = (ser.value.to_f64() - quad).abs();
            let allowed = ser.abs_error_bound.to_f64() + qb + f64::EPSILON * quad.abs();
            assert!(
                d <= allowed,
                "tanh r={r} r'={rp} s={x}: {d:.3e} > {allowed:.3e}"
            );
        }
    }
}

/// w_{k,j} = √((k+2j)!/k!) r^k q^j / j!, q = (r² − 1)/2.
fn weight(k: usize, j: usize, r: &Float, qq: &Float) -> Float {
    let mut f = Float::with_val(P, 1);
    for m in k + 1..=k + 2 * j {
        f *= m as u32;
    }
    let mut w = f.sqrt();
    w *= Float::with_val(P, r.pow_ref_u(k));
    w *= Float::with_val(P, qq.pow_ref_u(j));
    for m in 1..=j {
        w /= m as u32;
    }
    w
}

trait PowU {
    fn pow_ref_u(&self, n: usize) -> Float;
}
impl PowU for Float {
    fn pow_ref_u(&self, n: usize) -> Float {
        use rug::ops::Pow;
        Float::with_val(P, self.pow(n as u32))
    }
}

/// c_k(σ_r) for k ≤ kmax by the Hermite scaling identity
/// c_k(σ_r) = Σ_j c_{k+2j}(σ) w_{k,j}, from σ's unit table to degree m, with a bound:
/// the table's errors Σ_j |w| ε_{k+2j}, and the truncation j > J = ⌊(m − k)/2⌋ bounded by
/// Cauchy–Schwarz, √(E σ² − Σ_{i≤m} c_i²) · √(Σ_{j>J} w²), the latter geometric with ratio
/// ρ = max(ratio(J + 1), 4q²) (ratio(j) = (k+2j+1)(k+2j+2) q²/(j+1)² is monotone towards 4q²).
/// Converges for 0 < r < √2 (4q² < 1) using only σ ∈ L².
fn by_scaling_identity(spec: &Spec, r: &Float, m: usize, kmax: usize) -> Vec<(Float, Float)> {
    let table = hermite_coefficients(spec, m, 40).unwrap();
    let (norm, norm_b) = norm_squared(spec, 40).unwrap();
    let mut rem = Float::with_val(P, &norm + &norm_b);
    for c in &table.coefficients {
        // Σ c_i² is at least Σ (|c_i| − ε_i)², which keeps the remainder an upper bound.
        let low =
            Float::with_val(P, c.value.clone().abs() - &c.abs_error_bound).max(&Float::new(P));
        rem -= Float::with_val(P, low.square_ref());
    }
    let rem = rem.max(&Float::new(P));
    let qq = Float::with_val(P, (Float::with_val(P, r.square_ref()) - 1u32) / 2u32);
    let q2x4 = Float::with_val(P, qq.square_ref()) * 4u32;
    assert!(q2x4 < 1, "r outside (0, √2)");
    (0..=kmax)
        .map(|k| {
            let jmax = (m - k) / 2;
            let (mut v, mut b) = (Float::with_val(P, 0), Float::with_val(P, 0));
            for j in 0..=jmax {
                let w = weight(k, j, r, &qq);
                let c = &table.coefficients[k + 2 * j];
                v += Float::with_val(P, &c.value * &w);
                b += Float::with_val(P, &c.abs_error_bound * Float::with_val(P, w.abs_ref()));
            }
            let next = jmax + 1;
            let ratio = Float::with_val(P, qq.square_ref())
                * ((k + 2 * next + 1) * (k + 2 * next + 2)) as u32
                / ((next + 1) * (next + 1)) as u32;
            let rho = ratio.max(&q2x4);
            assert!(rho < 1);
            let w = weight(k, next, r, &qq);
            let tail_sq = Float::with_val(P, w.square_ref()) / (1u32 - rho);
            b += (Float::with_val(P, &rem * &tail_sq)).sqrt();
            b += Float::with_val(P, &v.clone().abs() >> (P - 8)); // the sum's own roundings
            (v, b)
        })
        .collect()
}

#[test]
fn scaled_coefficients_match_the_hermite_scaling_identity() {
    // Kinked specs have slow Parseval tails (c_k² ~ k^{-5/2}), so their identity sums
    // need a longer unit table (closed-form route) to pin the coefficients.
    for (spec, m) in [
        ("tanh", 220),
        ("gelu", 220),
        ("relu", 600),
        ("sin(z)+0.5*abs(z)", 600),
    ] {
        let sp = Spec::parse(spec).unwrap();
        for r in ["0.5", "0.8", "1.2"] {
            let rf = Float::with_val(P, &q(r));
            let id = by_scaling_identity(&sp, &rf, m, 24);
            let direct = hermite_coefficients(&sp.scaled(&q(r)), 24, 30).unwrap();
            let mut resolved = 0;
            for ((v, b), c) in id.iter().zip(&direct.coefficients) {
                let d = Float::with_val(P, v - &c.value).abs();
                let allowed = Float::with_val(P, b + &c.abs_error_bound);
                assert!(
                    d <= allowed,
                    "{spec} r={r} k={}: |identity − direct| {d:.3e} > {allowed:.3e}",
                    c.k
                );
                if allowed < 1e-12 {
                    resolved += 1;
                }
            }
            // Not vacuous: most coefficients are pinned to 1e-12 by both routes (relu's slow
            // Parseval tail makes its identity bounds the weakest).
            assert!(
                resolved >= 20,
                "{spec} r={r}: only {resolved} of 25 resolved"
            );
            // And sensitive: the identity at a radius off by 1e-6 disagrees somewhere.
            let off = Float::with_val(P, &rf * Float::with_val(P, 1.000001));
            let wrong = by_scaling_identity(&sp, &off, m, 24);
            assert!(
                wrong.iter().zip(&direct.coefficients).any(|((v, b), c)| {
                    Float::with_val(P, v - &c.value).abs()
                        > Float::with_val(P, b + &c.abs_error_bound)
                }),
                "{spec} r={r}: a 1e-6 radius error is not detected"
            );
        }
    }
}

#[test]
fn radii_bad_input_is_one_line_and_exit_2() {
    for radii in ["0", "-1", "abc", "1,2,3", "101", "1e400"] {
        let o = common::run(&["kernel", "relu", "--s", "0.3", "--radii", radii]);
        assert_eq!(o.status.code(), Some(2), "--radii {radii}");
        let e = common::stderr(&o);
        assert_eq!(e.trim().lines().count(), 1, "--radii {radii}: {e}");
        assert!(e.contains("--radii"), "{e}");
    }
}
