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
