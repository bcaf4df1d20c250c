//! The `langevin` recipe kind (src/recipes/langevin.rs): a tiny configuration run end to end,
//! shard/merge identity, the noisy jobs equal to `train --beta`, the flow curve equal to
//! `langevin flow`, the p* density's mean against the Gibbs route's E s, bad recipes refused.

mod common;
use common::{bin, csv_col as col, csv_table as csv, data_files, run_ok};

use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    common::scratch("reproduce_langevin", name)
}

const TINY: &str = r#"
name = "tiny-langevin"
description = "a tiny langevin recipe for the tests"
reproduces = "nothing"
differences = "tiny"
seed = 5

[langevin]
student = "erf"
d = 8
beta = [2.0, 8.0]
t_end = 0.5
dt_out = 0.25
widths = [16, 32]
draws = 2
eta = 0.05
record_every = 5
snapshot_times = [0.0, 0.5]
"#;

/// The tiny recipe, run once per test binary.
fn tiny_run() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| common::reproduce_text(&tmp("tiny"), TINY))
        .clone()
}

#[test]
fn the_recipe_runs_and_writes_its_figures() {
    let a = tiny_run();
    for f in [
        "risk-beta2.csv",
        "risk-beta8.csv",
        "law-of-s-beta2.csv",
        "law-of-s-beta8.csv",
        "free-energy.csv",
        "manifest.json",
    ] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    // s.csv: every neuron of every width at both snapshot times
    let (h, rows) = csv(&a.join("runs/noisy-beta8-r0/s.csv"));
    assert_eq!(h, "width,draw,step,t,s");
    assert_eq!(rows.len(), 2 * (16 + 32));
    for r in &rows {
        let s: f64 = r[col(&h, "s")].parse().unwrap();
        assert!(s.abs() <= 1.0 + 1e-12, "s = {s} off the sphere");
    }
}

#[test]
fn shards_merge_to_the_unsharded_bytes() {
    let a = tiny_run();
    let m = common::shards_merged(&tmp("shards"), TINY, 2);
    let fa = data_files(&a);
    assert!(fa.contains_key("law-of-s-beta8.csv"));
    assert_eq!(
        data_files(&m),
        fa,
        "merged shards against the unsharded run"
    );
}

/// Job (β = 8, draw 1) writes the bytes of `train --beta 8` with seed 5 + 1 and one draw.
#[test]
fn a_noisy_job_is_train_beta_with_the_same_settings() {
    let a = tiny_run();
    let out = run_ok(&[
        "train",
        "--student",
        "erf",
        "--d",
        "8",
        "--widths",
        "16,32",
        "--eta",
        "0.05",
        "--t-end",
        "0.5",
        "--draws",
        "1",
        "--seed",
        "6",
        "--record-every",
        "5",
        "--histogram-every",
        "5",
        "--degree",
        "60",
        "--panels",
        "200",
        "--rtol",
        "1e-10",
        "--beta",
        "8",
    ]);
    let job = std::fs::read(a.join("runs/noisy-beta8-r1/train.csv")).unwrap();
    assert_eq!(
        String::from_utf8(job).unwrap(),
        String::from_utf8(out.stdout).unwrap()
    );
}

