//! End-to-end tests of the command line: outputs parse, values agree with the library, bad
//! input gives a one-line error and exit code 2, output files are written whole or not at all.

mod common;
use common::{run, stderr};

use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli", name)
}

#[test]
fn coeffs_json_shape_and_values() {
    let o = run(&[
        "coeffs", "relu", "--degree", "6", "--digits", "25", "--format", "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["spec"], "relu");
    assert_eq!(v["digits"], 25);
    assert_eq!(v["information_exponent"], 1);
    let cs = v["coefficients"].as_array().unwrap();
    assert_eq!(cs.len(), 7);
    // c_1(relu) = E[relu'(Z)] = P(Z > 0) = 1/2 (Stein), derived by hand.
    assert_eq!(cs[1]["value"], "5.000000000000000000000000e-1");
    // c_0 = E relu(Z) = 1/√(2π) = 0.3989422804014326779399460599…
    assert!(cs[0]["value"]
        .as_str()
        .unwrap()
        .starts_with("3.98942280401432677939946"));
    // c_3 = 0 exactly (relu = z/2 + |z|/2 and |z| is even)
    assert_eq!(cs[3]["value"], "0");
    assert_eq!(cs[3]["exact"], true);
    for c in cs {
        for key in ["k", "value", "abs_error_bound", "exact", "status"] {
            assert!(c.get(key).is_some(), "missing {key}");
        }
    }
    assert!(v["norm_squared"]["value"]
        .as_str()
        .unwrap()
        .starts_with("5.0000000000"));
}

#[test]
fn coeffs_exact_fractions() {
    let o = run(&[
        "coeffs", "z^4", "--degree", "4", "--digits", "10", "--format", "json", "--exact",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cs = v["coefficients"].as_array().unwrap();
    // z^4 = He_4 + 6 He_2 + 3 → c_0 = 3, c_2 = 6√2, c_4 = √24 = 2√6 (exact, by hand)
    assert_eq!(cs[0]["exact_value"], "3");
    assert!(cs[2]["exact_value"].as_str().unwrap().contains("sqrt(2)"));
    assert!(cs[4]["exact_value"].as_str().unwrap().contains("sqrt(6)"));
    assert_eq!(v["route"], "exact");
}

#[test]
fn coeffs_csv_and_table() {
    let o = run(&[
        "coeffs", "tanh", "--degree", "4", "--digits", "12", "--format", "csv",
    ]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "k,value,abs_error_bound,bound_kind,exact,status");
    assert_eq!(lines.len(), 6);
    let o = run(&["coeffs", "tanh", "--degree", "4", "--digits", "12"]);
    assert!(o.status.success());
    assert!(String::from_utf8(o.stdout)
        .unwrap()
        .contains("information exponent: 1"));
}

fn assert_usage_error(args: &[&str], needle: &str) {
    let o = run(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(needle),
        "{args:?}: stderr {e:?} lacks {needle:?}"
    );
    assert!(o.stdout.is_empty(), "{args:?}: wrote to stdout");
    assert!(!e.contains("panicked"), "{args:?} panicked");
}

#[test]
fn bad_input_exit_code_2() {
    assert_usage_error(&["coeffs", "tanh("], "position");
    assert_usage_error(&["coeffs", "tanhh"], "unknown");
    assert_usage_error(&["coeffs", "exp(z^2)"], "position");
    assert_usage_error(&["coeffs", "relu(z)+(", "--degree", "3"], "position");
    assert_usage_error(&["coeffs", "tanh", "--degree", "5000"], "degree");
    assert_usage_error(&["coeffs", "tanh", "--digits", "0"], "digits");
    assert_usage_error(&["coeffs", "tanh", "--degree", "-3"], "degree");
    assert_usage_error(&["kernel", "relu", "--s", "1.5"], "outside [-1, 1]");
    assert_usage_error(&["kernel", "relu", "--s", "abc"], "not a number");
    assert_usage_error(&["kernel", "relu", "--s", "nan"], "--s");
    assert_usage_error(&["frobnicate"], "frobnicate");
}

#[test]
fn out_file_is_atomic() {
    let d = scratch("out");
    let target = d.join("relu.json");
    let o = run(&[
        "coeffs",
        "relu",
        "--degree",
        "3",
        "--digits",
        "10",
        "--format",
        "json",
        "--out",
        target.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert_eq!(v["degree"], 3);
    // no temporary file left behind
    let names: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // a bad spec writes nothing, even with --out
    let bad = d.join("bad.json");
    let o = run(&["coeffs", "tanh(", "--out", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!bad.exists());
    // an unwritable destination: exit 1, one line
    let o = run(&[
        "coeffs",
        "relu",
        "--degree",
        "2",
        "--out",
        "/nonexistent-dir/x.json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 1);
}

#[test]
fn kernel_relu_closed_form_and_refusal() {
    let o = run(&[
        "kernel", "relu", "--s", "0.5,1", "--digits", "20", "--format", "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let pts = v["points"].as_array().unwrap();
    assert_eq!(pts.len(), 6);
    // κ(1) = 1/2 for relu–relu
    let k1 = pts
        .iter()
        .find(|p| p["s"] == "1" && p["derivative"] == 0)
        .unwrap();
    assert_eq!(k1["value"], "5.0000000000000000000e-1");
    // κ''(1) is infinite for relu: refused with a reason, not a number
    let k2 = pts
        .iter()
        .find(|p| p["s"] == "1" && p["derivative"] == 2)
        .unwrap();
    assert!(k2["value"].is_null());
    assert!(k2["error"].as_str().unwrap().contains("infinite"));
}
