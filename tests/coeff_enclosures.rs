//! The enclosure route (`coeffs::enclose`) against Arb balls (python-flint `acb.integral`,
//! committed in `tests/data/arb/arb_balls.txt`, written by `make_arb_balls.py` there).
//!
//! For every (spec, digits, k) of the data file: mforacle's enclosure and the Arb ball must
//! intersect (|v − m| ≤ r_mf + r_arb: both claim to contain c_k), mforacle's enclosure must
//! contain the Arb midpoint up to the Arb radius (the same inequality, read from Arb's side),
//! and it must certify the requested digits (resolved), so that a loose bound fails too.
//! Proofs-note: `proofs-notes/coefficient-enclosures.md`.

use mforacle::activation::Spec;
use mforacle::coeffs::enclose::enclosure_table;
use mforacle::coeffs::BoundKind;
use rug::Float;
use std::collections::HashMap;

struct Ball {
    mid: String,
    rad: String,
}

fn arb_balls() -> HashMap<(String, u32, usize), Ball> {
    let text = include_str!("data/arb/arb_balls.txt");
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 5, "bad line {line}");
        out.insert(
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            ),
            Ball {
                mid: f[3].to_string(),
                rad: f[4].to_string(),
            },
        );
    }
    out
}

fn check(spec: &str, digits: u32) {
    let balls = arb_balls();
    let s = Spec::parse(spec).unwrap();
    let t = enclosure_table(&s, 40, digits)
        .unwrap()
        .expect("inside the theorem");
    let prec = 4 * digits + 256;
    for c in &t.coefficients {
        let b = &balls[&(spec.to_string(), digits, c.k)];
        let m = Float::with_val(prec, Float::parse(&b.mid).unwrap());
        let r = Float::with_val(prec, Float::parse(&b.rad).unwrap());
        let dist = Float::with_val(prec, &c.value - &m).abs();
        let radii = Float::with_val(prec, &c.abs_error_bound + &r);
        assert!(
            dist <= radii,
            "{spec} {digits} c_{}: mforacle {} ± {} vs Arb {} ± {}",
            c.k,
            c.value,
            c.abs_error_bound,
            b.mid,
            b.rad
        );
        match c.bound_kind {
            BoundKind::Exact => {
                // parity: Arb's ball must contain the exact value
                assert!(c.exact.is_some());
            }
            BoundKind::Enclosure => {
                assert!(
                    c.resolved,
                    "{spec} {digits} c_{} not resolved: {} ± {}",
                    c.k, c.value, c.abs_error_bound
                );
            }
            BoundKind::Estimate => panic!("{spec}: estimate in the enclosure route"),
        }
    }
}

#[test]
fn tanh_enclosures_agree_with_arb() {
    check("tanh", 50);
    check("tanh", 100);
}

#[test]
fn erf_enclosures_agree_with_arb() {
    check("erf", 50);
    check("erf", 100);
}

#[test]
fn gelu_enclosures_agree_with_arb() {
    check("gelu", 50);
    check("gelu", 100);
}

#[test]
fn softplus_enclosures_agree_with_arb() {
    check("softplus", 50);
    check("softplus", 100);
}

#[test]
fn relu_enclosures_agree_with_arb() {
    check("relu", 50);
    check("relu", 100);
}

/// Piecewise and composite specs against the default (estimate) route, an independent
/// engine (closed forms and a-posteriori quadrature): the enclosure and the estimate must
/// agree within the sum of their bounds, and the enclosure must resolve 30 digits.
#[test]
fn composites_agree_with_the_estimate_route() {
    for spec in [
        "relu(z-0.25) + tanh(z)",
        "abs(z)*sigmoid(2*z+1)",
        "z^2*silu(z+0.5) - 0.5*cos(3*z)",
        "step(z+0.1)*exp(z/2)",
        "sin(z) + sigmoid(z)*z^3",
        // one kink written twice
        "relu(z) + abs(2*z) + gelu(z-1)",
    ] {
        let s = Spec::parse(spec).unwrap();
        let e = enclosure_table(&s, 20, 30).unwrap().expect("inside");
        let d = mforacle::coeffs::hermite_coefficients(&s, 20, 30).unwrap();
        for (a, b) in e.coefficients.iter().zip(&d.coefficients) {
            let dist = Float::with_val(256, &a.value - &b.value).abs();
            let radii = Float::with_val(256, &a.abs_error_bound + &b.abs_error_bound);
            assert!(
                dist <= radii,
                "{spec} c_{}: {} ± {} ({:?}) vs {} ± {} ({:?})",
                a.k,
                a.value,
                a.abs_error_bound,
                a.bound_kind,
                b.value,
                b.abs_error_bound,
                b.bound_kind
            );
            assert!(a.resolved, "{spec} c_{} unresolved", a.k);
            assert_ne!(a.bound_kind, BoundKind::Estimate);
        }
    }
}