/// The flow job's risk and free energy are `langevin flow`'s values (same digits).
#[test]
fn the_flow_curve_is_langevin_flow() {
    let a = tiny_run();
    let out = run_ok(&[
        "langevin",
        "flow",
        "--student",
        "erf",
        "--d",
        "8",
        "--beta",
        "2",
        "--t-end",
        "0.5",
        "--dt-out",
        "0.25",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    let (h, job) = csv(&a.join("runs/flow-beta2/flow.csv"));
    assert_eq!(rows.len(), job.len());
    assert_eq!(job.len(), 3);
    for (r, j) in rows.iter().zip(&job) {
        for q in ["risk", "free_energy", "mean_s"] {
            assert_eq!(r[q]["value"].as_str().unwrap(), j[col(&h, q)], "{q}");
        }
        assert_eq!(j[col(&h, "bound_kind")], "estimate");
        let t: f64 = r["t"].as_str().unwrap().parse().unwrap();
        let tj: f64 = j[col(&h, "t")].parse().unwrap();
        assert_eq!(t, tj);
    }
}

/// The printed p* density integrates to 1 and its mean is the Gibbs route's E s (computed
/// from the Gegenbauer moments' fixed point, not from the density), within the trapezoid
/// rule's error bound (b − a)h²/12·max|f''| with f'' from the grid's second differences,
/// doubled for the normalisation, times 1.5 because the second differences estimate max|f''|
/// from below.
#[test]
fn the_pstar_density_has_the_gibbs_mean() {
    let a = tiny_run();
    for b in ["2", "8"] {
        let (h, rows) = csv(&a.join(format!("runs/flow-beta{b}/pstar.csv")));
        let s: Vec<f64> = rows
            .iter()
            .map(|r| r[col(&h, "s")].parse().unwrap())
            .collect();
        let p: Vec<f64> = rows
            .iter()
            .map(|r| r[col(&h, "density")].parse().unwrap())
            .collect();
        let mean_star: f64 = rows[0][col(&h, "mean_s_star")].parse().unwrap();
        let hh = s[1] - s[0];
        let trap = |f: &[f64]| hh * (f.iter().sum::<f64>() - 0.5 * (f[0] + f[f.len() - 1]));
        let sp: Vec<f64> = s.iter().zip(&p).map(|(x, y)| x * y).collect();
        let f2 = |f: &[f64]| {
            f.windows(3)
                .map(|w| ((w[0] - 2.0 * w[1] + w[2]) / (hh * hh)).abs())
                .fold(0.0, f64::max)
        };
        let bound = 2.0 * 2.0 * hh * hh / 12.0 * (f2(&p) + f2(&sp)) * 1.5;
        assert!((trap(&p) - 1.0).abs() < 1e-12, "normalisation");
        let m = trap(&sp);
        assert!(
            (m - mean_star).abs() <= bound,
            "beta {b}: mean {m} vs Gibbs {mean_star} (bound {bound:e})"
        );
    }
}

#[test]
fn bad_recipes_are_refused() {
    let dir = tmp("bad");
    for (i, (from, to)) in [
        ("beta = [2.0, 8.0]", "beta = [-1.0]"),
        ("beta = [2.0, 8.0]", "beta = [8.0, 2.0]"),
        ("snapshot_times = [0.0, 0.5]", "snapshot_times = [0.52]"),
        ("d = 8", "d = 2"),
        ("widths = [16, 32]", "widths = []"),
        ("student = \"erf\"", "student = \"nope\""),
    ]
    .iter()
    .enumerate()
    {
        let rf = dir.join(format!("bad{i}.toml"));
        std::fs::write(&rf, TINY.replace(from, to)).unwrap();
        let o = bin()
            .args([
                "reproduce",
                "--recipe-file",
                rf.to_str().unwrap(),
                "--out",
                dir.join(format!("o{i}")).to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "{to}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{to}: one line: {err}");
    }
}

/// F* and E_{p*} s in pstar.csv (the f64 Gibbs route) agree with the MPFR oracle of
/// `langevin gibbs --oracle` within the sum of both printed estimates plus 64 ulps.
#[test]
fn the_gibbs_values_agree_with_the_oracle() {
    let a = tiny_run();
    for b in ["2", "8"] {
        let out = run_ok(&[
            "langevin",
            "gibbs",
            "--student",
            "erf",
            "--d",
            "8",
            "--beta",
            b,
            "--oracle",
        ]);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (h, rows) = csv(&a.join(format!("runs/flow-beta{b}/pstar.csv")));
        for (q, c) in [
            ("free_energy", "free_energy_star"),
            ("mean_s", "mean_s_star"),
        ] {
            let ov: f64 = doc[q]["value"].as_str().unwrap().parse().unwrap();
            let ob: f64 = doc[q]["bound"].as_str().unwrap().parse().unwrap();
            let v: f64 = rows[0][col(&h, c)].parse().unwrap();
            let vb: f64 = rows[0][col(&h, &format!("{c}_bound"))].parse().unwrap();
            let tol = ob + vb + 64.0 * f64::EPSILON * (1.0 + v.abs());
            assert!(
                (v - ov).abs() <= tol,
                "beta {b} {q}: {v} vs oracle {ov} (tol {tol:e})"
            );
        }
        assert!(rows.iter().all(|r| r[col(&h, "bound_kind")] == "estimate"));
    }
}
