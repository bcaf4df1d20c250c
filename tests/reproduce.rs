//! `reproduce` and `merge`: recipes, determinism, sharding, figures, bad input.
//! Notes: proofs-notes/recipes.md.

mod common;
use common::bin;

use mforacle::recipes::{self, run::escape_formula, Job, Recipe};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    common::scratch("reproduce", name)
}

const TINY: &str = r#"
name = "tiny"
description = "a tiny train recipe for the tests"
reproduces = "nothing"
differences = "tiny"
seed = 3

[train]
student = "he4"
d = [8, 10]
widths = [16, 32]
draws = 2
eta = 0.01
t_end = 0.3
record_every = 5
histogram_every = 10
panels = 10
track_sqrt_d = [1.0, 2.0]
dt_out = 0.1
"#;

#[test]
fn builtin_recipes_parse_and_expand() {
    assert_eq!(recipes::BUILTIN[0].0, recipes::DEFAULT);
    for (name, text) in recipes::BUILTIN {
        let r = Recipe::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&r.name, name);
        assert!(!r.reproduces.is_empty() && !r.differences.is_empty());
        let jobs = r.jobs();
        assert!(!jobs.is_empty());
        let mut ids: Vec<&str> = jobs.iter().map(|j| j.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), jobs.len(), "{name}: job ids are unique");
        mforacle::recipes::run::check(&r).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    // poc-he4-d32 exactly as the issue specifies it
    let r = Recipe::parse(recipes::builtin_text("poc-he4-d32").unwrap()).unwrap();
    let t = r.train.as_ref().unwrap();
    assert_eq!(t.student, "he4");
    assert_eq!(t.d, vec![32]);
    assert_eq!(t.widths, vec![4096, 8192, 16384, 32768]);
    assert_eq!((t.draws, t.eta, t.t_end), (3, 0.01, Some(15.0)));
    assert_eq!(r.jobs().len(), 4);
    // sweep-d: default horizon max(ln d, 0.5 d^{k/2-1})
    let r = Recipe::parse(recipes::builtin_text("sweep-d").unwrap()).unwrap();
    let t = r.train.as_ref().unwrap();
    let h: Vec<f64> = t.d.iter().map(|&d| Recipe::train_horizon(t, d)).collect();
    assert_eq!(h, vec![8.0, 16.0, 32.0, 64.0]);
    assert_eq!(recipes::default_horizon(8, 2), 8f64.ln());
}

#[test]
fn jobs_are_per_d_and_draw() {
    let r = Recipe::parse(TINY).unwrap();
    let ids: Vec<String> = r.jobs().iter().map(|j| j.id().to_string()).collect();
    assert_eq!(
        ids,
        [
            "mf-d8",
            "train-d8-r0",
            "train-d8-r1",
            "mf-d10",
            "train-d10-r0",
            "train-d10-r1"
        ]
    );
    assert!(matches!(r.jobs()[2], Job::Train { d: 8, draw: 1, .. }));
    // draw r runs with seed S + r, one draw
    let c = recipes::run::train_config(&r, 8, 1).unwrap();
    assert_eq!((c.seed, c.draws), (4, 1));
}