/// Kinks beyond the truncation point ±Y (whole pieces inside the Gaussian tail bound):
/// agreement with the estimate route for every k; the coefficients above 1e-100 resolve
/// (c_0 ≈ 1e-199 comes from the piece beyond z = 30 alone and is far below the integrand's
/// scale: it may stay unresolved, never wrong).
#[test]
fn far_kinks_agree_with_the_estimate_route() {
    let spec = "step(z+40)*z + relu(z-30) + tanh(z)";
    let s = Spec::parse(spec).unwrap();
    let e = enclosure_table(&s, 12, 30).unwrap().expect("inside");
    let d = mforacle::coeffs::hermite_coefficients(&s, 12, 30).unwrap();
    for (a, b) in e.coefficients.iter().zip(&d.coefficients) {
        let dist = Float::with_val(256, &a.value - &b.value).abs();
        let radii = Float::with_val(256, &a.abs_error_bound + &b.abs_error_bound);
        assert!(dist <= radii, "c_{}: {} vs {}", a.k, a.value, b.value);
        if Float::with_val(64, b.value.abs_ref()) > 1e-100 {
            assert!(a.resolved, "c_{} unresolved", a.k);
        }
    }
}

/// A zero no parity rule sees (z²·silu(z) = z³/2 + even, so c_5 = 0): the enclosure
/// contains 0 with a tiny bound and is reported unresolved, never as a small number.
#[test]
fn hidden_zero_is_enclosed_not_resolved() {
    let s = Spec::parse("z^2*silu(z)").unwrap();
    let e = enclosure_table(&s, 5, 30).unwrap().expect("inside");
    let c5 = &e.coefficients[5];
    assert!(!c5.resolved);
    assert!(Float::with_val(64, c5.value.abs_ref()) <= c5.abs_error_bound);
    assert!(c5.abs_error_bound < 1e-40, "{}", c5.abs_error_bound);
}

/// Specs outside the theorem (log1p of a non-constant, a non-affine argument) are refused by
/// the enclosure route, so they keep the estimate route.
#[test]
fn specs_outside_the_theorem_are_refused() {
    for spec in ["log1p(z^2)", "tanh(z^2)", "sqrt(1+z^2)"] {
        let s = Spec::parse(spec).unwrap();
        assert!(enclosure_table(&s, 5, 20).unwrap().is_none(), "{spec}");
    }
    // polynomials are exact already
    let s = Spec::parse("z^3 - 2*z").unwrap();
    assert!(enclosure_table(&s, 5, 20).unwrap().is_none());
}

fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mforacle"))
        .args(args)
        .output()
        .unwrap()
}

/// `coeffs --enclose` labels every bound: tanh's odd coefficients are enclosures, the even
/// ones exact zeros; without the flag the same coefficients are estimates; a spec outside the
/// theorem stays an estimate with the flag.
#[test]
fn cli_bound_kinds() {
    let kinds = |args: &[&str]| -> Vec<String> {
        let o = run(args);
        assert!(o.status.success());
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["coefficients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["bound_kind"].as_str().unwrap().to_string())
            .collect()
    };
    let base = [
        "coeffs", "tanh", "--degree", "3", "--digits", "15", "--format", "json",
    ];
    let enc = kinds(&[&base[..], &["--enclose"]].concat());
    assert_eq!(enc, ["exact", "enclosure", "exact", "enclosure"]);
    let est = kinds(&base);
    assert_eq!(est, ["exact", "estimate", "exact", "estimate"]);
    let out = kinds(&[
        "coeffs",
        "log1p(z^2)",
        "--degree",
        "1",
        "--digits",
        "10",
        "--format",
        "json",
        "--enclose",
    ]);
    assert_eq!(out, ["estimate", "exact"]);
    let o = run(&[
        "coeffs",
        "relu",
        "--degree",
        "2",
        "--digits",
        "10",
        "--enclose",
    ]);
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(t.contains("enclosure") && t.contains("kind"), "{t}");
}
