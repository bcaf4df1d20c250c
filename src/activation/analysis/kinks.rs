//! Kinks: where relu/abs/step/sign arguments vanish.

use super::*;

/// The affine arguments a·z + b of every relu/abs/step/sign with a non-constant argument,
/// deduplicated by location −b/a (exactly when a and b are rational, otherwise to within
/// 2^−240·max(1, |location|) at 256 bits) and sorted by location. An argument that is not
/// affine (rejected by validation) is skipped.
pub fn kinks(e: &Expr) -> Vec<Kink> {
    let mut found: Vec<(Kink, Option<Rational>, Float)> = Vec::new();
    collect_kinks(e, &mut found);
    found.sort_by(|x, y| x.2.partial_cmp(&y.2).unwrap_or(Ordering::Equal));
    found.into_iter().map(|(k, _, _)| k).collect()
}

pub(super) fn collect_kinks(e: &Expr, out: &mut Vec<(Kink, Option<Rational>, Float)>) {
    match e {
        Expr::Num(_) | Expr::Pi | Expr::Z => {}
        Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) => collect_kinks(a, out),
        Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
            collect_kinks(a, out);
            collect_kinks(b, out);
        }
        Expr::Call(f, a) => {
            collect_kinks(a, out);
            if !f.is_kinked() || a.is_const() {
                return;
            }
            let Some(p) = as_polynomial(a) else { return };
            if p.len() != 2 {
                return;
            }
            let kink = Kink {
                a: p[1].clone(),
                b: p[0].clone(),
            };
            let exact = match (fold_rational(&kink.a), fold_rational(&kink.b)) {
                (Some(a), Some(b)) if a != 0 => Some(-b / a),
                _ => None,
            };
            let loc = kink.location(CHECK_PREC);
            let dup = out.iter().any(|(_, q, x)| match (q, &exact) {
                (Some(q), Some(r)) => q == r,
                _ => {
                    let d = Float::with_val(CHECK_PREC, x - &loc).abs();
                    let scale = Float::with_val(CHECK_PREC, loc.abs_ref())
                        .max(&Float::with_val(CHECK_PREC, 1));
                    d <= scale >> 240u32
                }
            });
            if !dup {
                out.push((kink, exact, loc));
            }
        }
    }
}