#[test]
fn same_seed_gives_identical_bytes_and_shards_merge_to_them() {
    let dir = tmp("det");
    let recipe = dir.join("tiny.toml");
    std::fs::write(&recipe, TINY).unwrap();
    let rf = recipe.to_str().unwrap();
    let (a, b) = (dir.join("a"), dir.join("b"));
    let o = common::run_ok(&[
        "reproduce",
        "--recipe-file",
        rf,
        "--out",
        a.to_str().unwrap(),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        a.to_str().unwrap()
    );
    common::run_ok(&[
        "reproduce",
        "--recipe-file",
        rf,
        "--out",
        b.to_str().unwrap(),
    ]);
    let fa = common::data_files(&a);
    assert!(fa.contains_key("manifest.json") && fa.contains_key("loss-d8.csv"));
    assert!(fa.contains_key("runs/train-d10-r1/train.csv"));
    assert_eq!(fa, common::data_files(&b), "two runs with the same seed");
    // the manifest has no wall time; timing.json has it
    let m = String::from_utf8(fa["manifest.json"].clone()).unwrap();
    assert!(!m.contains("seconds"));
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("timing.json")).unwrap()).unwrap();
    assert!(t["wall_seconds"].as_f64().unwrap() >= 0.0);
    // another seed changes the numbers
    let c = dir.join("c");
    common::run_ok(&[
        "reproduce",
        "--recipe-file",
        rf,
        "--out",
        c.to_str().unwrap(),
        "--seed",
        "4",
    ]);
    assert_ne!(
        common::data_files(&c)["runs/train-d8-r0/train.csv"],
        fa["runs/train-d8-r0/train.csv"]
    );
    // draw 1 of seed 3 is draw 0 of seed 4
    assert_eq!(
        common::data_files(&c)["runs/train-d8-r0/train.csv"],
        String::from_utf8(fa["runs/train-d8-r1/train.csv"].clone())
            .unwrap()
            .replace("\n16,1,", "\n16,0,")
            .replace("\n32,1,", "\n32,0,")
            .into_bytes()
    );
    // shards 0/3, 1/3, 2/3, merged (in any order): the same bytes
    let mut shards = Vec::new();
    for i in 0..3 {
        let s = dir.join(format!("s{i}"));
        let sh = format!("{i}/3");
        common::run_ok(&[
            "reproduce",
            "--recipe-file",
            rf,
            "--out",
            s.to_str().unwrap(),
            "--shard",
            &sh,
        ]);
        assert!(s.join("shard.json").exists() && !s.join("manifest.json").exists());
        shards.push(s);
    }
    let m = dir.join("merged");
    common::run_ok(&[
        "merge",
        shards[2].to_str().unwrap(),
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
    ]);
    assert_eq!(
        common::data_files(&m),
        fa,
        "merged shards against the unsharded run"
    );
    // merge refuses a missing shard and shards of another seed (exit 2)
    let o = bin()
        .args([
            "merge",
            shards[0].to_str().unwrap(),
            shards[1].to_str().unwrap(),
        ])
        .args(["--out", dir.join("m2").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing shards: 2/3"));
    let other = dir.join("other");
    common::run_ok(&[
        "reproduce",
        "--recipe-file",
        rf,
        "--out",
        other.to_str().unwrap(),
        "--shard",
        "2/3",
        "--seed",
        "9",
    ]);
    let o = bin()
        .args([
            "merge",
            shards[0].to_str().unwrap(),
            shards[1].to_str().unwrap(),
        ])
        .arg(other.to_str().unwrap())
        .args(["--out", dir.join("m3").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("differ"));
    // figures: SVG with the axis labels when a font exists, else the reason in the manifest
    let man: serde_json::Value = serde_json::from_slice(&fa["manifest.json"]).unwrap();
    let figs = man["figures"].as_array().unwrap();
    assert_eq!(figs.len(), 2 * 6);
    if man["figures_note"].is_null() {
        let svg = std::fs::read_to_string(a.join("loss-d8.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        assert!(svg.contains("time t = steps · η"), "x label");
        assert!(
            svg.contains("population loss E[(f − y)²] (no ½)"),
            "y label"
        );
        let png = std::fs::read(a.join("gap-d10.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    } else {
        assert!(figs.iter().all(|f| f["svg"].is_null()));
    }
    // figure data: the loss figure has one series per width and the mean-field curve
    let loss = String::from_utf8(fa["loss-d8.csv"].clone()).unwrap();
    assert!(loss.starts_with("series,x,y\n"));
    for s in ["N = 16,", "N = 32,", "mean field (exact): loss = risk,"] {
        assert!(loss.contains(&format!("\n{s}")), "{s}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_exits_2() {
    let dir = tmp("bad");
    let o = bin()
        .args(["reproduce", "no-such-recipe"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("unknown recipe `no-such-recipe`"), "{e}");
    for (name, _) in recipes::BUILTIN {
        assert!(e.contains(name), "{e}");
    }
    let f = dir.join("bad.toml");
    std::fs::write(&f, TINY.replace("draws = 2", "draws = 2\nwidht = 3")).unwrap();
    let o = bin()
        .args(["reproduce", "--recipe-file", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("widht"));
    std::fs::write(&f, TINY.replace("\"he4\"", "\"he4(\"")).unwrap();
    let o = bin()
        .args(["reproduce", "--recipe-file", f.to_str().unwrap(), "--out"])
        .arg(dir.join("x"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    for shard in ["3/3", "a/2", "1"] {
        let o = bin()
            .args(["reproduce", "--shard", shard, "--out"])
            .arg(dir.join("y"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "--shard {shard}");
    }
    let o = bin()
        .args(["merge", dir.to_str().unwrap(), "--out"])
        .arg(dir.join("z"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = bin().args(["reproduce", "--list"]).output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("poc-he4-d32-quick (default)"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The escape formula of docs/conventions.md §6 against a direct integration of dα/dt = 2k c α^{k−1}.
#[test]
fn escape_formula_integrates_the_small_alpha_ode() {
    for k in 1..=5usize {
        let (c, a0, a1) = (0.7, 0.05, 0.4);
        let exact = escape_formula(k, c, 1.0, a0, a1);
        // t = ∫ dα / (2kcα^{k−1}) by composite Simpson in log α
        let n = 20000;
        let (l0, l1) = (a0.ln(), a1.ln());
        let h = (l1 - l0) / n as f64;
        let f = |l: f64| {
            let a = l.exp();
            a / (2.0 * k as f64 * c * a.powi(k as i32 - 1))
        };
        let mut s = f(l0) + f(l1);
        for i in 1..n {
            s += f(l0 + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        let num = s * h / 3.0;
        assert!(
            (num - exact).abs() < 1e-9 * exact,
            "k = {k}: {num} vs {exact}"
        );
    }
}

/// The exact flow's escape time approaches the asymptotic formula as d grows (h_4).
#[test]
fn escape_times_approach_the_formula() {
    let dir = tmp("escape");
    let f = dir.join("e.toml");
    std::fs::write(
        &f,
        r#"
name = "esc"
description = "test"
reproduces = "test"
differences = "test"
[escape]
students = ["he4"]
d = [64, 1024]
alpha0_sqrt_d = [1.0]
threshold = 0.5
panels = 40
"#,
    )
    .unwrap();
    let out = dir.join("o");
    common::run_ok(&[
        "reproduce",
        "--recipe-file",
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(out.join("runs/escape-he4/escape.csv")).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(2).map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 2);
    // columns after student,k: d,c,alpha0,threshold,t_flow,t_formula,ratio
    let (t0, t1) = (rows[0][4], rows[1][4]);
    let slope = (t1 / t0).ln() / 16f64.ln();
    assert!(
        (slope - 1.0).abs() < 0.05,
        "escape time ~ d^((k-2)/2): slope {slope}"
    );
    // the interaction slows the tracked particle (the law has moved by then): ratio > 1, O(1)
    for r in &rows {
        assert!(r[6] > 1.0 && r[6] < 1.4, "{rows:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tiny concordance recipe end to end: `concordance.csv` per d (the command's CSV columns
/// without `seconds`), the joined
/// `concordance-table.csv` and the figure's data; each row's R1/R2 at initialisation, the sampled
/// R2 maximum and the number of velocity sign changes equal what `mforacle concordance` prints for
/// the same d, horizon, particles, panels and time step (the same flow and closed forms reached
/// through the other entry point: a wiring check, not a numerical one — the numbers themselves
/// are checked in tests/hessian.rs and tests/concordance_cli.rs); with interaction h_4's
/// velocity changes sign, so the figure's legend must call the sampled maximum a lower bound.
#[test]
fn concordance_recipe_matches_the_concordance_command() {
    let dir = tmp("conc");
    let recipe = dir.join("conc.toml");
    std::fs::write(
        &recipe,
        r#"
name = "tiny-concordance"
description = "two small d"
reproduces = "nothing"
differences = "tiny"
seed = 1

[concordance]
student = "he4"
d = [16, 24]
information_exponent = 4
t_end = 1.0
particles = 10
panels = 10
dt = 0.05
alpha_cut = 0.9
"#,
    )
    .unwrap();
    let out = dir.join("out");
    common::run_ok(&[
        "reproduce",
        "--recipe-file",
        recipe.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let table = std::fs::read_to_string(out.join("concordance-table.csv")).unwrap();
    let mut lines = table.lines();
    let head = lines.next().unwrap();
    // One schema: the recipe's columns are the command's CSV columns without its timing column.
    let csv = common::run_ok(&[
        "concordance",
        "--student",
        "he4",
        "--d",
        "16",
        "--t-end",
        "1",
        "--particles",
        "10",
        "--panels",
        "10",
        "--dt",
        "0.05",
        "--format",
        "csv",
    ]);
    let command_head = String::from_utf8(csv.stdout).unwrap();
    let command_head = command_head.lines().next().unwrap();
    assert_eq!(Some(head), command_head.strip_suffix(",seconds"));
    let header: Vec<&str> = head.split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2);
    for row in rows {
        let d = row[col("d")];
        let o = common::run_ok(&[
            "concordance",
            "--student",
            "he4",
            "--d",
            d,
            "--t-end",
            "1",
            "--particles",
            "10",
            "--panels",
            "10",
            "--dt",
            "0.05",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let p = &v["per_d"][0];
        let f = |name: &str| row[col(name)].parse::<f64>().unwrap();
        for name in ["r1_at_init", "r2_at_init", "r2_sup"] {
            assert_eq!(f(name), p[name].as_f64().unwrap(), "d = {d}: {name}");
        }
        assert_eq!(
            f("velocity_sign_changes"),
            p["velocity_sign_changes"].as_f64().unwrap()
        );
        assert!(f("velocity_sign_changes") > 0.0, "d = {d}");
    }
    let fig = std::fs::read_to_string(out.join("concordance.csv")).unwrap();
    assert!(
        fig.contains("only a lower bound as v changes sign"),
        "{fig}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
