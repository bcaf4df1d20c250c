//! End-to-end tests of `mforacle population`: the oracle and the fast path agree within their
//! stated bounds, the same seed gives the same bytes whatever the thread count, and bad input
//! is refused with a one-line error naming the field and row (exit code 2, nothing written).

mod common;
use common::{run, run_env};

use std::path::PathBuf;
use std::process::Output;

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn num(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::String(s) => s.parse().unwrap(),
        _ => v.as_f64().unwrap(),
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mforacle-pop-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// |oracle − fast| ≤ oracle bound + fast bound, entry by entry, for he-polynomial activations
/// (the fast path's power series is then exact, so its bound is the f64 rounding bound plus
/// the f64 rounding of the series coefficients, ≤ 2^-52 relative each and far below the
/// rounding bound of the sums).
#[test]
fn oracle_and_fast_agree_within_bounds() {
    // he-polynomials: exact series; tanh, relu–tanh, erf: truncated series, whose Parseval
    // truncation bounds the fast path adds to its rounding bounds.
    for (student, teacher, nd) in [
        ("he4", "he4", "5,6"),
        ("he4+he6", "0.6*he4+0.3*he6", "4,9"),
        ("he3", "he3", "6,3"),
        ("tanh", "tanh", "4,5"),
        ("relu", "tanh", "3,7"),
        ("erf", "he3", "3,4"),
    ] {
        let base = [
            "population",
            "--student",
            student,
            "--teacher",
            teacher,
            "--random",
            nd,
            "--seed",
            "7",
        ];
        let o = json(&run(&[&base[..], &["--digits", "25"]].concat()));
        let f = json(&run(&[&base[..], &["--fast"]].concat()));
        let check = |what: &str,
                     ov: &serde_json::Value,
                     ob: &serde_json::Value,
                     fv: &serde_json::Value,
                     fb: &serde_json::Value| {
            let d = (num(ov) - num(fv)).abs();
            let allowed = num(ob) + num(fb) + 1e-300;
            assert!(
                d <= allowed * 1.000001,
                "{student}: {what}: oracle {ov} fast {fv}: {d:e} > {allowed:e}"
            );
        };
        check(
            "loss",
            &o["loss"],
            &o["loss_error_bound"],
            &f["loss"],
            &f["loss_error_bound"],
        );
        for key in ["tangent_gradient", "velocity"] {
            let (ov, ob) = (
                o[key].as_array().unwrap(),
                o[format!("{key}_error_bound")].as_array().unwrap(),
            );
            let (fv, fb) = (
                f[key].as_array().unwrap(),
                f[format!("{key}_error_bound")].as_array().unwrap(),
            );
            for i in 0..ov.len() {
                for j in 0..ov[i].as_array().unwrap().len() {
                    check(key, &ov[i][j], &ob[i][j], &fv[i][j], &fb[i][j]);
                }
            }
        }
        for i in 0..o["radial_gradient"].as_array().unwrap().len() {
            check(
                "radial",
                &o["radial_gradient"][i],
                &o["radial_gradient_error_bound"][i],
                &f["radial_gradient"][i],
                &f["radial_gradient_error_bound"][i],
            );
        }
    }
}

/// The bound kinds reach the output: relu–relu is all closed forms (every kind `enclosure`),
/// tanh rests on quadrature tables (`estimate`), the fast path is `estimate`; the relu values
/// are held to the `enclosure` claim against the independent reference in
/// `tests/population.rs::snapshot_relu`.
#[test]
fn bound_kinds_are_printed() {
    let kinds = |student: &str, fast: bool| {
        let mut args = vec![
            "population",
            "--student",
            student,
            "--teacher",
            student,
            "--random",
            "3,4",
            "--digits",
            "20",
        ];
        if fast {
            args.push("--fast");
        }
        let v = json(&run(&args));
        let fields: &[&str] = if fast {
            &["loss_bound_kind", "gradient_bound_kind"]
        } else {
            &[
                "loss_bound_kind",
                "tangent_gradient_bound_kind",
                "radial_gradient_bound_kind",
                "velocity_bound_kind",
            ]
        };
        fields
            .iter()
            .map(|f| v[*f].as_str().unwrap_or("missing").to_string())
            .collect::<Vec<_>>()
    };
    assert!(kinds("relu", false).iter().all(|k| k == "enclosure"));
    // tanh: enclosed tables and norms (the enclosure route), so the oracle's bounds are proven
    assert!(kinds("tanh", false).iter().all(|k| k == "enclosure"));
    // log1p is outside the enclosure theorem: its tables stay estimates
    assert!(kinds("log1p(z^2)+z", false).iter().all(|k| k == "estimate"));
    assert!(kinds("relu", true).iter().all(|k| k == "estimate"));
}

#[test]
fn same_seed_same_bytes_any_thread_count() {
    let args = |seed: &'static str| {
        [
            "population",
            "--student",
            "he4",
            "--teacher",
            "he4",
            "--random",
            "300,16",
            "--seed",
            seed,
            "--fast",
        ]
    };
    let one = run_env(&args("3"), &[("RAYON_NUM_THREADS", "1")]);
    let two = run_env(&args("3"), &[("RAYON_NUM_THREADS", "2")]);
    assert!(one.status.success() && two.status.success());
    assert_eq!(one.stdout, two.stdout, "1 and 2 threads differ");
    let again = run_env(&args("3"), &[("RAYON_NUM_THREADS", "2")]);
    assert_eq!(two.stdout, again.stdout);
    let other_seed = run(&args("4"));
    assert_ne!(two.stdout, other_seed.stdout);
}

