//! `mforacle concordance` end to end (proofs-note: proofs-notes/local-hessian.md §6).

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mforacle"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = bin().arg("concordance").args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn json_interaction_free_with_certificate_and_oracle() {
    let (code, out, err) = run(&[
        "--student",
        "he4",
        "--d",
        "16,32,64",
        "--no-interaction",
        "--particles",
        "20",
        "--oracle",
        "--certify",
        "--alpha-max",
        "0.9",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["information_exponent"], 4);
    let per = v["per_d"].as_array().unwrap();
    assert_eq!(per.len(), 3);
    for p in per {
        let d = p["d"].as_f64().unwrap();
        // auto horizon max(ln d, 0.5 d^{k/2-1}) = 0.5 d for k = 4
        assert!((p["t_end"].as_f64().unwrap() - (0.5 * d).max(d.ln())).abs() < 1e-12);
        let r2 = p["r2_at_init"].as_f64().unwrap();
        assert!(r2 > 2.8 && r2 < 3.0);
        assert!(p["oracle"]["f64_relative_difference"].as_f64().unwrap() < 1e-14);
        assert!(p["integral_h_median"].as_f64().unwrap() > 0.0);
        assert!(p["gronwall_factor_log10"].as_f64().unwrap() > 0.0);
    }
    let e = v["fits"]["r1_at_init_exponent"].as_f64().unwrap();
    assert!((e - 0.5).abs() < 0.05, "{e}");
    assert!(v["fits"]["r1_at_init_exponent_error"].as_f64().unwrap() >= 0.0);
    let c = v["certified_r2_bound"].as_f64().unwrap();
    assert!((3.0..3.0 * (1.0 + 1e-6) + 1e-12).contains(&c), "{c}");
    assert!(!out.contains("null") && !out.contains("NaN"));
}

#[test]
fn csv_and_out_file() {
    let dir = std::env::temp_dir().join(format!("mforacle-conc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("c.csv");
    let (code, out, err) = run(&[
        "--student",
        "he3",
        "--d",
        "20",
        "--t-end",
        "2",
        "--no-interaction",
        "--particles",
        "5",
        "--format",
        "csv",
        "--out",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    let text = std::fs::read_to_string(&f).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("d,t_end,"));
    assert!(lines[1].starts_with("20,2,"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn with_interaction_small() {
    let (code, out, err) = run(&[
        "--student",
        "he4",
        "--d",
        "16",
        "--t-end",
        "3",
        "--particles",
        "5",
        "--panels",
        "20",
        "--dt",
        "0.05",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["interaction"], true);
    assert!(v["per_d"][0]["r1_at_init"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    for args in [
        &["--student", "he4", "--d", "2"][..],
        &["--student", "he4", "--d", "16", "--t-end", "-1"],
        &["--student", "he4", "--d", "16", "--t-end", "soon"],
        &["--student", "he4(", "--d", "16"],
        &["--student", "step", "--d", "16", "--no-interaction"],
        &[
            "--student",
            "relu",
            "--d",
            "16",
            "--certify",
            "--no-interaction",
            "--t-end",
            "1",
        ],
        &[
            "--student",
            "he4",
            "--d",
            "16",
            "--certify",
            "--alpha-max",
            "1",
        ],
        &[
            "--student",
            "he4+he2",
            "--teacher",
            "he4-0.5*he2",
            "--d",
            "16",
            "--certify",
            "--alpha-min",
            "0.1",
            "--alpha-max",
            "0.9",
            "--no-interaction",
            "--t-end",
            "1",
        ],
        &["--student", "he4", "--d", "16", "--particles", "0"],
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    let (_, _, err) = run(&[
        "--student",
        "relu",
        "--d",
        "16",
        "--certify",
        "--no-interaction",
        "--t-end",
        "1",
    ]);
    assert!(err.contains("kink"), "{err}");
}
