//! `deep` input checks and the memory announcement, end to end through the binary:
//! inputs that used to panic, abort in the allocator or write `null` now exit 2 with one line
//! before any work, and the memory `deep train` announces is an upper bound on the peak
//! resident size of the run that follows (measured per child with wait4(2)).

mod common;

use common::bin;
use std::io::Read;
use std::process::Stdio;

/// Each of these used to be accepted (panic, allocator abort, `null` in JSON, a 0/0
/// correlation); each must now exit 2 with one line on stderr, nothing on stdout, and no
/// summary file.
#[test]
fn bad_deep_inputs_exit_2_with_one_line() {
    let dir = std::env::temp_dir().join(format!("mforacle-deep-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sum = dir.join("summary.json");
    let s = sum.to_str().unwrap();
    let many = "0.5,".repeat(1100);
    let cases: Vec<Vec<&str>> = vec![
        // A --t-end just past a multiple of --dt-out leaves a last interval shorter than --eta.
        vec![
            "limit",
            "--t-end",
            "10.000000005",
            "--dt-out",
            "1",
            "--eta",
            "1",
        ],
        vec![
            "limit",
            "--layers",
            "3",
            "--t-end",
            "10.000000005",
            "--dt-out",
            "1",
            "--eta",
            "1",
        ],
        vec![
            "train",
            "--widths",
            "4",
            "--d",
            "1",
            "--t-end",
            "10.000000005",
            "--dt-out",
            "1",
            "--eta",
            "1",
        ],
        // Unbounded draws, and rows beyond the memory.
        vec![
            "train",
            "--widths",
            "1",
            "--d",
            "1",
            "--t-end",
            "0.5",
            "--draws",
            "100000000000",
        ],
        vec![
            "train", "--widths", "1,2,3,4", "--d", "1", "--t-end", "100000", "--dt-out", "1",
            "--draws", "100000",
        ],
        // One draw has no spread: the summary's sd would be NaN.
        vec![
            "train",
            "--d",
            "3",
            "--widths",
            "8",
            "--draws",
            "1",
            "--t-end",
            "0.5",
            "--summary",
            s,
        ],
        // At t = 0 every increment is zero: the correlation is 0/0.
        vec![
            "train",
            "--d",
            "3",
            "--widths",
            "8",
            "--draws",
            "2",
            "--t-end",
            "0.5",
            "--summary",
            s,
            "--corr-times",
            "0",
        ],
        // Too many tracked output weights.
        vec!["limit", "--t-end", "1", "--track", &many[..many.len() - 1]],
    ];
    for args in cases {
        let out = bin().arg("deep").args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let shown = args.join(" ");
        let shown = &shown[..shown.len().min(120)];
        assert_eq!(out.status.code(), Some(2), "{shown}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{shown}: {err}");
        assert!(out.stdout.is_empty(), "{shown}");
        assert!(!sum.exists(), "{shown}: wrote the summary");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs `mforacle deep train ARGS`, returns (announced MiB, peak resident MiB of the child).
fn announced_and_peak(args: &[&str]) -> (f64, f64) {
    let mut child = bin()
        .arg("deep")
        .arg("train")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{args:?}: {err}"
    );
    // "mforacle deep train: about X MiB for the largest width"
    let announced: f64 = err
        .split("about ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no announcement in {err}"));
    // ru_maxrss is in KiB on Linux.
    (announced, usage.ru_maxrss as f64 / 1024.0)
}

/// The announcement is an upper bound on the peak resident size, and not a gross
/// over-estimate: peak ≤ announced ≤ 1.25·peak + 4 MiB. The Euler runs are dominated by the
/// discrete limit's particles (one phase) and the RK4 runs by the N² state, stages and
/// accumulator (proofs-note §9, "Memory"); the runs take a few seconds.
#[test]
fn announced_memory_bounds_the_peak() {
    let runs: [&[&str]; 4] = [
        &[
            "--d", "8", "--widths", "512", "--t-end", "0.2", "--eta", "0.1", "--dt-out", "0.1",
            "--format", "csv",
        ],
        &[
            "--d", "8", "--widths", "8", "--t-end", "0.2", "--eta", "0.1", "--dt-out", "0.1",
            "--format", "csv",
        ],
        &[
            "--d", "8", "--widths", "1024", "--t-end", "0.1", "--dt-out", "0.1", "--format", "csv",
        ],
        &[
            "--layers", "3", "--d", "8", "--widths", "1024", "--t-end", "0.1", "--dt-out", "0.1",
            "--format", "csv",
        ],
    ];
    for args in runs {
        let (announced, peak) = announced_and_peak(args);
        assert!(
            peak <= announced && announced <= 1.25 * peak + 4.0,
            "{args:?}: announced {announced} MiB, peak {peak:.1} MiB"
        );
    }
}

/// Largest |value| of the CSV columns `node_diff`, `step_diff`, `diff_ab` of `deep limit`.
fn largest_estimates(args: &[&str]) -> f64 {
    let out = bin()
        .args(["deep", "limit", "--format", "csv"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let cols: Vec<usize> = ["node_diff", "step_diff", "diff_ab"]
        .iter()
        .map(|c| head.iter().position(|h| h == c).expect(c))
        .collect();
    let mut worst: f64 = 0.0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        for &c in &cols {
            worst = worst.max(f[c].parse::<f64>().unwrap().abs());
        }
    }
    worst
}

/// The accuracy target, 1e−10 in R_∞ to t = 10, at the default steps, by all three
/// estimates (node refinement, step halving, method A − the independent method B). ψ = id to
/// t = 10 (where L = 3 needs the finer default step); ψ = gd to t = 2, which holds the largest
/// estimates of the gd runs to t = 10 (all at t = 1: proofs-note §3, "Reported estimates").
#[test]
fn default_limit_steps_reach_1e_10() {
    for args in [
        [
            "--layers", "2", "--psi", "id", "--t-end", "10", "--dt-out", "1",
        ],
        [
            "--layers", "3", "--psi", "id", "--t-end", "10", "--dt-out", "1",
        ],
        [
            "--layers", "2", "--psi", "gd", "--t-end", "2", "--dt-out", "1",
        ],
        [
            "--layers", "3", "--psi", "gd", "--t-end", "2", "--dt-out", "1",
        ],
    ] {
        let worst = largest_estimates(&args);
        assert!(worst <= 1e-10, "{args:?}: largest estimate {worst:e}");
    }
}
