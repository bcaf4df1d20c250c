//! No panic on arbitrary or damaged input (README "Reliability"): quickcheck feeds arbitrary
//! bytes and mutations of valid inputs to the activation spec parser, the recipe reader, the
//! checkpoint reader (also behind a recomputed checksum, to reach the parser), the golden
//! checker (results and golden files) and the `--weights` reader (through the binary: exit code
//! 0, 1 or 2, never 101 or a signal). Every call is wrapped in `catch_unwind`; a panic fails the
//! property and quickcheck shrinks the input.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use mforacle::activation::Spec;
use mforacle::dynamics::checkpoint;
use mforacle::golden;
use mforacle::recipes::Recipe;
use quickcheck::{Arbitrary, Gen, QuickCheck};

fn tmpdir(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("mforacle-fuzz-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// One edit of a byte string: replace, insert or delete at a position (taken modulo the length),
/// with bytes biased towards the syntax of the inputs (digits, signs, brackets, quotes, commas).
#[derive(Clone, Debug)]
struct Edit {
    at: usize,
    op: u8,
    byte: u8,
}

const SYNTAX: &[u8] = b"0123456789-+.eE,:[]{}()\"'\\ \n\t=*/^zabcdefghijklmnopqrstuvwxyNnIi#";

impl Arbitrary for Edit {
    fn arbitrary(g: &mut Gen) -> Edit {
        let byte = if bool::arbitrary(g) {
            *g.choose(SYNTAX).unwrap()
        } else {
            u8::arbitrary(g)
        };
        Edit {
            at: usize::arbitrary(g),
            op: u8::arbitrary(g) % 3,
            byte,
        }
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Edit>> {
        Box::new(std::iter::empty())
    }
}

fn mutate(base: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = base.to_vec();
    for e in edits {
        let n = v.len();
        match e.op {
            0 if n > 0 => v[e.at % n] = e.byte,
            1 => v.insert(e.at % (n + 1), e.byte),
            2 if n > 0 => {
                v.remove(e.at % n);
            }
            _ => {}
        }
    }
    v
}

fn no_panic<T>(f: impl FnOnce() -> T) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_ok()
}

/// True when `f` returns without panicking and refuses its input.
fn refused<T, E>(f: impl FnOnce() -> Result<T, E>) -> bool {
    matches!(catch_unwind(AssertUnwindSafe(f)), Ok(Err(_)))
}

fn qc(tests: u64) -> QuickCheck {
    QuickCheck::new().tests(tests).max_tests(tests * 10)
}

const SPECS: &[&str] = &[
    "relu",
    "tanh(2*z+0.5)",
    "he4",
    "0.5*he2 + he3",
    "z^3 - 3*z",
    "erf(z/sqrt(2))",
    "gelu(z)*sin(z)",
    "exp(-z^2/4)",
    "step(z-1) + abs(z)",
    "sigmoid(1.5*z) - softplus(z)",
];

#[test]
fn spec_parser_never_panics() {
    fn arbitrary(bytes: Vec<u8>) -> bool {
        let s = String::from_utf8_lossy(&bytes).into_owned();
        no_panic(|| Spec::parse(&s).is_ok())
    }
    fn mutated(which: usize, edits: Vec<Edit>) -> bool {
        let base = SPECS[which % SPECS.len()].as_bytes();
        let s = String::from_utf8_lossy(&mutate(base, &edits)).into_owned();
        no_panic(|| Spec::parse(&s).is_ok())
    }
    qc(2000).quickcheck(arbitrary as fn(Vec<u8>) -> bool);
    qc(4000).quickcheck(mutated as fn(usize, Vec<Edit>) -> bool);
    // deep nesting and long inputs
    for s in [
        "(".repeat(100_000),
        "-".repeat(100_000) + "z",
        "z^".repeat(10_000) + "2",
        format!("he{}", "9".repeat(40)),
        "1e999999*z".into(),
        "z+".repeat(1999) + "z",
        "(".repeat(99) + "z" + &")".repeat(99),
        "tanh(".repeat(99) + "z" + &")".repeat(99),
        "-".repeat(99) + "z",
    ] {
        assert!(no_panic(|| Spec::parse(&s).is_ok()), "{}", &s[..20]);
    }
}

#[test]
fn recipe_reader_never_panics() {
    let names = [
        "poc-he4-d32-quick",
        "concordance",
        "escape-times",
        "ge4",
        "misspecified",
    ];
    let texts: Vec<&str> = names
        .iter()
        .map(|n| mforacle::recipes::builtin_text(n).unwrap())
        .collect();
    let feed = |s: &str| {
        no_panic(|| {
            if let Ok(r) = Recipe::parse(s) {
                if r.validate().is_ok() {
                    let _ = mforacle::recipes::run::check(&r);
                    let _ = r.jobs();
                }
            }
        })
    };
    let mut g = Gen::new(64);
    for i in 0..3000 {
        let base = texts[i % texts.len()].as_bytes();
        let edits: Vec<Edit> = (0..1 + i % 4).map(|_| Edit::arbitrary(&mut g)).collect();
        let s = String::from_utf8_lossy(&mutate(base, &edits)).into_owned();
        assert!(feed(&s), "panic on recipe {s}");
    }
    for _ in 0..1000 {
        let bytes = Vec::<u8>::arbitrary(&mut g);
        let s = String::from_utf8_lossy(&bytes).into_owned();
        assert!(feed(&s), "panic on {bytes:?}");
    }
}

use common::tiny_checkpoint;

fn with_crc(mut body: Vec<u8>) -> Vec<u8> {
    let mut h = crc32fast::Hasher::new();
    h.update(&body);
    let c = h.finalize();
    body.extend_from_slice(&c.to_le_bytes());
    body
}

#[test]
fn checkpoint_reader_never_panics() {
    let dir = tmpdir("ck");
    let (bytes, run) = tiny_checkpoint(&dir);
    let unsigned = &bytes[..bytes.len() - 4];
    let header_end = unsigned.iter().skip(22).position(|&b| b == b'\n').unwrap() + 22;
    let mut g = Gen::new(64);
    let mut accepted = 0;
    for i in 0..3000 {
        let edits: Vec<Edit> = (0..1 + i % 3).map(|_| Edit::arbitrary(&mut g)).collect();
        // Mutations confined to the header (where the parser's decisions are) in two thirds of
        // the cases, anywhere in the rest; the checksum is recomputed so the parser is reached.
        let v = if i % 3 != 2 {
            let mut h = mutate(&unsigned[..header_end], &edits);
            h.extend_from_slice(&unsigned[header_end..]);
            with_crc(h)
        } else {
            with_crc(mutate(unsigned, &edits))
        };
        let mut ok = false;
        assert!(
            no_panic(|| ok = checkpoint::parse_bytes(&v, &run).is_ok()),
            "panic on edits {edits:?}"
        );
        accepted += ok as usize;
        // and without recomputing the checksum: always refused
        let raw = mutate(&bytes, &edits);
        if raw != bytes {
            assert!(checkpoint::parse_bytes(&raw, &run).is_err(), "{edits:?}");
        }
    }
    assert!(accepted < 3000, "the mutations never reached a refusal");
    for _ in 0..500 {
        let b = Vec::<u8>::arbitrary(&mut g);
        assert!(refused(|| checkpoint::parse_bytes(&b, &run)));
        let mut signed = b"mforacle-checkpoint 3\n".to_vec();
        signed.extend_from_slice(&b);
        let signed = with_crc(signed);
        assert!(refused(|| checkpoint::parse_bytes(&signed, &run)));
    }
    // a header that claims an absurd number of floats or steps, behind a valid checksum
    let text = String::from_utf8_lossy(&unsigned[22..header_end]).into_owned();
    for (from, to) in [
        ("\"floats\":", "\"floats\":18446744073709551615,\"x\":"),
        ("\"step\":3", "\"step\":18446744073709551615"),
    ] {
        let h = text.replacen(from, to, 1);
        let mut v = b"mforacle-checkpoint 3\n".to_vec();
        v.extend_from_slice(h.as_bytes());
        v.extend_from_slice(&unsigned[header_end..]);
        let v = with_crc(v);
        assert!(refused(|| checkpoint::parse_bytes(&v, &run)), "{from}");
    }
}

/// The hermite golden suite written to `dir/golden`, and results copied from its expected
/// values to `dir/results` (so that `check` passes before mutation).
fn golden_dirs(dir: &Path) -> (PathBuf, PathBuf, Vec<PathBuf>) {
    let suite = golden::find_suite("hermite").unwrap();
    let gold = dir.join("golden");
    golden::generate(suite, &gold).unwrap();
    let res = dir.join("results");
    let mut files = Vec::new();
    for case in std::fs::read_dir(&gold).unwrap() {
        let case = case.unwrap().path();
        if !case.is_dir() {
            files.push(case);
            continue;
        }
        let name = case.file_name().unwrap();
        std::fs::create_dir_all(res.join(name)).unwrap();
        for f in std::fs::read_dir(case.join("expected")).unwrap() {
            let f = f.unwrap().path();
            files.push(f.clone());
            let fname = f.file_name().unwrap().to_string_lossy().into_owned();
            if !fname.ends_with(".tol.npy") {
                std::fs::copy(&f, res.join(name).join(&fname)).unwrap();
            }
        }
        for f in ["inputs.json", "expected.json"] {
            files.push(case.join(f));
        }
    }
    files.sort();
    (gold, res, files)
}

#[test]
fn golden_checker_never_panics() {
    let dir = tmpdir("golden");
    let (gold, res, golden_files) = golden_dirs(&dir);
    let expected = golden::expected_from_dir(&gold, "hermite").unwrap();
    let report = golden::check("hermite", &expected, &res).unwrap();
    assert!(report.failures().is_empty());
    let mut results: Vec<PathBuf> = Vec::new();
    for case in std::fs::read_dir(&res).unwrap() {
        for f in std::fs::read_dir(case.unwrap().path()).unwrap() {
            results.push(f.unwrap().path());
        }
    }
    results.sort();
    let mut g = Gen::new(64);
    for i in 0..400 {
        let edits: Vec<Edit> = (0..1 + i % 3).map(|_| Edit::arbitrary(&mut g)).collect();
        // a results file
        let f = &results[i % results.len()];
        let orig = std::fs::read(f).unwrap();
        std::fs::write(f, mutate(&orig, &edits)).unwrap();
        assert!(
            no_panic(|| golden::check("hermite", &expected, &res).map(|r| r.failures().len())),
            "panic on {} edits {edits:?}",
            f.display()
        );
        // a results.json of arbitrary bytes beside it
        let rj = f.parent().unwrap().join("results.json");
        std::fs::write(&rj, Vec::<u8>::arbitrary(&mut g)).unwrap();
        assert!(no_panic(
            || golden::check("hermite", &expected, &res).is_ok()
        ));
        std::fs::remove_file(&rj).unwrap();
        std::fs::write(f, &orig).unwrap();
        // a golden file
        let f = &golden_files[i % golden_files.len()];
        let orig = std::fs::read(f).unwrap();
        std::fs::write(f, mutate(&orig, &edits)).unwrap();
        assert!(
            no_panic(|| golden::expected_from_dir(&gold, "hermite")
                .map(|e| golden::check("hermite", &e, &res).is_ok())),
            "panic on {} edits {edits:?}",
            f.display()
        );
        std::fs::write(f, &orig).unwrap();
    }
}

/// `population --weights FILE`: arbitrary and mutated JSON through the binary. Exit codes 0
/// (a valid network), 2 (refused); never a panic (101) or a signal.
#[test]
fn weights_reader_never_panics() {
    let dir = tmpdir("weights");
    let base = br#"{"theta":[1,0,0],"w":[[1,0,0],[0,0.6,0.8]],"a":[0.5,-0.25]}"#;
    let file = dir.join("w.json");
    let go = |bytes: &[u8], fast: bool| {
        std::fs::write(&file, bytes).unwrap();
        let mut c = common::bin();
        c.args([
            "population",
            "--student",
            "relu",
            "--teacher",
            "relu",
            "--weights",
        ])
        .arg(&file);
        if fast {
            c.arg("--fast");
        }
        let out = c.output().unwrap();
        let code = out.status.code();
        assert!(
            matches!(code, Some(0) | Some(2)),
            "exit {code:?} on {:?}: {}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    go(base, true);
    let mut g = Gen::new(32);
    for i in 0..60 {
        let edits: Vec<Edit> = (0..1 + i % 3).map(|_| Edit::arbitrary(&mut g)).collect();
        go(&mutate(base, &edits), i % 2 == 0);
    }
    for i in 0..10 {
        go(&Vec::<u8>::arbitrary(&mut g), i % 2 == 0);
    }
    for s in [
        "[".repeat(100_000),
        r#"{"theta":[1e308,1e308],"w":[[1e308,1e308]]}"#.into(),
        r#"{"theta":[1,0],"w":[[1,0]],"a":[1e400]}"#.into(),
        r#"{"theta":[1,0],"w":[]}"#.into(),
        r#"{"theta":[1,0],"w":[[1,0],[0,1,0]]}"#.into(),
    ] {
        go(s.as_bytes(), true);
    }
}

/// `two-timescale eval --input`: mutated valid inputs and arbitrary bytes are either refused or
/// evaluated, never a panic (the reader, then the f64 evaluation and, for small accepted
/// inputs, the oracle at 10 digits).
#[test]
fn two_timescale_input_reader_never_panics() {
    use mforacle::two_timescale::{eval, oracle, Input, Params};
    let base = br#"{"x":[[0.5,-1.0],[1.5,0.25],[-0.75,2.0]],"y":[0.1,-0.2,0.3],"w":[[0.2,-0.4,0.1],[1.0,0.5,-0.3]],"x_test":[[0.1,0.2]],"eps":[0.5,-0.5,0.25],"xi":[[0.1,0.2,0.3],[-0.1,0.0,0.4]]}"#;
    let params = Params::default();
    let pf = params.validate().expect("default parameters are valid");
    let try_one = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes).into_owned();
        assert!(
            no_panic(|| {
                if let Ok(input) = Input::from_json(&text) {
                    let _ = eval::evaluate(&input, &pf);
                    if input.n <= 8 && input.m <= 8 {
                        let _ = oracle::evaluate(&input, &params, 10);
                    }
                }
            }),
            "panic on {text:?}"
        );
    };
    assert!(Input::from_json(std::str::from_utf8(base).unwrap()).is_ok());
    let mut g = Gen::new(32);
    for i in 0..300 {
        let edits: Vec<Edit> = (0..1 + i % 3).map(|_| Edit::arbitrary(&mut g)).collect();
        try_one(&mutate(base, &edits));
    }
    for _ in 0..100 {
        try_one(&Vec::<u8>::arbitrary(&mut g));
    }
}
