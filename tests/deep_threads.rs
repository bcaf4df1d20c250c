//! End to end: `deep train` and `deep limit` give the same output bytes (stdout and every file
//! they write) under RAYON_NUM_THREADS = 1, 2 and 3. Covered: `train` L = 2 RK4 with
//! `--summary` and `--corr-times` (two widths, two draws: the bootstrap summary and the
//! correlation rows), L = 2 Euler GD (`--eta`, the discrete limit by method B), L = 3 RK4 (all
//! ψ = gd, so the limit's push-forward table of method A runs inside `train`); `limit` L = 2
//! (method A with its node refinement, step halving and method-B check) and L = 3, with ψ = id
//! (the gd table costs seconds per run and is already covered by `train`). Small N and short
//! times keep the test quick (about 10 s CPU); the library-level bit identity of the passes is
//! tested in `tests/deep_fused.rs`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

/// Stdout and the bytes of every file in `dir` after running `args` (with `{dir}` replaced by
/// the scratch folder) under `threads` rayon threads.
fn outputs(dir: &Path, args: &[&str], threads: usize) -> (Vec<u8>, BTreeMap<String, Vec<u8>>) {
    std::fs::remove_dir_all(dir).ok();
    std::fs::create_dir_all(dir).unwrap();
    let d = dir.to_str().unwrap();
    let args: Vec<String> = args.iter().map(|a| a.replace("{dir}", d)).collect();
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let n = threads.to_string();
    let o = common::run_env(&refs, &[("RAYON_NUM_THREADS", &n)]);
    assert!(
        o.status.success(),
        "{args:?} with {threads} threads: {}",
        common::stderr(&o)
    );
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        files.insert(
            p.file_name().unwrap().to_string_lossy().to_string(),
            std::fs::read(&p).unwrap(),
        );
    }
    (o.stdout, files)
}

#[test]
fn deep_train_and_limit_are_byte_identical_for_1_2_3_threads() {
    let base = common::scratch("deep_threads", "runs");
    let cases = [
        (
            "train-l2-rk4-summary-corr",
            "deep train --layers 2 --d 3 --widths 24,40 --draws 2 --seed 3 --t-end 0.5 \
             --dt-out 0.25 --dt 0.05 --corr-times 0.5 --summary {dir}/summary.json \
             --out {dir}/rows.csv",
        ),
        (
            "train-l2-euler",
            "deep train --layers 2 --d 2 --widths 32 --seed 5 --t-end 0.5 --dt-out 0.25 \
             --eta 0.125 --format json",
        ),
        (
            "train-l3",
            "deep train --layers 3 --d 2 --widths 24,40 --seed 1 --t-end 0.4 --dt-out 0.2 \
             --dt 0.05",
        ),
        (
            "limit-l2",
            "deep limit --layers 2 --psi id --t-end 0.5 --dt-out 0.25 --track 0.5,-1.2 \
             --a-nodes 16 --dt 0.05 --b-dt 0.1",
        ),
        (
            "limit-l3",
            "deep limit --layers 3 --psi id --t-end 0.5 --dt-out 0.25 --a-nodes 16 --dt 0.05 \
             --b-dt 0.1 --format csv",
        ),
    ];
    for (name, line) in cases {
        let args: Vec<&str> = line.split_whitespace().collect();
        let args = args.as_slice();
        let dir = base.join(name);
        let (out1, files1) = outputs(&dir, args, 1);
        assert!(
            !out1.is_empty() || !files1.is_empty(),
            "{name}: no output at all"
        );
        for threads in [2, 3] {
            let (out, files) = outputs(&dir, args, threads);
            assert!(out == out1, "{name}: stdout differs with {threads} threads");
            assert_eq!(
                files.keys().collect::<Vec<_>>(),
                files1.keys().collect::<Vec<_>>(),
                "{name}: files written differ with {threads} threads"
            );
            for (f, bytes) in &files {
                assert!(
                    bytes == &files1[f],
                    "{name}: {f} differs with {threads} threads"
                );
            }
        }
    }
    std::fs::remove_dir_all(&base).ok();
}
