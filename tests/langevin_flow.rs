//! Tests of the reduced mean-field Langevin flow (`mforacle::langevin::flow`,
//! `mforacle langevin flow`). Proofs-note: proofs-notes/langevin.md §7–9. Every check compares
//! independent computations (the two discretisations, the Gibbs fixed point of the f64 route,
//! an exact stationary law); tolerances are the routes' own estimates.

use mforacle::activation::Spec;
use mforacle::langevin::fast;
use mforacle::langevin::flow::{self, Problem, FREE_ENERGY, QUANTITIES};
use mforacle::meanfield::Model;
use mforacle::population::LossScale;
use std::process::{Command, Output};

fn model(student: &str, teacher: &str, d: usize, scale: LossScale) -> Model {
    let s = Spec::parse(student).unwrap();
    let t = Spec::parse(teacher).unwrap();
    Model::new(&s, &t, d, 20, 20, scale, 0.0).unwrap()
}

#[test]
fn flow_routes_agree_and_free_energy_decreases() {
    for (student, teacher, d, beta, scale) in [
        ("he1", "he1", 5, 2.0, LossScale::Full),
        ("he1+he2", "he2", 4, 5.0, LossScale::Half),
    ] {
        let m = model(student, teacher, d, scale);
        let p = Problem::new(&m, beta, 1e-12).unwrap();
        let times = flow::output_times(3.0, 0.5);
        let f = flow::flow(&p, &times, 1e-10).unwrap();
        let g = fast::gibbs(&m, beta, 2, 1e-12).unwrap();
        let c = flow::check(&f, (g.free_energy.value, g.free_energy.bound));
        assert!(c.passed(), "{student}/{teacher}: {c:?}");
        for (k, row) in f.values.iter().enumerate() {
            for (q, v) in row.iter().enumerate() {
                assert!(
                    v.diff_ab <= v.bound + v.bound_a + f.floor * (1.0 + v.value.abs()),
                    "{student} t={} {}: {v:?}",
                    f.times[k],
                    QUANTITIES[q]
                );
                assert!(
                    v.bound < 1e-9 && v.bound_a < 1e-9,
                    "{student} {}: {v:?}",
                    QUANTITIES[q]
                );
            }
        }
        // the free energy strictly decreases at the start (the law moves) and stays above F*
        let f0 = f.values[0][FREE_ENERGY].value;
        let f1 = f.values[1][FREE_ENERGY].value;
        assert!(f1 < f0 - 1e-6, "{student}: F {f0} -> {f1}");
    }
}

/// The flow's last output against the Gibbs fixed point of the f64 route: free energy, loss,
/// risk, KL and the moments of s, each within the sum of the two bounds and the flow's floor.
fn assert_ends_at_gibbs(f: &flow::Flow, g: &mforacle::langevin::Gibbs<f64>, label: &str) {
    let last = f.values.last().unwrap();
    for (q, gq) in [
        (FREE_ENERGY, &g.free_energy),
        (1, &g.loss),
        (0, &g.risk),
        (3, &g.kl_to_uniform),
        (4, &g.mean_s),
        (5, &g.mean_s2),
        (6, &g.mean_abs_s),
    ] {
        let v = last[q];
        let tol = v.bound + gq.bound + f.floor;
        assert!(
            (v.value - gq.value).abs() <= tol,
            "{label} {}: flow {} vs gibbs {} (tol {tol:e})",
            QUANTITIES[q],
            v.value,
            gq.value
        );
    }
}

#[test]
fn flow_long_time_limit_is_the_gibbs_fixed_point() {
    // relaxation rate ≥ (d − 1)/β for the linear part: t = 25 leaves < e^{−30}.
    let (d, beta) = (4, 1.5);
    let m = model("he1+he2", "he1", d, LossScale::Full);
    let p = Problem::new(&m, beta, 1e-12).unwrap();
    let times = flow::output_times(25.0, 12.5);
    let f = flow::flow(&p, &times, 1e-10).unwrap();
    let g = fast::gibbs(&m, beta, 2, 1e-12).unwrap();
    assert_ends_at_gibbs(&f, &g, "he1+he2/he1 d=4 beta=1.5");
}

#[test]
fn flow_orthogonal_teacher_keeps_the_uniform_law() {
    // σ = he2, σ* = he3: ψ = 0 and κ = t², so φ = 2c ν_2 m_2 P_2 + const; m_2 = 0 at the
    // uniform start and the uniform law is stationary: KL = 0, E s = 0, E s² = 1/d,
    // E|s| = Γ(d/2)/(√π Γ((d + 1)/2)), R = E κ(⟨w, w'⟩) + 1 = 1/d + 1 at every time.
    for d in [3usize, 6] {
        let m = model("he2", "he3", d, LossScale::Full);
        let p = Problem::new(&m, 3.0, 1e-12).unwrap();
        let f = flow::flow(&p, &flow::output_times(2.0, 1.0), 1e-10).unwrap();
        let df = d as f64;
        let abs = (libm::lgamma(df / 2.0) - libm::lgamma((df + 1.0) / 2.0)).exp()
            / std::f64::consts::PI.sqrt();
        let exact = [
            1.0 / df + 1.0,
            1.0 / df + 1.0,
            1.0 / df + 1.0,
            0.0,
            0.0,
            1.0 / df,
            abs,
        ];
        for row in &f.values {
            for q in 0..7 {
                let v = row[q];
                assert!(
                    (v.value - exact[q]).abs() <= v.bound + f.floor,
                    "d={d} {}: {} vs {}",
                    QUANTITIES[q],
                    v.value,
                    exact[q]
                );
            }
        }
    }
}

