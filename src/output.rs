//! Output plumbing shared by the commands: decimal strings, atomic files, finite JSON numbers.
//!
//! - [`decimal`] prints an MPFR value with exactly `digits` significant digits, correctly
//!   rounded (MPFR's conversion), in the form `d.ddd…e±X`; [`bound_up`] prints an error bound
//!   rounded *up* to 3 significant digits, so the printed bound is never below the true one.
//! - [`write_atomic`] writes to a temporary file in the target directory and renames it, so a
//!   failed or interrupted run never leaves a half-written file.
//! - [`finite`] serialises an f64 and refuses NaN and infinities (serde_json would write
//!   `null`).

use rug::float::Round;
use rug::Float;
use std::io::Write;
use std::path::Path;

/// `x` with `digits` significant digits, round-to-nearest, as `-d.ddde-5`; zero is `0`.
pub fn decimal(x: &Float, digits: u32) -> String {
    decimal_round(x, digits, Round::Nearest)
}

/// An upper bound for |x| printed with 3 significant digits, rounded up (`0` for zero).
pub fn bound_up(x: &Float) -> String {
    decimal_round(&Float::with_val(x.prec(), x.abs_ref()), 3, Round::Up)
}

fn decimal_round(x: &Float, digits: u32, round: Round) -> String {
    if x.is_zero() {
        return "0".to_string();
    }
    let (neg, mantissa, exp) = x.to_sign_string_exp_round(10, Some(digits as usize), round);
    let exp = exp.expect("finite nonzero values have an exponent");
    let (head, tail) = mantissa.split_at(1);
    let sign = if neg { "-" } else { "" };
    if tail.is_empty() {
        format!("{sign}{head}e{}", exp - 1)
    } else {
        format!("{sign}{head}.{tail}e{}", exp - 1)
    }
}

/// The value of a decimal string printed by [`decimal`], at `prec` bits.
pub fn parse_decimal(s: &str, prec: u32) -> Float {
    Float::with_val(
        prec,
        Float::parse(s).expect("a string printed by decimal()"),
    )
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// serde helper: serialise an f64, refusing NaN and infinities.
pub fn finite<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.is_finite() {
        s.serialize_f64(*x)
    } else {
        Err(serde::ser::Error::custom(format!(
            "refusing to write a non-finite number ({x}) to JSON"
        )))
    }
}

/// serde helper: serialise a slice of f64, refusing NaN and infinities (as [`finite`]).
pub fn finite_vec<S: serde::Serializer>(x: &[f64], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(x.len()))?;
    for v in x {
        if !v.is_finite() {
            return Err(serde::ser::Error::custom(format!(
                "refusing to write a non-finite number ({v}) to JSON"
            )));
        }
        seq.serialize_element(v)?;
    }
    seq.end()
}

/// How many significant digits of `value` (at most `max`) the error bound certifies: the
/// crate's one rule. d digits are certain when bound ≤ ½·10^{−(d−1)}·|value|, i.e. when
/// |value|/bound ≥ 2·10^{d−1}; so a ratio of 1000 certifies 3 digits, 20 certifies 2, and a
/// ratio below 2 (or a zero value with a nonzero bound) certifies none. A zero bound
/// certifies all `max`.
pub fn certain_digits(value: &Float, bound: &Float, max: u32) -> u32 {
    if bound.is_zero() {
        return max;
    }
    if value.is_zero() || !value.is_finite() || !bound.is_finite() {
        return 0;
    }
    let ratio = Float::with_val(64, value.abs_ref()) / bound;
    let d = Float::with_val(64, &ratio / 2u32).log10().to_f64().floor() + 1.0;
    d.clamp(0.0, max as f64) as u32
}

/// A value with an error bound, printed with as many significant digits (at most `digits`)
/// as the bound certifies: returns (value, bound including the decimal rounding, status),
/// status "ok" when all `digits` are certain, "partial" when fewer are, and "unresolved"
/// with value "0" when |value| ≤ bound (then the bound bounds |truth|).
pub fn render_with_bound(
    value: &Float,
    bound: &Float,
    digits: u32,
) -> (String, String, &'static str) {
    let prec = value.prec().max(64);
    let certain = certain_digits(value, bound, digits);
    let (shown, status) = if certain >= digits {
        (digits, "ok")
    } else if certain == 0 {
        (0, "unresolved")
    } else {
        (certain, "partial")
    };
    let v = if shown == 0 {
        "0".to_string()
    } else {
        decimal(value, shown)
    };
    let p = parse_decimal(&v, prec);
    let rounding = Float::with_val(64, Float::with_val(prec, &p - value).abs_ref());
    let b = Float::with_val(64, bound) + rounding;
    (v, bound_up(&b), status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certain_digits_rule() {
        let f = |x: f64| Float::with_val(64, x);
        // |value|/bound = 1000 certifies 3 digits; exactly 2·10^{d−1} is the threshold.
        assert_eq!(certain_digits(&f(1.0), &f(1e-3), 30), 3);
        assert_eq!(certain_digits(&f(1.0), &f(0.05), 30), 2);
        assert_eq!(certain_digits(&f(1.0), &f(0.051), 30), 1);
        assert_eq!(certain_digits(&f(1.0), &f(0.6), 30), 0);
        assert_eq!(certain_digits(&f(0.0), &f(1e-9), 30), 0);
        assert_eq!(certain_digits(&f(-7.0), &f(0.0), 12), 12);
        assert_eq!(certain_digits(&f(1.0), &f(1e-40), 30), 30);
    }

    #[test]
    fn decimal_forms() {
        let x = Float::with_val(200, 1) / 3u32;
        assert_eq!(decimal(&x, 5), "3.3333e-1");
        assert_eq!(decimal(&(-x.clone() * 300u32), 3), "-1.00e2");
        assert_eq!(decimal(&Float::new(53), 5), "0");
        // rounding up: 1/3 → 3.34e-1
        assert_eq!(bound_up(&x), "3.34e-1");
    }

    #[test]
    fn non_finite_refused() {
        #[derive(serde::Serialize)]
        struct T {
            #[serde(serialize_with = "finite")]
            x: f64,
        }
        assert!(serde_json::to_string(&T { x: f64::NAN }).is_err());
        assert!(serde_json::to_string(&T { x: f64::INFINITY }).is_err());
        assert_eq!(
            serde_json::to_string(&T { x: 1.5 }).unwrap(),
            r#"{"x":1.5}"#
        );
    }
}
