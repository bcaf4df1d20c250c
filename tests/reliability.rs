//! Inputs that cannot corrupt a run (README "Reliability"): checksummed checkpoints, memory
//! estimates before allocation, and no panic on arbitrary bytes fed to the readers.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{bin, TINY_TRAIN as TINY};
use mforacle::dynamics::checkpoint;

fn tmpdir(name: &str) -> PathBuf {
    common::scratch("rel", name)
}

fn train(dir: &Path, extra: &[&str]) -> Output {
    bin()
        .args(TINY)
        .arg("--out")
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

use common::tiny_checkpoint;

/// CRC-32 detects every burst of ≤ 32 bits, so every single-byte change anywhere (magic line,
/// header, body, the checksum itself) must be refused; the untouched file must be accepted.
/// Three changes per position (low bit, high bit, all bits) and every truncation length.
#[test]
fn every_flipped_byte_of_a_checkpoint_is_refused() {
    let dir = tmpdir("flip");
    let (bytes, run) = tiny_checkpoint(&dir);
    assert!(bytes.len() > 1000, "{}", bytes.len());
    let good = checkpoint::parse_bytes(&bytes, &run).expect("the untouched checkpoint loads");
    assert_eq!(good.step, 3);
    let mut v = bytes.clone();
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            v[i] ^= mask;
            assert!(
                checkpoint::parse_bytes(&v, &run).is_err(),
                "byte {i} xor {mask:#x} accepted"
            );
            v[i] ^= mask;
        }
    }
    for len in 0..bytes.len() {
        assert!(
            checkpoint::parse_bytes(&bytes[..len], &run).is_err(),
            "truncated to {len}"
        );
    }
}

