//! The `dimension-free` recipe kind (proofs-notes/dimension-free.md): a tiny configuration
//! run end to end, shard/merge identity, the tables' headers, the jobs equal to `train`, the
//! flow reference against the MPFR oracle of `meanfield`, and the fits against synthetic data.

mod common;
use common::{bin, csv_col as col, csv_table as csv};

use mforacle::recipes::dimension_free::{GAPS_HEADER, PREFACTOR_SLOPE_HEADER, SLOPES_HEADER};
use mforacle::recipes::fit::{jackknife, loglog_fit, mean_sd};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    common::scratch("reproduce_dimension_free", name)
}

const TINY: &str = r#"
name = "tiny-df"
description = "a tiny dimension-free recipe for the tests"
reproduces = "nothing"
differences = "tiny"
seed = 3

[dimension_free]
student = "erf"
d = [8, 12]
widths = [16, 32, 64]
draws = 3
eta = 0.01
t_end = 0.2
record_every = 10
panels = 10
prefactor_widths = 2
"#;

/// The tiny recipe, run once per test binary (the tests share it).
fn tiny_run() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| common::reproduce_text(&tmp("tiny"), TINY))
        .clone()
}

#[test]
fn tables_and_figures_exist_with_their_headers() {
    let a = tiny_run();
    for (file, header) in [
        ("dimension-free-gaps.csv", GAPS_HEADER),
        ("dimension-free-slopes.csv", SLOPES_HEADER),
        ("dimension-free-prefactor-slope.csv", PREFACTOR_SLOPE_HEADER),
    ] {
        let (h, rows) = csv(&a.join(file));
        assert_eq!(h, header, "{file}");
        assert!(!rows.is_empty(), "{file}");
        let bk = col(&h, "bound_kind");
        assert!(rows.iter().all(|r| r[bk] == "estimate"), "{file}");
    }
    // 2 d × 3 recorded times (0, 0.1, 0.2) × 3 widths; 2 d × 3 t × 2 references; 3 t × 2
    assert_eq!(csv(&a.join("dimension-free-gaps.csv")).1.len(), 18);
    assert_eq!(csv(&a.join("dimension-free-slopes.csv")).1.len(), 12);
    assert_eq!(
        csv(&a.join("dimension-free-prefactor-slope.csv")).1.len(),
        6
    );
    for fig in [
        "dimension-free-loglog-d8",
        "dimension-free-loglog-d12",
        "dimension-free-prefactor",
    ] {
        assert!(a.join(format!("{fig}.csv")).exists(), "{fig}");
    }
    for d in [8, 12] {
        for r in 0..3 {
            assert!(a.join(format!("runs/df-d{d}-r{r}/train.csv")).exists());
        }
    }
}

