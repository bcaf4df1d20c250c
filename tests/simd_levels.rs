//! Every SIMD level of the fast path, forced with `MFORACLE_SIMD`, against the oracle: the f64
//! values must lie within the fast path's own a-priori error bound plus the oracle's bound of
//! the oracle's value (proofs-notes/fast-path.md). Without forcing, a machine with AVX-512
//! would never run the AVX2 and portable kernels.

mod common;

use common::run_env;
use mforacle::fast::simd::{choose, level, Level};
use serde_json::Value;

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        _ => v.as_f64().unwrap(),
    }
}

/// Flattens a number, a list or a list of lists.
fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        _ => vec![num(v)],
    }
}

fn population(args: &[&str], simd: &str) -> Value {
    let o = run_env(args, &[("MFORACLE_SIMD", simd)]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn forcing_never_raises_the_level() {
    let all = [Level::Portable, Level::Avx2Fma, Level::Avx512];
    for detected in all {
        assert_eq!(choose(detected, None), detected);
        assert_eq!(choose(detected, Some("nonsense")), detected);
        assert_eq!(choose(detected, Some("portable")), Level::Portable);
        let avx2 = choose(detected, Some("avx2"));
        assert_eq!(
            avx2,
            if detected == Level::Portable {
                Level::Portable
            } else {
                Level::Avx2Fma
            }
        );
        assert_eq!(choose(detected, Some("avx512")), detected);
    }
}

#[test]
fn every_level_agrees_with_the_oracle_within_bounds() {
    // Which levels this CPU can run; the others fall back (checked above) and need no test.
    let levels: &[&str] = match level() {
        Level::Avx512 => &["portable", "avx2", "avx512"],
        Level::Avx2Fma => &["portable", "avx2"],
        Level::Portable => &["portable"],
    };
    let cases: [&[&str]; 2] = [
        &[
            "--student",
            "tanh",
            "--teacher",
            "relu",
            "--random",
            "48,12",
            "--seed",
            "5",
        ],
        &[
            "--student",
            "he4",
            "--teacher",
            "he4+he2",
            "--random",
            "40,9",
            "--seed",
            "2",
        ],
    ];
    for case in cases {
        let mut args = vec!["population"];
        args.extend_from_slice(case);
        let oracle = population(&args, "");
        args.push("--fast");
        let mut outputs = Vec::new();
        for simd in levels {
            let fast = population(&args, simd);
            for q in ["loss", "tangent_gradient", "radial_gradient", "velocity"] {
                let (f, fb) = (flat(&fast[q]), flat(&fast[format!("{q}_error_bound")]));
                let (o, ob) = (flat(&oracle[q]), flat(&oracle[format!("{q}_error_bound")]));
                assert_eq!(f.len(), o.len());
                for i in 0..f.len() {
                    let err = (f[i] - o[i]).abs();
                    assert!(
                        err <= fb[i] + ob[i],
                        "{simd} {case:?} {q}[{i}]: |{} - {}| = {err:e} > {:e}",
                        f[i],
                        o[i],
                        fb[i] + ob[i]
                    );
                }
            }
            outputs.push(fast.to_string());
        }
        // The portable level has no fused multiply-add, so its bits differ from the FMA
        // levels' on a case this size: evidence that the forced level was actually used.
        if levels.len() > 1 {
            assert_ne!(
                outputs[0], outputs[1],
                "portable and avx2 gave the same bits: {case:?}"
            );
        }
    }
}
