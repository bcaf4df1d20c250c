//! `mforacle coeffs SPEC --degree K --digits D [--format json|csv|table] [--exact] [--enclose]`

use super::{emit, CliError, Format};
use crate::activation::Spec;
use crate::coeffs::{self, Coefficient, CoefficientTable};
use crate::output::{bound_up, decimal, parse_decimal};
use rug::Float;
use serde::Serialize;
use std::path::Path;

use crate::conventions::HERMITE as CONVENTION;

#[derive(Serialize)]
struct JsonCoefficient {
    k: usize,
    /// Decimal string with `digits` significant digits ("0" for an exact zero).
    value: String,
    /// Upper bound on |value − c_k|, including the decimal rounding of `value`.
    abs_error_bound: String,
    /// "exact", "enclosure" (proven) or "estimate" (a-posteriori).
    bound_kind: &'static str,
    exact: bool,
    /// "exact", "ok" (digits certain) or "unresolved" (limit reached; value carries only
    /// the digits the bound certifies, "0" meaning |c_k| ≤ abs_error_bound).
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exact_value: Option<String>,
}

#[derive(Serialize)]
struct JsonNorm {
    value: String,
    abs_error_bound: String,
    bound_kind: &'static str,
}

#[derive(Serialize)]
struct JsonTable {
    spec: String,
    convention: &'static str,
    digits: u32,
    degree: usize,
    route: String,
    coefficients: Vec<JsonCoefficient>,
    /// E[f(Z)^2], computed independently of the coefficients (quadrature of f^2, or exactly).
    norm_squared: JsonNorm,
    /// Smallest k >= 1 with c_k certainly nonzero; null when c_1..c_K are all exact zeros.
    information_exponent: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    information_exponent_note: Option<String>,
}

/// The printed form of one coefficient: (value, bound, status).
pub(crate) fn render(c: &Coefficient, digits: u32) -> (String, String, &'static str) {
    if c.exact.is_some() {
        let v = if c.exact_zero || c.value.is_zero() {
            "0".to_string()
        } else {
            decimal(&c.value, digits)
        };
        let err = rounding_error(&v, &c.value);
        return (v, bound_up(&err), "exact");
    }
    if c.exact_zero {
        return ("0".into(), "0".into(), "exact");
    }
    let (shown_digits, status) = if c.resolved {
        (digits, "ok")
    } else {
        // Only the digits the bound certifies (the crate's one rule).
        (
            crate::output::certain_digits(&c.value, &c.abs_error_bound, digits),
            "unresolved",
        )
    };
    let v = if shown_digits == 0 {
        "0".to_string()
    } else {
        decimal(&c.value, shown_digits)
    };
    let err = Float::with_val(64, &c.abs_error_bound) + rounding_error(&v, &c.value);
    (v, bound_up(&err), status)
}

/// |printed − value| (the decimal rounding), at the value's precision.
fn rounding_error(printed: &str, value: &Float) -> Float {
    let p = parse_decimal(printed, value.prec().max(64));
    Float::with_val(
        64,
        Float::with_val(value.prec().max(64), &p - value).abs_ref(),
    )
}

/// The table of one spec; with `enclose`, the enclosure route where its theorem applies.
fn compute_with(
    spec_src: &str,
    degree: usize,
    digits: u32,
    enclose: bool,
) -> Result<(Spec, CoefficientTable), CliError> {
    let spec = Spec::parse(spec_src).map_err(|e| CliError::Usage(e.to_string()))?;
    if enclose {
        if let Some(t) = coeffs::enclose::enclosure_table(&spec, degree, digits)
            .map_err(|e| CliError::Usage(e.to_string()))?
        {
            return Ok((spec, t));
        }
    }
    let table = coeffs::hermite_coefficients(&spec, degree, digits)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok((spec, table))
}

