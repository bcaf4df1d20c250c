//! Inputs that cannot corrupt a run (README "Reliability"): checksummed checkpoints, memory
//! estimates before allocation, and no panic on arbitrary bytes fed to the readers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mforacle::dynamics::{checkpoint, Config, Run};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mforacle"))
}

fn tmpdir(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("mforacle-rel-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// A small training run (a checkpoint of ~19 kB).
const TINY: &[&str] = &[
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

fn train(dir: &Path, extra: &[&str]) -> Output {
    bin()
        .args(TINY)
        .arg("--out")
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

/// Writes a checkpoint halted after 3 steps into `dir`; returns its bytes and the run it
/// belongs to (rebuilt from the configuration in its header).
fn tiny_checkpoint(dir: &Path) -> (Vec<u8>, Run) {
    let out = train(dir, &["--halt-after", "3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(dir.join("checkpoint.bin")).unwrap();
    let start = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let len = bytes[start..].iter().position(|&b| b == b'\n').unwrap();
    let header: serde_json::Value = serde_json::from_slice(&bytes[start..start + len]).unwrap();
    let config: Config = serde_json::from_value(header["config"].clone()).unwrap();
    (bytes, Run::new(config).unwrap())
}

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
        assert!(checkpoint::parse_bytes(&bytes[..len], &run).is_err(), "truncated to {len}");
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
    old.extend_from_slice(&bytes["mforacle-checkpoint 2\n".len()..bytes.len() - 4]);
    std::fs::write(&ck, &old).unwrap();
    refused("format 1", "format 1");
    // the untouched checkpoint resumes to the bytes of an uninterrupted run
    std::fs::write(&ck, &bytes).unwrap();
    let out = train(&dir, &["--resume"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
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
    assert_eq!(out.status.code(), Some(2), "{what}: {}", String::from_utf8_lossy(&out.stderr));
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
    for r in ["100000000000,16", "100000000,64", "18446744073709551615,18446744073709551615"] {
        let out = bin()
            .args(["population", "--student", "relu", "--teacher", "relu", "--random", r, "--fast"])
            .env_remove("MFORACLE_MEMORY_LIMIT")
            .output()
            .unwrap();
        let err = one_line_usage_error(&out, r);
        assert!(err.contains("needs an estimated") && err.contains("of memory"), "{err}");
    }
    // The same estimate against an explicit limit: 1000×16 fits in 64 MiB, not in 1 MiB.
    let pop = |limit: &str| {
        bin()
            .args(["population", "--student", "relu", "--teacher", "relu", "--random", "1000,16", "--fast"])
            .env("MFORACLE_MEMORY_LIMIT", limit)
            .output()
            .unwrap()
    };
    assert!(pop("64M").status.success());
    let err = one_line_usage_error(&pop("1M"), "1000,16 in 1M");
    assert!(err.contains("MiB") && err.contains("MFORACLE_MEMORY_LIMIT"), "{err}");
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