/// Through the command line: a checkpoint with one byte of its body flipped is refused with a
/// one-line error and exit 2, and writes nothing; a checkpoint of the format without a checksum
/// (format 1) is refused with a message naming it. The untouched checkpoint resumes to the same
/// bytes as an uninterrupted run.
#[test]
fn corrupted_or_old_checkpoint_is_refused_by_train() {
    let dir = tmpdir("cli");
    let (bytes, _) = tiny_checkpoint(&dir);
    let ck = dir.join("checkpoint.bin");
    let refused = |what: &str, needle: &str| {
        let out = train(&dir, &["--resume"]);
        assert_eq!(out.status.code(), Some(2), "{what}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{what}: {err}");
        assert!(err.contains(needle), "{what}: {err}");
        assert!(!dir.join("train.csv").exists(), "{what}");
    };
    // one byte in the middle of the f64 body
    let mut v = bytes.clone();
    let i = bytes.len() - 100;
    v[i] ^= 0x10;
    std::fs::write(&ck, &v).unwrap();
    refused("flipped body byte", "corrupted");
    // format 1: same header and body, old magic line, no checksum
    let mut old = b"mforacle-checkpoint 1\n".to_vec();
    old.extend_from_slice(&bytes["mforacle-checkpoint 3\n".len()..bytes.len() - 4]);
    std::fs::write(&ck, &old).unwrap();
    refused("format 1", "format 1");
    // format 2 (overlaps-only flow state), with a valid checksum: refused by its magic line
    let mut old = b"mforacle-checkpoint 2\n".to_vec();
    old.extend_from_slice(&bytes["mforacle-checkpoint 3\n".len()..bytes.len() - 4]);
    let crc = {
        let mut h = crc32fast::Hasher::new();
        h.update(&old);
        h.finalize()
    };
    old.extend_from_slice(&crc.to_le_bytes());
    std::fs::write(&ck, &old).unwrap();
    refused("format 2", "format 2");
    // the untouched checkpoint resumes to the bytes of an uninterrupted run
    std::fs::write(&ck, &bytes).unwrap();
    let out = train(&dir, &["--resume"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full = tmpdir("cli-full");
    assert!(train(&full, &[]).status.success());
    for f in ["train.csv", "histograms.csv", "run.json"] {
        assert!(
            std::fs::read(full.join(f)).unwrap() == std::fs::read(dir.join(f)).unwrap(),
            "{f} differs after resuming"
        );
    }
}

fn one_line_usage_error(out: &Output, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "{what}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim().lines().count(), 1, "{what}: {err}");
    err
}

/// `population --random N,d --fast` estimates its memory before drawing the rows: the two
/// networks of the issue (the first aborted in the allocator, exit 134; the second started a
/// job that could not fit) are refused with exit 2 and the estimate in the message, against the
/// machine's MemAvailable (their estimates, 396 TiB and 1.5 TiB, exceed any machine this runs
/// on). N·d beyond u64 is refused by the checked arithmetic, not wrapped.
#[test]
fn population_refuses_what_cannot_fit() {
    for r in [
        "100000000000,16",
        "100000000,64",
        "18446744073709551615,18446744073709551615",
    ] {
        let out = bin()
            .args([
                "population",
                "--student",
                "relu",
                "--teacher",
                "relu",
                "--random",
                r,
                "--fast",
            ])
            .env_remove("MFORACLE_MEMORY_LIMIT")
            .output()
            .unwrap();
        let err = one_line_usage_error(&out, r);
        assert!(
            err.contains("needs an estimated") && err.contains("of memory"),
            "{err}"
        );
    }
    // The same estimate against an explicit limit: 1000×16 fits in 64 MiB, not in 1 MiB.
    let pop = |limit: &str| {
        bin()
            .args([
                "population",
                "--student",
                "relu",
                "--teacher",
                "relu",
                "--random",
                "1000,16",
                "--fast",
            ])
            .env("MFORACLE_MEMORY_LIMIT", limit)
            .output()
            .unwrap()
    };
    assert!(pop("64M").status.success());
    let err = one_line_usage_error(&pop("1M"), "1000,16 in 1M");
    assert!(
        err.contains("MiB") && err.contains("MFORACLE_MEMORY_LIMIT"),
        "{err}"
    );
    one_line_usage_error(&pop("lots"), "a malformed limit");
}

/// `train` estimates its memory before drawing the initial samples.
#[test]
fn train_refuses_what_cannot_fit() {
    let dir = tmpdir("mem");
    let go = |limit: &str| {
        bin()
            .args(TINY)
            .arg("--out")
            .arg(&dir)
            .env("MFORACLE_MEMORY_LIMIT", limit)
            .output()
            .unwrap()
    };
    let err = one_line_usage_error(&go("100K"), "train in 100K");
    assert!(err.contains("train needs an estimated"), "{err}");
    assert!(!dir.join("train.csv").exists());
    assert!(go("64M").status.success());
}

/// `meanfield` estimates its node tables before building them: 2·10^11 panels cannot fit
/// (the run used to start building them); the default layout fits in 64 MiB, not in 1 MiB.
#[test]
fn meanfield_refuses_what_cannot_fit() {
    let go = |panels: &str, limit: Option<&str>| {
        let mut c = bin();
        c.args([
            "meanfield",
            "--student",
            "he4",
            "--d",
            "8",
            "--t-end",
            "0.01",
            "--dt-out",
        ])
        .args(["0.01", "--panels", panels]);
        match limit {
            Some(l) => c.env("MFORACLE_MEMORY_LIMIT", l),
            None => c.env_remove("MFORACLE_MEMORY_LIMIT"),
        };
        c.output().unwrap()
    };
    let err = one_line_usage_error(&go("100000000000", None), "1e11 panels");
    assert!(err.contains("meanfield needs an estimated"), "{err}");
    one_line_usage_error(&go("200", Some("1M")), "200 panels in 1M");
    assert!(go("200", Some("64M")).status.success());
}

mod near_one {
    use mforacle::kernel::{closed_value, ClosedKernel};
    use rug::float::Constant;
    use rug::ops::Pow;
    use rug::{Float, Rational};

    const REF: u32 = 600;

    /// relu–relu by the angle θ = arccos s = 2·asin(√((1−s)/2)) (1 − s exact for dyadic s):
    /// κ = (sin θ + (π−θ) cos θ)/(2π) for s ≥ 0 (no cancellation), and for s < 0, with
    /// φ = π − θ = 2·asin(√((1+s)/2)), the series κ = (1/2π) Σ_{n≥1} (−1)^{n+1} 2n φ^{2n+1}/(2n+1)!
    /// (alternating with decreasing terms for φ < 1: the first omitted term bounds the tail);
    /// κ' = (π − θ)/(2π), κ'' = 1/(2π sin θ). Returns (value, bound on its error).
    fn relu_ref(s: &Rational, r: usize) -> (Float, Float) {
        let pi = Float::with_val(REF, Constant::Pi);
        let half = |x: Rational| Float::with_val(REF, x / 2u32).sqrt().asin() * 2u32;
        let theta = half(Rational::from(1 - s));
        let phi = half(Rational::from(1 + s));
        let two_pi = Float::with_val(REF, &pi * 2u32);
        let tiny = Float::with_val(REF, 1) >> (REF - 24);
        match r {
            0 if *s >= 0 => {
                let v = (Float::with_val(REF, theta.sin_ref())
                    + Float::with_val(REF, &pi - &theta) * theta.cos())
                    / &two_pi;
                let e = Float::with_val(REF, &v * &tiny);
                (v, e)
            }
            0 => {
                assert!(phi < 1);
                let mut sum = Float::new(REF);
                let mut pw = Float::with_val(REF, &phi); // φ^{2n+1}/(2n+1)!
                let mut n = 1u32;
                let mut last;
                loop {
                    pw = pw * &phi * &phi / ((2 * n) * (2 * n + 1));
                    let term = Float::with_val(REF, &pw * (2 * n));
                    last = term.clone();
                    if n % 2 == 1 {
                        sum += &term;
                    } else {
                        sum -= &term;
                    }
                    if term < Float::with_val(REF, &sum * &tiny).abs() >> 40 {
                        break;
                    }
                    n += 1;
                }
                let v = sum / &two_pi;
                let e = Float::with_val(REF, &v * &tiny).abs() + last;
                (v, e)
            }
            1 => {
                let v = phi / &two_pi;
                let e = Float::with_val(REF, &v * &tiny);
                (v, e)
            }
            _ => {
                let v = (theta.sin() * &two_pi).recip();
                let e = Float::with_val(REF, &v * &tiny);
                (v, e)
            }
        }
    }

    /// erf(a z)–erf(b z) with the radicand R = (1+2a²)(1+2b²) − 4a²b²s² exact (rationals):
    /// κ = (2/π) atan(2abs/√R), κ' = (2/π) 2ab/√R, κ'' = (2/π)(2ab)³ s/R^{3/2}.
    fn erf_ref(a: &Rational, b: &Rational, s: &Rational, r: usize) -> (Float, Float) {
        let a2 = Rational::from(a * a);
        let b2 = Rational::from(b * b);
        let ab2 = Rational::from(a * b) * 2u32;
        let rr = (Rational::from(2u32 * &a2) + 1u32) * (Rational::from(2u32 * &b2) + 1u32)
            - Rational::from(&ab2 * &ab2) * Rational::from(s * s);
        let sqrt_r = Float::with_val(REF, &rr).sqrt();
        let two_over_pi = Float::with_val(REF, 2u32) / Float::with_val(REF, Constant::Pi);
        let x = Float::with_val(REF, &Rational::from(&ab2 * s)) / &sqrt_r;
        let v = match r {
            0 => two_over_pi * x.atan(),
            1 => two_over_pi * Float::with_val(REF, &ab2) / sqrt_r,
            _ => {
                let c3 = Float::with_val(REF, &(Rational::from(&ab2 * &ab2) * &ab2 * s));
                two_over_pi * c3 / Float::with_val(REF, &rr).pow(3u32).sqrt()
            }
        };
        let e = Float::with_val(REF, &v * (Float::with_val(REF, 1) >> (REF - 24))).abs();
        (v, e)
    }

    /// closed_value at 100 bits (30 digits) at s = ±(1 − 2^−40) (and ±(1 − 2^−80)) against the
    /// independent routes above at 600 bits: |closed − ref| ≤ bound + ref error, and the bound
    /// keeps 30 digits (≤ 1e−28 relative). (With 1 − s² formed by cancellation at 116 bits, as
    /// before, 1 − s² at s = 1 − 2^−40 carries a relative error up to ~2^−77, far above the
    /// 2^−96 relative bound then claimed.)
    #[test]
    fn closed_forms_near_one_against_independent_routes() {
        let prec = 100;
        let pairs: Vec<(ClosedKernel, Option<(Rational, Rational)>)> = vec![
            (ClosedKernel::ReluRelu, None),
            (
                ClosedKernel::ErfErf(Rational::from(1), Rational::from(1)),
                Some((Rational::from(1), Rational::from(1))),
            ),
            (
                ClosedKernel::ErfErf(Rational::from((3, 2)), Rational::from(-2)),
                Some((Rational::from((3, 2)), Rational::from(-2))),
            ),
        ];
        for e in [40u32, 80] {
            let eps = Rational::from((1, 1u64)) / Rational::from(rug::Integer::from(1) << e);
            for sign in [1i32, -1] {
                let s_q = (Rational::from(1) - &eps) * sign;
                let s_f = Float::with_val(200, &s_q);
                assert_eq!(s_f.to_rational().unwrap(), s_q);
                for (k, ab) in &pairs {
                    for r in 0..3 {
                        let got = closed_value(k, &s_f, r, prec).unwrap();
                        let (want, want_err) = match ab {
                            None => relu_ref(&s_q, r),
                            Some((a, b)) => erf_ref(a, b, &s_q, r),
                        };
                        let d = Float::with_val(REF, &got.value - &want).abs();
                        let allowed = Float::with_val(REF, &got.abs_error_bound + &want_err);
                        assert!(
                            d <= allowed,
                            "{k:?} r={r} s={sign}(1-2^-{e}): |closed - ref| = {d:.3e} > {allowed:.3e}"
                        );
                        let rel = Float::with_val(64, &got.abs_error_bound / &want).abs();
                        assert!(
                            rel < 1e-28,
                            "{k:?} r={r} s={sign}(1-2^-{e}): bound {rel:.3e} relative"
                        );
                    }
                }
            }
        }
        // s = ±1 exactly: relu κ(−1) = 0, κ(1) = 1/2, κ'(−1) = 0, κ'(1) = 1/2; κ''(1) refused.
        let k = ClosedKernel::ReluRelu;
        for (s, r, want) in [(-1.0, 0, 0.0), (1.0, 0, 0.5), (-1.0, 1, 0.0), (1.0, 1, 0.5)] {
            let v = closed_value(&k, &Float::with_val(53, s), r, prec).unwrap();
            assert!(
                Float::with_val(prec, &v.value - want).abs() <= v.abs_error_bound,
                "{s} {r}"
            );
        }
        assert!(closed_value(&k, &Float::with_val(53, 1.0), 2, prec).is_err());
    }
}
