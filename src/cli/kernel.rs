//! `mforacle kernel SPEC [SPEC2] --s S[,S...] [--radii R[,R2]] --digits D [--degree K]`
//!
//! With `--radii r,r'` the kernel is the norm-dependent one, κ(r, r', ρ) = E σ(⟨v,x⟩) τ(⟨v',x⟩)
//! for |v| = r, |v'| = r', cos∠(v, v') = ρ: the unit kernel of σ_r = σ(r·) and τ_{r'} = τ(r'·)
//! (`Spec::scaled`), so every route, bound and kind of the unit kernel applies unchanged
//! (closed form for erf pairs, whose scales absorb r; the series of σ_r's own coefficient
//! table otherwise). Proofs-note: `proofs-notes/dual-kernels.md`, "Norm-dependent kernels".

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
    /// The norms (r, r') of `--radii`, as typed; absent for the unit kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    radii: Option<[String; 2]>,
    /// The scaled activations σ(r·), τ(r'·) whose unit kernel is computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    scaled: Option<[String; 2]>,
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

/// An exact decimal radius in (0, 100].
fn parse_radius(text: &str) -> Result<rug::Rational, CliError> {
    let bad = || {
        CliError::Usage(format!(
            "--radii: {text:?} must be an exact decimal in (0, 100]"
        ))
    };
    match crate::activation::parse::parse(text.trim()).map_err(|_| bad())? {
        crate::activation::Expr::Num(q) if q > 0 && q <= 100 => Ok(q),
        _ => Err(bad()),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn run(
    spec_a: &str,
    spec_b: Option<&str>,
    s_list: &[String],
    radii: &[String],
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
    let radii_text: Option<[String; 2]> = match radii {
        [] => None,
        [r] => Some([r.trim().to_string(), r.trim().to_string()]),
        [r, q] => Some([r.trim().to_string(), q.trim().to_string()]),
        _ => {
            return Err(CliError::Usage(
                "--radii: give one or two norms r[,r']".to_string(),
            ))
        }
    };
    let (a, b) = match &radii_text {
        None => (a, b),
        Some([r, q]) => (a.scaled(&parse_radius(r)?), b.scaled(&parse_radius(q)?)),
    };
    let distinct = spec_b.is_some() || radii_text.as_ref().is_some_and(|[r, q]| r != q);
    let side =
        |sp: &Spec| Side::new(sp, degree, digits + 5).map_err(|e| CliError::Usage(e.to_string()));
    let sa = side(&a)?;
    let sb = if distinct { side(&b)? } else { sa.clone() };
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
    let scaled = radii_text
        .as_ref()
        .map(|_| [a.source.clone(), b.source.clone()]);
    let doc = Doc {
        sigma: spec_a.to_string(),
        tau: spec_b.unwrap_or(spec_a).to_string(),
        radii: radii_text,
        scaled,
        convention: if radii.is_empty() {
            "kappa(s) = sum_k c_k(sigma) c_k(tau) s^k = E[sigma(<u,x>) tau(<v,x>)], <u,v> = s"
        } else {
            "kappa(r, r', s) = E[sigma(<v,x>) tau(<v',x>)], |v| = r, |v'| = r', cos(v, v') = s: the unit kernel of sigma(r z) and tau(r' z); derivatives in s"
        },
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
            if let (Some([r, q]), Some([x, y])) = (&doc.radii, &doc.scaled) {
                t.push_str(&format!(
                    "# r = {r}, r' = {q}: sigma(r z) = {x}, tau(r' z) = {y}\n"
                ));
            }
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