fn run(args: &[&str], threads: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mforacle"))
        .env("RAYON_NUM_THREADS", threads)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn flow_cli_bad_input() {
    let base = ["langevin", "flow", "--student", "he1", "--d", "5"];
    for (extra, needle) in [
        (vec!["--beta", "0"], "--beta"),
        (vec!["--beta", "-1"], "--beta"),
        (vec!["--beta", "nan"], "--beta"),
        (vec!["--beta", "1", "--d", "2"], "--d"),
        (vec!["--beta", "1", "--t-end", "0"], "--t-end"),
        (vec!["--beta", "1", "--t-end", "-3"], "--t-end"),
        (vec!["--beta", "1", "--t-end", "nan"], "--t-end"),
        (vec!["--beta", "1", "--dt-out", "0"], "--dt-out"),
        (vec!["--beta", "1", "--tol", "0"], "--tol"),
    ] {
        let mut args: Vec<&str> = base.to_vec();
        if extra.contains(&"--d") {
            args.truncate(4);
        }
        args.extend(extra.iter());
        let o = run(&args, "1");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn flow_cli_fields_and_thread_independence() {
    let args = [
        "langevin",
        "flow",
        "--student",
        "he1",
        "--teacher",
        "he1+he2",
        "--d",
        "5",
        "--beta",
        "2",
        "--t-end",
        "1",
        "--dt-out",
        "0.5",
    ];
    let a = run(&args, "1");
    let b = run(&args, "2");
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let doc: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for r in rows {
        for q in QUANTITIES {
            for k in ["value", "bound", "bound_kind", "diff_ab", "bound_a"] {
                assert!(r[q][k].is_string(), "{q}.{k}: {r}");
            }
            assert_eq!(r[q]["bound_kind"], "estimate");
        }
    }
    for c in [
        "routes_agree",
        "free_energy_nonincreasing",
        "free_energy_above_gibbs_minimum",
    ] {
        assert_eq!(doc["checks"][c], true, "{c}");
    }
    let mut csv_args = args.to_vec();
    csv_args.extend(["--format", "csv"]);
    let c = run(&csv_args, "2");
    let text = String::from_utf8(c.stdout).unwrap();
    assert_eq!(text.lines().count(), 4);
    assert!(text.starts_with("t,risk,risk_bound,risk_bound_kind,risk_diff_ab,risk_bound_a,"));
}

/// Issue 14: at large d the polar Gauss–Jacobi nodes of route B carry weights ~1e-40 where the
/// truncated density ratio q = Σ N_l m_l P_l (N_l ~ 1e40, m_l at the rounding level) may be
/// negative, which made the KL (and F) NaN; route A's start cos^{d−2}ϑ underflowed in the polar
/// cells at d ≥ 128 (KL = ∞ or NaN). Here, erf/erf at the series degree of `train --beta`
/// (60): every value and bound finite, both routes agree, F non-increasing and above F*, and
/// the long-time limit is the Gibbs fixed point (F*, KL*, moments of s) of `langevin gibbs`
/// within the sum of the bounds. Relaxation: the linear part decays at rate ≥ (d − 1)/β, so
/// t_end·(d − 1)/β ≥ 30 leaves < e^{−30} of the initial gap.
#[test]
fn flow_large_dimension_is_finite_and_reaches_the_gibbs_fixed_point() {
    for (d, beta, t_end) in [(64usize, 2.0, 2.0), (64, 8.0, 4.0), (128, 4.0, 1.0)] {
        let s = Spec::parse("erf").unwrap();
        let m = Model::new(&s, &s, d, 60, 20, LossScale::Full, 0.0).unwrap();
        let p = Problem::new(&m, beta, 1e-12).unwrap();
        let times = flow::output_times(t_end, t_end / 4.0);
        let f = flow::flow(&p, &times, 1e-10).unwrap();
        for row in &f.values {
            for v in row {
                assert!(
                    [v.value, v.bound, v.diff_ab, v.bound_a]
                        .iter()
                        .all(|x| x.is_finite()),
                    "d={d} beta={beta}: {v:?}"
                );
            }
        }
        let g = fast::gibbs(&m, beta, 2, 1e-12).unwrap();
        let c = flow::check(&f, (g.free_energy.value, g.free_energy.bound));
        assert!(c.passed(), "d={d} beta={beta}: {c:?}");
        // the law moves: F strictly decreases from the uniform start, KL grows from 0
        let (f0, f1) = (f.values[0][FREE_ENERGY], f.values[1][FREE_ENERGY]);
        assert!(f1.value < f0.value - 1e-6, "d={d}: F {f0:?} -> {f1:?}");
        assert!(f.values[0][3].value.abs() <= f.values[0][3].bound);
        assert_ends_at_gibbs(&f, &g, &format!("d={d} beta={beta}"));
        assert!(g.kl_to_uniform.value > 1e-3, "d={d}: a non-trivial law");
    }
}

/// Issue 14 through the CLI: `langevin flow` at d = 64 with `--degree 60` (the command of
/// `train --beta`) exits 0 and prints no NaN (the old binary panicked on a NaN bound).
#[test]
fn flow_cli_large_dimension_prints_finite_numbers() {
    let args = [
        "langevin",
        "flow",
        "--student",
        "erf",
        "--teacher",
        "erf",
        "--d",
        "64",
        "--beta",
        "2",
        "--degree",
        "60",
        "--t-end",
        "1",
        "--dt-out",
        "0.5",
    ];
    let o = run(&args, "2");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    for bad in ["\"NaN\"", "\"inf\"", "\"-inf\"", "null"] {
        assert!(!text.contains(bad), "{bad}: {text}");
    }
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    for c in [
        "routes_agree",
        "free_energy_nonincreasing",
        "free_energy_above_gibbs_minimum",
    ] {
        assert_eq!(doc["checks"][c], true, "{c}");
    }
}