#[test]
fn weights_file_round_trip_and_errors() {
    let d = scratch("w");
    let good = d.join("good.json");
    let s = 0.5f64.sqrt();
    std::fs::write(
        &good,
        format!(r#"{{"theta": [1, 0, 0], "w": [[{s}, {s}, 0], [0, 0, 1]], "a": [0.5, 0.5]}}"#),
    )
    .unwrap();
    let o = json(&run(&[
        "population",
        "--student",
        "relu",
        "--teacher",
        "relu",
        "--weights",
        good.to_str().unwrap(),
        "--digits",
        "20",
    ]));
    assert_eq!(o["n"], 2);
    assert_eq!(o["d"], 3);
    let cases: [(&str, &str); 7] = [
        (r#"{"theta": [1, 0, 0], "w": [[1, 0], [0, 0, 1]]}"#, "row 0"),
        (
            r#"{"theta": [1, 0, 0], "w": [[1, 0, 0], [0, 0.5, 0]]}"#,
            "row 1",
        ),
        (r#"{"theta": [1, 0, 0], "w": []}"#, "N = 0"),
        (r#"{"theta": [1], "w": [[1]]}"#, "d = 1"),
        (
            r#"{"theta": [1, 0, 0], "w": [[1, 0, "NaN"]]}"#,
            "row 0 entry 2",
        ),
        (
            r#"{"theta": [1, 0, 0], "w": [[1, 0, 0]], "a": [1, 2]}"#,
            "field `a`",
        ),
        (
            r#"{"theta": [1, 0, 0], "w": [[1, 0, 0]], "b": 1}"#,
            "unknown field",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let p = d.join(format!("bad{i}.json"));
        std::fs::write(&p, text).unwrap();
        let out = d.join(format!("out{i}.json"));
        let o = run(&[
            "population",
            "--student",
            "he4",
            "--teacher",
            "he4",
            "--weights",
            p.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "case {i}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(needle), "case {i}: {e:?} lacks {needle:?}");
        assert_eq!(e.lines().count(), 1, "case {i}: {e:?}");
        assert!(!out.exists(), "case {i} wrote its output file");
    }
    let o = run(&[
        "population",
        "--student",
        "he4",
        "--teacher",
        "he4",
        "--weights",
        "/nonexistent/w.json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read"));
    let o = run(&[
        "population",
        "--student",
        "he4",
        "--teacher",
        "he4",
        "--random",
        "0,5",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[
        "population",
        "--student",
        "he4",
        "--teacher",
        "he4",
        "--random",
        "3,1",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
