//! Checkpoints of a training run: the complete state at a step boundary, so that a run that
//! is killed loses at most the interval since the last checkpoint and resumes to the same bits.
//!
//! Layout (one file, written atomically by [`crate::output::write_atomic`]):
//! 1. the line `mforacle-checkpoint 3`;
//! 2. one line of JSON: `{"version", "config", "step", "rows", "hist", "floats"}`, where `rows`
//!    and `hist` are the CSV lines recorded so far (the exact text that will be written:
//!    shortest round-trip decimals, which parse back to the same f64), and `floats` the number
//!    of f64 that follow;
//! 3. the f64 values, little-endian: every network's weights (draw-major, then width), then,
//!    with `--linearised` only, δ^local and δ^full of every network (same order), then the ideal
//!    particles' state ([`super::Ideal::state`]);
//! 4. four bytes: the CRC-32 (IEEE 802.3 polynomial, the one of zip/PNG/gzip, computed by the
//!    `crc32fast` crate), little-endian, of every byte before it (magic line, header and body).
//!
//! Integrity: [`load`] checks the CRC-32 before it parses anything, and refuses a file whose
//! checksum does not match as a usage error ("corrupted checkpoint"). A CRC of degree 32 detects
//! every error burst of length at most 32 bits, so every change confined to four consecutive bytes
//! (in particular any one byte changed, anywhere in the file, checksum included) is detected with
//! certainty, not just with probability 1 − 2^−32; other corruptions escape with probability
//! 2^−32. It protects against accidental damage (disk, copy, truncation), not against a forger.
//! Tested by `tests/reliability.rs::every_flipped_byte_of_a_checkpoint_is_refused`.
//!
//! Format 1 (no checksum, written by mforacle before checksums existed) is recognised by its
//! magic line and refused with a message saying so: its body cannot be verified. Format 2
//! (checksummed, the continuous flow's state as overlaps α only) is refused the same way: its
//! body has another shape (format 3 carries (α, β) per particle, `meanfield::flow` state
//! format 2).
//!
//! With `--linearised` the JSON header also has `"linearised": true` (absent otherwise, so a
//! checkpoint without the flag is byte-for-byte what it was before the flag existed).
//!
//! Resuming checks that the configuration is identical (every field of
//! [`super::Config`], and the `--linearised` flag) and refuses otherwise: a checkpoint from
//! different parameters is a usage error.

use super::{Config, HistRow, Row, Run, State, TrainError};
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &str = "mforacle-checkpoint 3\n";
/// The magic line of the format without a checksum, refused by [`load`].
const MAGIC_V1: &str = "mforacle-checkpoint 1\n";
/// The magic line of format 2 (checksummed, but the continuous ideal particles stored as
/// overlaps only), refused by [`load`]: its body has another shape.
const MAGIC_V2: &str = "mforacle-checkpoint 2\n";
/// Bytes of the trailing checksum.
const CRC_BYTES: usize = 4;

fn crc32(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(bytes);
    h.finalize()
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: String,
    config: Config,
    step: usize,
    rows: Vec<String>,
    hist: Vec<String>,
    floats: usize,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    linearised: bool,
}

/// Writes the state of `run` to `path` atomically.
pub fn save(path: &Path, run: &Run, state: &State) -> Result<(), TrainError> {
    let mut floats: Vec<f64> = Vec::new();
    for draw in &state.networks {
        for w in draw {
            floats.extend_from_slice(w);
        }
    }
    if let Some(lin) = &state.linear {
        for draw in lin {
            for g in draw {
                floats.extend_from_slice(&g.local);
                floats.extend_from_slice(&g.full);
            }
        }
    }
    floats.extend(state.ideal.state());
    let header = Header {
        version: env!("CARGO_PKG_VERSION").to_string(),
        config: run.config.clone(),
        step: state.step,
        rows: state.rows.iter().map(Row::csv).collect(),
        hist: state.hist.iter().map(HistRow::csv).collect(),
        floats: floats.len(),
        linearised: state.linear.is_some(),
    };
    let mut bytes = MAGIC.as_bytes().to_vec();
    let json = serde_json::to_string(&header)
        .map_err(|e| TrainError::Failure(format!("checkpoint: {e}")))?;
    bytes.extend_from_slice(json.as_bytes());
    bytes.push(b'\n');
    for x in floats {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    let crc = crc32(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    crate::output::write_atomic(path, &bytes)
        .map_err(|e| TrainError::Failure(format!("{}: {e}", path.display())))
}

fn bad(path: &Path, why: &str) -> TrainError {
    TrainError::Usage(format!(
        "{}: not a usable checkpoint ({why})",
        path.display()
    ))
}

/// Reads a checkpoint written by [`save`] for the same configuration.
pub fn load(path: &Path, run: &Run) -> Result<State, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| {
        TrainError::Usage(format!("{}: cannot read checkpoint: {e}", path.display()))
    })?;
    let state = parse(&bytes, run).map_err(|why| bad(path, &why))?;
    match state {
        Parsed::State(s) => Ok(*s),
        Parsed::Refused(e) => Err(TrainError::Usage(format!("{}: {e}", path.display()))),
    }
}

/// A checkpoint that parsed but does not belong to this run (a usage error with its own wording).
enum Parsed {
    State(Box<State>),
    Refused(String),
}

