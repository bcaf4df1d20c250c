//! The `[deep_rates]` recipe kind (src/recipes/deep_rates.rs): a tiny recipe runs; its shards
//! merge to the unsharded run's bytes; a job's rows are the bytes of `deep train` for the same
//! draw (L = 2 and 3); the L = 2 and L = 3 summary files equal `deep train --summary`'s; bad recipes are
//! refused with exit 2 and one line before any job runs.

mod common;

use std::path::Path;
use std::process::Output;

const TINY: &str = r#"name = "deep-tiny"
description = "a tiny deep-rates recipe for the tests"
reproduces = "nothing"
differences = "tiny"
seed = 5

[deep_rates]
layers = [2, 3]
d = [2, 3]
widths = [4, 8]
draws = 3
t_end = 0.5
dt_out = 0.25
dt = 0.05
corr_times = [0.5]
"#;

fn reproduce(rf: &Path, out: &Path, extra: &[&str]) -> Output {
    common::bin()
        .args(["reproduce", "--recipe-file", rf.to_str().unwrap(), "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// Header plus the lines of draw `draw` of a `deep train` CSV.
fn draw_lines(csv: &str, draw: usize) -> String {
    let mut lines = csv.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for l in lines {
        if l.split(',').nth(2) == Some(&draw.to_string()) {
            out += l;
            out.push('\n');
        }
    }
    out
}

#[test]
fn deep_rates_recipe_runs_shards_merge_and_matches_deep_train() {
    let dir = common::scratch("deep_recipe", "tiny");
    let rf = dir.join("tiny.toml");
    std::fs::write(&rf, TINY).unwrap();
    let full = dir.join("full");
    let o = reproduce(&rf, &full, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let files = common::data_files(&full);
    for f in [
        "runs/deep-l2-d2-r0/rows.csv",
        "runs/deep-l2-d2-r0/corr.csv",
        "runs/deep-l3-d3-r2/rows.csv",
        "risk-l2-d2.csv",
        "risk-l3-d3.csv",
        "gaps-l2-d3.csv",
        "gaps-l3-d2.csv",
        "correlations-l2-d2.csv",
        "summary-l2-d2.json",
        "summary-l3-d3.json",
        "manifest.json",
    ] {
        assert!(files.contains_key(f), "{f} missing");
    }
    assert!(files.contains_key("runs/deep-l3-d2-r0/corr.csv"));
    assert!(files.contains_key("correlations-l3-d3.csv"));
    // Shards 0/3, 1/3, 2/3 merged (in any order) give the same bytes.
    let shards: Vec<_> = (0..3).map(|i| dir.join(format!("s{i}"))).collect();
    for (i, s) in shards.iter().enumerate() {
        let o = reproduce(&rf, s, &["--shard", &format!("{i}/3")]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let merged = dir.join("merged");
    let o = common::bin()
        .arg("merge")
        .args([&shards[2], &shards[0], &shards[1]])
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(common::data_files(&merged), files);
    // A job is `deep train` for its draw: L = 3 (d = 3, draw 1) and L = 2 (d = 2, draw 2), both
    // with the correlations and the summary.
    let common_args = [
        "--widths", "4,8", "--draws", "3", "--seed", "5", "--t-end", "0.5", "--dt-out", "0.25",
        "--dt", "0.05",
    ];
    let summary3 = dir.join("summary3.json");
    let o = common::bin()
        .args(["deep", "train", "--layers", "3", "--d", "3"])
        .args(common_args)
        .args(["--corr-times", "0.5", "--summary"])
        .arg(&summary3)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        draw_lines(&text, 1).as_bytes(),
        files["runs/deep-l3-d3-r1/rows.csv"].as_slice()
    );
    let cli3: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary3).unwrap()).unwrap();
    let rec3: serde_json::Value = serde_json::from_slice(&files["summary-l3-d3.json"]).unwrap();
    assert_eq!(cli3["summary"], rec3);
    let summary = dir.join("summary.json");
    let o = common::bin()
        .args(["deep", "train", "--layers", "2", "--d", "2"])
        .args(common_args)
        .args(["--corr-times", "0.5", "--summary"])
        .arg(&summary)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        draw_lines(&text, 2).as_bytes(),
        files["runs/deep-l2-d2-r2/rows.csv"].as_slice()
    );
    let cli: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let rec: serde_json::Value = serde_json::from_slice(&files["summary-l2-d2.json"]).unwrap();
    assert_eq!(cli["summary"], rec);
    // The correlation rows of draw 0 are those of the summary file.
    let corr = String::from_utf8(files["runs/deep-l2-d2-r0/corr.csv"].clone()).unwrap();
    let cli_corr: Vec<&serde_json::Value> = cli["correlations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["draw"] == 0)
        .collect();
    assert_eq!(corr.lines().count(), 1 + cli_corr.len());
    for (l, c) in corr.lines().skip(1).zip(cli_corr) {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f[3], c["class"].as_str().unwrap());
        assert_eq!(f[5].parse::<f64>().unwrap(), c["finite"].as_f64().unwrap());
        assert_eq!(f[7].parse::<f64>().unwrap(), c["limit"].as_f64().unwrap());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_deep_rates_recipes_are_refused_before_any_job() {
    let dir = common::scratch("deep_recipe", "bad");
    for (from, to, needle) in [
        ("draws = 3", "draws = 1", "draws"),
        ("widths = [4, 8]", "widths = [8, 4]", "widths"),
        ("layers = [2, 3]", "layers = [2, 4]", "layers"),
        ("corr_times = [0.5]", "corr_times = [0.3]", "corr_times"),
        ("dt = 0.05", "dt = -1.0", "dt"),
    ] {
        let rf = dir.join("bad.toml");
        std::fs::write(&rf, TINY.replace(from, to)).unwrap();
        let out = dir.join("out");
        let o = reproduce(&rf, &out, &[]);
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{to}: {e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{to}: {e}");
        assert!(e.contains(needle), "{to}: {e}");
        assert!(!out.join("runs").exists(), "{to}: a job ran");
    }
    std::fs::remove_dir_all(&dir).ok();
}