pub fn run(
    spec_src: &str,
    degree: usize,
    digits: u32,
    format: Format,
    exact: bool,
    enclose: bool,
    out: Option<&Path>,
) -> Result<(), CliError> {
    let (spec, table) = compute_with(spec_src, degree, digits, enclose)?;
    let (norm, norm_bound) = coeffs::norm_squared(&spec, digits)
        .map_err(|e| CliError::Failure(format!("E[f^2]: {e}")))?;
    let (ie, ie_note) = match coeffs::information_exponent(&table) {
        Ok(Some(k)) => (Some(k), None),
        Ok(None) => (
            None,
            Some(format!("c_1..c_{degree} are all exact zeros")),
        ),
        Err(k) => (
            None,
            Some(format!(
                "c_{k} is not resolved (|c_{k}| <= its bound): the information exponent is >= {k} and undetermined"
            )),
        ),
    };
    let rows: Vec<JsonCoefficient> = table
        .coefficients
        .iter()
        .map(|c| {
            let (value, abs_error_bound, status) = render(c, digits);
            JsonCoefficient {
                k: c.k,
                value,
                abs_error_bound,
                bound_kind: c.bound_kind.as_str(),
                exact: c.exact.is_some() || c.exact_zero,
                status,
                exact_value: if exact {
                    c.exact.as_ref().map(|s| s.to_string())
                } else {
                    None
                },
            }
        })
        .collect();
    let norm_json = JsonNorm {
        value: decimal(&norm, digits),
        abs_error_bound: bound_up(
            &(Float::with_val(64, &norm_bound) + rounding_error(&decimal(&norm, digits), &norm)),
        ),
        // exact for a polynomial (Parseval in exact arithmetic), else a quadrature estimate
        bound_kind: if spec.as_polynomial().is_some() {
            "exact"
        } else {
            "estimate"
        },
    };
    let doc = JsonTable {
        spec: spec.source.clone(),
        convention: CONVENTION,
        digits,
        degree,
        route: table.routes.describe(),
        coefficients: rows,
        norm_squared: norm_json,
        information_exponent: ie,
        information_exponent_note: ie_note,
    };
    let text = match format {
        Format::Json => super::json(&doc)?,
        Format::Csv => {
            let mut s = String::from("k,value,abs_error_bound,bound_kind,exact,status");
            if exact {
                s.push_str(",exact_value");
            }
            s.push('\n');
            for r in &doc.coefficients {
                s.push_str(&format!(
                    "{},{},{},{},{},{}",
                    r.k, r.value, r.abs_error_bound, r.bound_kind, r.exact, r.status
                ));
                if exact {
                    s.push_str(&format!(
                        ",\"{}\"",
                        r.exact_value.clone().unwrap_or_default()
                    ));
                }
                s.push('\n');
            }
            s
        }
        Format::Table => {
            let mut s = format!(
                "# {}\n# spec: {}   route: {}   digits: {}\n",
                CONVENTION, doc.spec, doc.route, digits
            );
            s.push_str(&format!(
                "{:>5}  {:<width$}  {:>10}  {:<9}  {}\n",
                "k",
                "c_k",
                "|error| <=",
                "kind",
                "status",
                width = digits as usize + 8
            ));
            for r in &doc.coefficients {
                s.push_str(&format!(
                    "{:>5}  {:<width$}  {:>10}  {:<9}  {}{}\n",
                    r.k,
                    r.value,
                    r.abs_error_bound,
                    r.bound_kind,
                    r.status,
                    r.exact_value
                        .as_ref()
                        .map(|e| format!("  = {e}"))
                        .unwrap_or_default(),
                    width = digits as usize + 8
                ));
            }
            s.push_str(&format!(
                "# E[f(Z)^2] = {} (+- {}, {})\n",
                doc.norm_squared.value,
                doc.norm_squared.abs_error_bound,
                doc.norm_squared.bound_kind
            ));
            match (doc.information_exponent, &doc.information_exponent_note) {
                (Some(k), _) => s.push_str(&format!("# information exponent: {k}\n")),
                (None, Some(n)) => s.push_str(&format!("# information exponent: {n}\n")),
                (None, None) => {}
            }
            s
        }
    };
    emit(&text, out)
}