/// Parses and verifies the bytes of a checkpoint for `run`: the checksum first, then the
/// header, the configuration and the body. Never panics, whatever the bytes (fuzzed by
/// `tests/reliability.rs`).
pub fn parse_bytes(bytes: &[u8], run: &Run) -> Result<State, String> {
    match parse(bytes, run)? {
        Parsed::State(s) => Ok(*s),
        Parsed::Refused(e) => Err(e),
    }
}

fn parse(bytes: &[u8], run: &Run) -> Result<Parsed, String> {
    if bytes.starts_with(MAGIC_V1.as_bytes()) {
        return Err(
            "format 1, written by an earlier mforacle without a checksum, so its contents cannot be verified; rerun without --resume".into(),
        );
    }
    if bytes.starts_with(MAGIC_V2.as_bytes()) {
        return Err(
            "format 2, written by an earlier mforacle that stored the continuous ideal particles as overlaps only (format 3 also stores their beta); rerun without --resume".into(),
        );
    }
    if !bytes.starts_with(MAGIC.as_bytes()) {
        return Err("wrong magic line".into());
    }
    if bytes.len() < MAGIC.len() + CRC_BYTES {
        return Err("truncated: no checksum".into());
    }
    let (signed, tail) = bytes.split_at(bytes.len() - CRC_BYTES);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let actual = crc32(signed);
    if stored != actual {
        return Err(format!(
            "corrupted or truncated: CRC-32 {actual:08x} of the contents differs from the stored {stored:08x}"
        ));
    }
    let rest = &signed[MAGIC.len()..];
    let nl = rest.iter().position(|&b| b == b'\n').ok_or("no header")?;
    let header: Header = serde_json::from_slice(&rest[..nl]).map_err(|e| format!("header: {e}"))?;
    if header.config != run.config {
        return Ok(Parsed::Refused(format!(
            "the checkpoint was written with different parameters ({}); rerun without --resume or with the same parameters",
            serde_json::to_string(&header.config).unwrap_or_default()
        )));
    }
    if header.linearised != run.linearised() {
        let with = |b: bool| if b { "with" } else { "without" };
        return Ok(Parsed::Refused(format!(
            "the checkpoint was written {} --linearised and this run is {} it (different parameters); rerun with the same parameters",
            with(header.linearised),
            with(run.linearised())
        )));
    }
    let data = &rest[nl + 1..];
    if header.floats.checked_mul(8) != Some(data.len()) {
        return Err("truncated data".into());
    }
    let floats: Vec<f64> = data
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect();
    let mut state = run.start().map_err(|e| e.to_string())?;
    let mut at = 0;
    for draw in state.networks.iter_mut() {
        for w in draw.iter_mut() {
            let len = w.len();
            if at + len > floats.len() {
                return Err("too few weights".into());
            }
            w.copy_from_slice(&floats[at..at + len]);
            at += len;
        }
    }
    if let Some(lin) = state.linear.as_mut() {
        for draw in lin.iter_mut() {
            for g in draw.iter_mut() {
                for v in [&mut g.local, &mut g.full] {
                    let len = v.len();
                    if at + len > floats.len() {
                        return Err("too few linearised gaps".into());
                    }
                    v.copy_from_slice(&floats[at..at + len]);
                    at += len;
                }
            }
        }
    }
    state.ideal.restore(&floats[at..])?;
    // A checkpoint is written at a step boundary of this very run: a step beyond the run's
    // last one is an inconsistent header, not a state to resume from.
    if header.step > run.config.steps() {
        return Err(format!(
            "step {} is beyond the run's {} steps",
            header.step,
            run.config.steps()
        ));
    }
    state.step = header.step;
    state.rows = header
        .rows
        .iter()
        .map(|l| parse_row(l).ok_or("a malformed row"))
        .collect::<Result<_, _>>()?;
    state.hist = header
        .hist
        .iter()
        .map(|l| parse_hist(l).ok_or("a malformed histogram row"))
        .collect::<Result<_, _>>()?;
    Ok(Parsed::State(Box::new(state)))
}

fn parse_row(line: &str) -> Option<Row> {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() != 14 && f.len() != 18 {
        return None;
    }
    let x = |i: usize| f[i].parse::<f64>().ok();
    let linear = if f.len() == 18 {
        Some(super::LinearColumns {
            lin_mean_n_gap_sq: x(14)?,
            lin_full_mean_n_gap_sq: x(15)?,
            lin_rel_error: x(16)?,
            lin_full_rel_error: x(17)?,
        })
    } else {
        None
    };
    Some(Row {
        width: f[0].parse().ok()?,
        draw: f[1].parse().ok()?,
        step: f[2].parse().ok()?,
        t: x(3)?,
        loss: x(4)?,
        mf_loss: x(5)?,
        n_mean_gap_sq: x(6)?,
        mean_n_gap_sq: x(7)?,
        max_sqrt_n_gap: x(8)?,
        n_function_gap: x(9)?,
        mf_loss_discrete: x(10)?,
        n_mean_gap_sq_discrete: x(11)?,
        mean_n_gap_sq_discrete: x(12)?,
        max_sqrt_n_gap_discrete: x(13)?,
        linear,
    })
}

fn parse_hist(line: &str) -> Option<HistRow> {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() != 8 {
        return None;
    }
    Some(HistRow {
        width: f[0].parse().ok()?,
        draw: f[1].parse().ok()?,
        step: f[2].parse().ok()?,
        t: f[3].parse().ok()?,
        quantity: f[4].to_string(),
        lo: f[5].parse().ok()?,
        hi: f[6].parse().ok()?,
        fraction: f[7].parse().ok()?,
    })
}