/// The slopes and prefactors of the slopes table, recomputed here from the gaps table with
/// this file's own least squares (not the crate's fit).
#[test]
fn slopes_and_prefactors_follow_from_the_gaps_table() {
    let a = tiny_run();
    let (gh, gaps) = csv(&a.join("dimension-free-gaps.csv"));
    let (sh, slopes) = csv(&a.join("dimension-free-slopes.csv"));
    let f = |s: &str| s.parse::<f64>().unwrap();
    for s in &slopes {
        let (d, t, reference) = (
            &s[col(&sh, "d")],
            &s[col(&sh, "t")],
            &s[col(&sh, "reference")],
        );
        let pts: Vec<(f64, f64)> = gaps
            .iter()
            .filter(|g| &g[col(&gh, "d")] == d && &g[col(&gh, "t")] == t)
            .map(|g| {
                (
                    f(&g[col(&gh, "width")]),
                    f(&g[col(&gh, &format!("mean_abs_gap_{reference}"))]),
                )
            })
            .collect();
        assert_eq!(pts.len(), 3);
        // slope = cov(ln N, ln y)/var(ln N), by the normal equations of a 2×2 system
        let (mut s1, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (x, y) in &pts {
            let (lx, ly) = (x.ln(), y.ln());
            s1 += 1.0;
            sx += lx;
            sy += ly;
            sxx += lx * lx;
            sxy += lx * ly;
        }
        let slope = (s1 * sxy - sx * sy) / (s1 * sxx - sx * sx);
        let got = f(&s[col(&sh, "slope")]);
        assert!(
            (got - slope).abs() <= 1e-10 * (1.0 + slope.abs()),
            "{got} vs {slope}"
        );
        // prefactor: mean of √N·mean|gap| over the two largest widths
        let c = (pts[1].0.sqrt() * pts[1].1 + pts[2].0.sqrt() * pts[2].1) / 2.0;
        let got = f(&s[col(&sh, "prefactor")]);
        assert!((got - c).abs() <= 1e-12 * c, "{got} vs {c}");
        assert!(f(&s[col(&sh, "slope_se")]) > 0.0 && f(&s[col(&sh, "prefactor_se")]) > 0.0);
    }
}

#[test]
fn shards_merge_to_the_unsharded_bytes() {
    let a = tiny_run();
    let m = common::shards_merged(&tmp("shards"), TINY, 2);
    let fa = common::data_files(&a);
    assert!(fa.contains_key("dimension-free-slopes.csv"));
    assert_eq!(
        common::data_files(&m),
        fa,
        "merged shards against the unsharded run"
    );
}

/// Job (d = 8, draw 0) is `mforacle train` with the recipe's settings and seed.
#[test]
fn a_job_is_train_with_the_same_settings() {
    let a = tiny_run();
    let out = tmp("train");
    common::run_ok(&[
        "train",
        "--student",
        "erf",
        "--d",
        "8",
        "--widths",
        "16,32,64",
        "--eta",
        "0.01",
        "--t-end",
        "0.2",
        "--update",
        "tangent",
        "--record-every",
        "10",
        "--histogram-every",
        "20",
        "--panels",
        "10",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(out.join("train.csv")).unwrap(),
        std::fs::read(a.join("runs/df-d8-r0/train.csv")).unwrap()
    );
}

/// R(ρ_T) of the recipe (the continuous flow in f64, `mf_loss` at t = 0.2, d = 8) against the
/// MPFR oracle flow of `meanfield --oracle`, within the oracle's stated error plus the f64
/// flow's: its error-per-step tolerance 1e-10 (atol + rtol on α, a handful of steps, so
/// ≲ 1e-9 on the risk) and the kernels' degree-60 tail (≲ 1e-12 for erf at d = 8).
#[test]
fn flow_reference_matches_the_meanfield_oracle() {
    let a = tiny_run();
    let (h, rows) = csv(&a.join("runs/df-d8-r0/train.csv"));
    let last = rows.iter().find(|r| r[col(&h, "step")] == "20").unwrap();
    let ours: f64 = last[col(&h, "mf_loss")].parse().unwrap();
    let o = common::run_ok(&[
        "meanfield",
        "--oracle",
        "--digits",
        "20",
        "--student",
        "erf",
        "--d",
        "8",
        "--t-end",
        "0.2",
        "--dt-out",
        "0.2",
        "--panels",
        "10",
        "--format",
        "csv",
    ]);
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    let head = lines.next().unwrap().to_string();
    let row: Vec<&str> = lines.last().unwrap().split(',').collect();
    assert!((row[col(&head, "t")].parse::<f64>().unwrap() - 0.2).abs() < 1e-15);
    let oracle: f64 = row[col(&head, "loss")].parse().unwrap();
    let err: f64 = row[col(&head, "err_total")].parse().unwrap();
    let tol = err + 1e-9 + 1e-12;
    assert!(
        (ours - oracle).abs() <= tol,
        "recipe R(rho_T) = {ours}, oracle {oracle} ± {err}"
    );
    // and the flow moved: the check is not comparing the initial risk
    let first = rows.iter().find(|r| r[col(&h, "step")] == "0").unwrap();
    let r0: f64 = first[col(&h, "mf_loss")].parse().unwrap();
    assert!(r0 - ours > 1e3 * tol);
}

/// A synthetic power law y = C N^b with independent multiplicative noise per draw: the fit
/// recovers b exactly without noise, and within a few jackknife standard errors with it.
#[test]
fn fit_recovers_a_synthetic_power_law() {
    let xs = [256.0, 512.0, 1024.0, 2048.0, 4096.0];
    let (b, a) = loglog_fit(&xs, &xs.map(|x: f64| 0.7 * x.powf(-0.5))).unwrap();
    assert!((b + 0.5).abs() < 1e-12 && (a - 0.7f64.ln()).abs() < 1e-10);
    // noise: draw r scales y by exp(e_{r,i}) with e uniform in [−0.3, 0.3] (a fixed LCG)
    let draws = 40;
    let mut state = 12345u64;
    let mut e = vec![vec![0.0; xs.len()]; draws];
    for row in e.iter_mut() {
        for v in row.iter_mut() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *v = ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.6;
        }
    }
    let slope = |skip: Option<usize>| {
        let ys: Vec<f64> = xs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let kept: Vec<f64> = (0..draws)
                    .filter(|r| Some(*r) != skip)
                    .map(|r| 0.7 * x.powf(-0.5) * e[r][i].exp())
                    .collect();
                kept.iter().sum::<f64>() / kept.len() as f64
            })
            .collect();
        loglog_fit(&xs, &ys).map(|f| f.0)
    };
    let (b, se) = jackknife(draws, &slope).unwrap();
    assert!(se > 0.0 && se < 0.05, "se = {se}");
    assert!((b + 0.5).abs() < 4.0 * se, "slope {b} ± {se}");
}

/// The jackknife standard error of a mean is exactly s/√n (a classical identity).
#[test]
fn jackknife_of_a_mean_is_the_standard_error() {
    let v = [0.3, -1.2, 2.5, 0.7, 0.1, -0.4, 1.9];
    let n = v.len();
    let mean = |skip: Option<usize>| {
        let kept: Vec<f64> = (0..n).filter(|r| Some(*r) != skip).map(|r| v[r]).collect();
        Some(kept.iter().sum::<f64>() / kept.len() as f64)
    };
    let (m, se) = jackknife(n, &mean).unwrap();
    let (m2, sd) = mean_sd(&v);
    assert!((m - m2).abs() < 1e-15);
    assert!((se - sd / (n as f64).sqrt()).abs() < 1e-14, "{se}");
}

#[test]
fn one_draw_is_a_usage_error() {
    let dir = tmp("bad");
    let rf = dir.join("bad.toml");
    std::fs::write(&rf, TINY.replace("draws = 3", "draws = 1")).unwrap();
    let o = bin()
        .args(["reproduce", "--recipe-file", rf.to_str().unwrap()])
        .args(["--out", dir.join("o").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("at least two draws"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
