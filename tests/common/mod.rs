//! Helpers shared by the integration tests: running the binary and scratch folders.
//! Each test file includes this with `mod common;`; not every file uses every helper.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `mforacle` binary built for this test run.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mforacle"))
}

/// Runs the binary with `args` and the given extra environment variables.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the binary runs")
}

/// Runs the binary with `args`.
pub fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// An empty scratch folder `mforacle-<group>-<pid>-<name>` in the temporary directory.
pub fn scratch(group: &str, name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("mforacle-{group}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).expect("scratch folder");
    p
}

/// A tiny training run (its checkpoint is ~19 kB): append `--out DIR`, and `--halt-after 3` to
/// stop early and leave a checkpoint. Used by the checkpoint tests (tests/reliability.rs, tests/fuzz.rs).
pub const TINY_TRAIN: &[&str] = &[
    "train",
    "--student",
    "he4",
    "--d",
    "4",
    "--widths",
    "2,4",
    "--eta",
    "0.05",
    "--t-end",
    "0.5",
    "--draws",
    "1",
    "--seed",
    "3",
    "--record-every",
    "2",
    "--histogram-every",
    "4",
    "--panels",
    "4",
];

/// Runs [`TINY_TRAIN`] halted after 3 steps into `dir`, and returns the checkpoint's bytes and
/// the run it belongs to (rebuilt from the configuration in its header).
pub fn tiny_checkpoint(dir: &std::path::Path) -> (Vec<u8>, mforacle::dynamics::Run) {
    let out = bin()
        .args(TINY_TRAIN)
        .args(["--halt-after", "3", "--out"])
        .arg(dir)
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(dir.join("checkpoint.bin")).expect("a checkpoint was written");
    let start = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let len = bytes[start..].iter().position(|&b| b == b'\n').unwrap();
    let header: serde_json::Value = serde_json::from_slice(&bytes[start..start + len]).unwrap();
    let config: mforacle::dynamics::Config =
        serde_json::from_value(header["config"].clone()).unwrap();
    (bytes, mforacle::dynamics::Run::new(config).unwrap())
}

/// Every file under `dir`, by path relative to `dir`, with its bytes.
pub fn all_files(dir: &std::path::Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// The data of a recipe's output: every CSV and JSON file under `dir` except timing.json and
/// shard.json (which hold timings and the shard's identity), by relative path.
pub fn data_files(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    all_files(dir)
        .into_iter()
        .map(|(p, b)| (p.to_string_lossy().into_owned(), b))
        .filter(|(rel, _)| {
            (rel.ends_with(".csv") || rel.ends_with(".json"))
                && !rel.ends_with("timing.json")
                && !rel.ends_with("shard.json")
        })
        .collect()
}

/// Runs the binary and asserts success (stderr in the message otherwise).
pub fn run_ok(args: &[&str]) -> Output {
    let o = bin().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A CSV file as (header, rows of fields).
pub fn csv_table(p: &std::path::Path) -> (String, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut lines = text.lines();
    let head = lines.next().unwrap().to_string();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (head, rows)
}

/// The index of column `name` in a CSV header.
pub fn csv_col(head: &str, name: &str) -> usize {
    head.split(',')
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {head}"))
}

/// Per-entry tolerance of quantity `q` of golden case `case` under the golden folder `g`, from
/// the case's expected.json (`tolerance_entrywise`, else the scalar `tolerance.value`).
pub fn golden_tolerance(g: &std::path::Path, case: &str, q: &str) -> Vec<f64> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(g.join(case).join("expected.json")).unwrap())
            .unwrap();
    let qd = v["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == q)
        .unwrap()
        .clone();
    let n: usize = qd["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .product();
    match qd.get("tolerance_entrywise") {
        Some(t) => t
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect(),
        None => vec![qd["tolerance"]["value"].as_f64().unwrap(); n],
    }
}

/// Writes `recipe` (TOML text) to `dir/recipe.toml`, runs `reproduce --recipe-file` on it into
/// `dir/a` (the run must succeed) and returns that output folder.
pub fn reproduce_text(dir: &std::path::Path, recipe: &str) -> PathBuf {
    let rf = dir.join("recipe.toml");
    std::fs::write(&rf, recipe).unwrap();
    let a = dir.join("a");
    run_ok(&[
        "reproduce",
        "--recipe-file",
        rf.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
    ]);
    a
}

/// Runs `recipe` (TOML text) as `n` shards (`--shard i/n`) under `dir`, merges them in reverse
/// order (the merge must not depend on it) and returns the merged folder.
pub fn shards_merged(dir: &std::path::Path, recipe: &str, n: usize) -> PathBuf {
    let rf = dir.join("recipe.toml");
    std::fs::write(&rf, recipe).unwrap();
    let mut args = vec!["merge".to_string()];
    for i in (0..n).rev() {
        let s = dir.join(format!("s{i}"));
        run_ok(&[
            "reproduce",
            "--recipe-file",
            rf.to_str().unwrap(),
            "--out",
            s.to_str().unwrap(),
            "--shard",
            &format!("{i}/{n}"),
        ]);
        args.push(s.to_str().unwrap().to_string());
    }
    let m = dir.join("merged");
    args.extend(["--out".to_string(), m.to_str().unwrap().to_string()]);
    run_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    m
}

/// Every trained edge's velocity of a deep network against central differences of `risk`:
/// −N² (R(θ + h) − R(θ − h))/(2h) at h = 1e−3 and 5e−4. The O(h²) truncation is estimated by
/// Richardson, |D_h − D_{h/2}| (3/4 of D_h's truncation error up to O(h⁴)), the rounding by
/// N²·8·eps/(h/2) (risks of order one). `label` names the case in the failure message.
pub fn deep_velocities_match_differences(
    net: &mforacle::deep::Net,
    vel1: &[f64],
    vel2: &[f64],
    risk: &dyn Fn(&mforacle::deep::Net) -> f64,
    label: &str,
) {
    let n2 = (net.n * net.n) as f64;
    let diff = |which: usize, idx: usize, h: f64| -> f64 {
        let mut p = net.clone();
        let mut m = net.clone();
        if which == 1 {
            p.theta1[idx] += h;
            m.theta1[idx] -= h;
        } else {
            p.theta2[idx] += h;
            m.theta2[idx] -= h;
        }
        -n2 * (risk(&p) - risk(&m)) / (2.0 * h)
    };
    let layers: &[usize] = if net.layers == 3 { &[1, 2] } else { &[1] };
    for &which in layers {
        let vel = if which == 1 { vel1 } else { vel2 };
        for (idx, &vx) in vel.iter().enumerate() {
            let h = 1e-3;
            let d1 = diff(which, idx, h);
            let d2 = diff(which, idx, h / 2.0);
            let tol = (d1 - d2).abs() + n2 * 8.0 * f64::EPSILON / (h / 2.0);
            assert!(
                (vx - d2).abs() <= tol,
                "{label} L={} layer {which} edge {idx}: {vx:e} vs differences {d2:e} tol {tol:e}",
                net.layers
            );
        }
    }
}

/// Solves (M W + λ I) x = b (W = diag(w)) by Gaussian elimination with partial pivoting
/// (the Nyström systems of the kernel-ridge checks).
pub fn solve_ridge(m: &[Vec<f64>], w: &[f64], ridge: f64, b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut a: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let mut row: Vec<f64> = (0..n)
                .map(|j| m[i][j] * w[j] + if i == j { ridge } else { 0.0 })
                .collect();
            row.push(b[i]);
            row
        })
        .collect();
    for col in 0..n {
        let p = (col..n)
            .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
            .unwrap();
        a.swap(col, p);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            for k in col..=n {
                a[row][k] -= f * a[col][k];
            }
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut v = a[i][n];
        for k in i + 1..n {
            v -= a[i][k] * x[k];
        }
        x[i] = v / a[i][i];
    }
    x
}

/// A closed form against a Monte Carlo mean of m samples with sums s1 = Σ e and s2 = Σ e²:
/// within 5 standard errors of the mean (a normal sampling law: a 5-s.e. miss has probability
/// below 6e−7 for a correct closed form).
pub fn assert_matches_monte_carlo(closed: f64, s1: f64, s2: f64, m: usize) {
    let mean = s1 / m as f64;
    let se = ((s2 / m as f64 - mean * mean) / m as f64).sqrt();
    println!("closed {closed:.6e}, Monte Carlo {mean:.6e} ± {se:.1e}");
    assert!(
        (closed - mean).abs() <= 5.0 * se,
        "{closed} vs {mean} ± {se}"
    );
}
