//! `mforacle kernel SPEC [SPEC2] --s S[,S...] --digits D [--degree K]`

use super::{emit, CliError, Format};
use crate::activation::Spec;
use crate::coeffs::{digits_to_bits, MAX_DIGITS};
use crate::kernel::{self, KernelError, Side};
use crate::output::render_with_bound;
use rug::Float;
use serde::Serialize;
use std::path::Path;

#[derive(Serialize)]
struct Point {
    s: String,
    /// 0 = κ, 1 = κ', 2 = κ''
    derivative: usize,
    /// "closed-form" or "series"
    method: &'static str,
    value: Option<String>,
    abs_error_bound: Option<String>,
    /// "exact", "enclosure" (proven) or "estimate" (crate::conventions::BoundKind).
    bound_kind: Option<&'static str>,
    status: &'static str,
    series_value: Option<String>,
    series_abs_error_bound: Option<String>,
    series_bound_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    closed_form_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct Doc {
    sigma: String,
    tau: String,
    convention: &'static str,
    digits: u32,
    degree: usize,
    closed_form: Option<String>,
    pair_information_exponent: Option<usize>,
    points: Vec<Point>,
}

fn parse_s(text: &str, prec: u32) -> Result<Float, CliError> {
    let v = Float::parse(text.trim())
        .map(|p| Float::with_val(prec, p))
        .map_err(|_| CliError::Usage(format!("--s: {text:?} is not a number")))?;
    if !v.is_finite() || v.clone().abs() > 1 {
        return Err(CliError::Usage(format!("--s: {text} is outside [-1, 1]")));
    }
    Ok(v)
}

pub fn run(
    spec_a: &str,
    spec_b: Option<&str>,
    s_list: &[String],
    digits: u32,
    degree: usize,
    format: Format,
    out: Option<&Path>,
) -> Result<(), CliError> {
    if digits == 0 || digits > MAX_DIGITS {
        return Err(CliError::Usage(format!(
            "--digits {digits} is out of range (1..={MAX_DIGITS})"
        )));
    }
    let prec = digits_to_bits(digits) + 64;
    let svals: Vec<Float> = s_list
        .iter()
        .map(|t| parse_s(t, prec))
        .collect::<Result<_, _>>()?;
    let a = Spec::parse(spec_a).map_err(|e| CliError::Usage(e.to_string()))?;
    let b = match spec_b {
        Some(t) => Spec::parse(t).map_err(|e| CliError::Usage(e.to_string()))?,
        None => a.clone(),
    };
    let side =
        |sp: &Spec| Side::new(sp, degree, digits + 5).map_err(|e| CliError::Usage(e.to_string()));
    let sa = side(&a)?;
    let sb = if spec_b.is_some() {
        side(&b)?
    } else {
        sa.clone()
    };
    let closed = kernel::closed_kernel(&a, &b);
    let mut points = Vec::new();
    for (text, s) in s_list.iter().zip(&svals) {
        for r in 0..=2 {
            let ser = kernel::series(&sa, &sb, s, r);
            let cf = closed.as_ref().map(|c| kernel::closed_value(c, s, r, prec));
            let (ser_v, ser_b, ser_k) = match &ser {
                Ok(v) => {
                    let (x, y, _) = render_with_bound(&v.value, &v.abs_error_bound, digits);
                    (Some(x), Some(y), Some(v.kind.as_str()))
                }
                Err(_) => (None, None, None),
            };
            let chosen: Result<(kernel::KernelValue, &'static str), KernelError> = match (&cf, &ser)
            {
                (Some(Ok(c)), _) => Ok((c.clone(), "closed-form")),
                (Some(Err(e)), _) => Err(e.clone()),
                (None, Ok(v)) => Ok((v.clone(), "series")),
                (None, Err(e)) => Err(e.clone()),
            };
            let closed_str = match &cf {
                Some(Ok(c)) => Some(render_with_bound(&c.value, &c.abs_error_bound, digits).0),
                _ => None,
            };
            points.push(match chosen {
                Ok((v, method)) => {
                    let (val, bnd, status) =
                        render_with_bound(&v.value, &v.abs_error_bound, digits);
                    Point {
                        s: text.trim().to_string(),
                        derivative: r,
                        method,
                        value: Some(val),
                        abs_error_bound: Some(bnd),
                        bound_kind: Some(v.kind.as_str()),
                        status,
                        series_value: ser_v,
                        series_abs_error_bound: ser_b,
                        series_bound_kind: ser_k,
                        closed_form_value: closed_str,
                        error: None,
                    }
                }
                Err(e) => Point {
                    s: text.trim().to_string(),
                    derivative: r,
                    method: if cf.is_some() {
                        "closed-form"
                    } else {
                        "series"
                    },
                    value: None,
                    abs_error_bound: None,
                    bound_kind: None,
                    status: "undefined",
                    series_value: ser_v,
                    series_abs_error_bound: ser_b,
                    series_bound_kind: ser_k,
                    closed_form_value: None,
                    error: Some(e.to_string()),
                },
            });
        }
    }
    let doc = Doc {
        sigma: a.source.clone(),
        tau: b.source.clone(),
        convention:
            "kappa(s) = sum_k c_k(sigma) c_k(tau) s^k = E[sigma(<u,x>) tau(<v,x>)], <u,v> = s",
        digits,
        degree,
        closed_form: closed.map(|c| format!("{c:?}")),
        pair_information_exponent: kernel::pair_information_exponent(&sa.table, &sb.table)
            .ok()
            .flatten(),
        points,
    };
    let text = match format {
        Format::Json => super::json(&doc)?,
        Format::Csv => {
            let mut t =
                String::from("s,derivative,method,value,abs_error_bound,bound_kind,status\n");
            for p in &doc.points {
                t.push_str(&format!(
                    "{},{},{},{},{},{},{}\n",
                    p.s,
                    p.derivative,
                    p.method,
                    p.value.clone().unwrap_or_default(),
                    p.abs_error_bound.clone().unwrap_or_default(),
                    p.bound_kind.unwrap_or_default(),
                    p.status
                ));
            }
            t
        }
        Format::Table => {
            let mut t = format!(
                "# {}\n# sigma = {}, tau = {}, degree {}\n",
                doc.convention, doc.sigma, doc.tau, degree
            );
            for p in &doc.points {
                let name = ["kappa", "kappa'", "kappa''"][p.derivative];
                match (&p.value, &p.error) {
                    (Some(v), _) => t.push_str(&format!(
                        "{name}({}) = {v}  (+- {} {}, {}, {})\n",
                        p.s,
                        p.abs_error_bound.clone().unwrap_or_default(),
                        p.bound_kind.unwrap_or_default(),
                        p.method,
                        p.status
                    )),
                    (None, Some(e)) => t.push_str(&format!("{name}({}): {e}\n", p.s)),
                    _ => {}
                }
            }
            t
        }
    };
    emit(&text, out)
}
