//! The abstract syntax tree of an activation spec.
//!
//! A spec is a real function of one variable `z`, written as an expression. This file is
//! the contract shared by the parser (`parse.rs`), the evaluators (rug, f64, and the
//! independent num-bigfloat path in `coeffs::bigfloat`), the analyses (`analysis.rs`)
//! and the coefficient engines (`coeffs`).
//!
//! Literals are kept exactly: a decimal such as `0.25` is the rational 1/4, never an
//! f64. Only the evaluators round.

use rug::Rational;

/// A named function of one argument. `He(k)` is the *normalised* probabilists' Hermite
/// polynomial h_k = He_k / sqrt(k!), orthonormal under N(0,1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    /// max(x, 0)
    Relu,
    /// |x|
    Abs,
    /// Heaviside, with step(0) = 1/2
    Step,
    /// sign(x), with sign(0) = 0
    Sign,
    /// the error function
    Erf,
    Tanh,
    /// 1/(1+e^{-x})
    Sigmoid,
    /// log(1+e^x)
    Softplus,
    /// x·Φ(x), Φ the standard normal CDF
    Gelu,
    /// x·sigmoid(x)
    Silu,
    Sin,
    Cos,
    Exp,
    /// log(1+x), defined for x > -1
    Log1p,
    /// normalised Hermite polynomial h_k
    He(u32),
}

impl Func {
    /// The name used in spec strings (`he<k>` for `He(k)`).
    pub fn name(&self) -> String {
        match self {
            Func::Relu => "relu".into(),
            Func::Abs => "abs".into(),
            Func::Step => "step".into(),
            Func::Sign => "sign".into(),
            Func::Erf => "erf".into(),
            Func::Tanh => "tanh".into(),
            Func::Sigmoid => "sigmoid".into(),
            Func::Softplus => "softplus".into(),
            Func::Gelu => "gelu".into(),
            Func::Silu => "silu".into(),
            Func::Sin => "sin".into(),
            Func::Cos => "cos".into(),
            Func::Exp => "exp".into(),
            Func::Log1p => "log1p".into(),
            Func::He(k) => format!("he{k}"),
        }
    }

    /// True for the functions whose argument's zero is a kink or a jump.
    pub fn is_kinked(&self) -> bool {
        matches!(self, Func::Relu | Func::Abs | Func::Step | Func::Sign)
    }
}

/// An expression in the variable `z`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// An exact rational literal (decimals are parsed exactly).
    Num(Rational),
    /// The constant pi.
    Pi,
    /// The variable.
    Z,
    Neg(Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    Div(Box<Expr>, Box<Expr>),
    /// Integer power `e^n`, n >= 0.
    Pow(Box<Expr>, u32),
    Sqrt(Box<Expr>),
    Call(Func, Box<Expr>),
}

impl Expr {
    /// True when the expression does not depend on `z`.
    pub fn is_const(&self) -> bool {
        match self {
            Expr::Num(_) | Expr::Pi => true,
            Expr::Z => false,
            Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) | Expr::Call(_, a) => a.is_const(),
            Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
                a.is_const() && b.is_const()
            }
        }
    }

    /// The expression with z replaced by r·z (r an exact rational): the activation z ↦ f(r z).
    /// A product of a literal and z, q·z or z·q, becomes the single literal product (q r)·z,
    /// so that recognisers of f(a z) (the closed-form erf kernel) see the scaled form.
    pub fn scaled_argument(&self, r: &Rational) -> Expr {
        let b = |e: &Expr| Box::new(e.scaled_argument(r));
        let rz = |q: &Rational| {
            Expr::Mul(
                Box::new(Expr::Num(Rational::from(q * r))),
                Box::new(Expr::Z),
            )
        };
        match self {
            Expr::Num(_) | Expr::Pi => self.clone(),
            Expr::Z => rz(&Rational::from(1)),
            Expr::Mul(x, y) => match (x.as_ref(), y.as_ref()) {
                (Expr::Num(q), Expr::Z) | (Expr::Z, Expr::Num(q)) => rz(q),
                _ => Expr::Mul(b(x), b(y)),
            },
            Expr::Neg(a) => Expr::Neg(b(a)),
            Expr::Add(x, y) => Expr::Add(b(x), b(y)),
            Expr::Sub(x, y) => Expr::Sub(b(x), b(y)),
            Expr::Div(x, y) => Expr::Div(b(x), b(y)),
            Expr::Pow(a, n) => Expr::Pow(b(a), *n),
            Expr::Sqrt(a) => Expr::Sqrt(b(a)),
            Expr::Call(f, a) => Expr::Call(f.clone(), b(a)),
        }
    }

    pub fn num(q: impl Into<Rational>) -> Expr {
        Expr::Num(q.into())
    }
}

/// Printing. The output is accepted by the parser, and for every tree the parser can
/// produce (literals are non-negative finite decimals) `parse(e.to_string()) == e` exactly.
/// Other literals print as an equivalent expression: a negative `Num(-q)` as `-q` (which
/// reads back as `Neg(Num(q))`), a rational that is not a finite decimal as `p/q` (reads back
/// as `Div(Num(p), Num(q))`). Parentheses are printed only where precedence or left
/// associativity requires them.
impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_expr(self, 0, f)
    }
}

/// Binding levels: 1 sum, 2 product, 3 unary minus, 4 power, 5 atom.
fn level(e: &Expr) -> u8 {
    match e {
        Expr::Num(q) => {
            if *q < 0 {
                3
            } else if decimal_digits(q).is_some() {
                5
            } else {
                2
            }
        }
        Expr::Pi | Expr::Z | Expr::Sqrt(_) | Expr::Call(..) => 5,
        Expr::Pow(..) => 4,
        Expr::Neg(_) => 3,
        Expr::Mul(..) | Expr::Div(..) => 2,
        Expr::Add(..) | Expr::Sub(..) => 1,
    }
}

/// `Some((m, k))` with q = m / 10^k (k minimal) when q is a finite decimal.
fn decimal_digits(q: &Rational) -> Option<(rug::Integer, u32)> {
    let mut d = q.denom().clone();
    let twos = d.remove_factor_mut(&rug::Integer::from(2));
    let fives = d.remove_factor_mut(&rug::Integer::from(5));
    if d != 1 {
        return None;
    }
    let k = twos.max(fives);
    let scale = rug::Integer::from(rug::Integer::u_pow_u(10, k));
    let m = (q.numer() * scale) / q.denom();
    Some((m, k))
}

fn write_decimal(q: &Rational, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match decimal_digits(q) {
        Some((m, 0)) => write!(f, "{m}"),
        Some((m, k)) => {
            let digits = m.to_string().trim_start_matches('-').to_string();
            let k = k as usize;
            let padded = format!("{digits:0>width$}", width = k + 1);
            let (int, frac) = padded.split_at(padded.len() - k);
            write!(f, "{}{int}.{frac}", if m < 0 { "-" } else { "" })
        }
        None => write!(f, "{}/{}", q.numer(), q.denom()),
    }
}

fn write_expr(e: &Expr, min_level: u8, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    let paren = level(e) < min_level;
    if paren {
        f.write_str("(")?;
    }
    match e {
        Expr::Num(q) => {
            if *q < 0 {
                f.write_str("-")?;
                let abs = Expr::Num(Rational::from(-q));
                write_expr(&abs, 3, f)?;
            } else {
                write_decimal(q, f)?;
            }
        }
        Expr::Pi => f.write_str("pi")?,
        Expr::Z => f.write_str("z")?,
        Expr::Neg(a) => {
            f.write_str("-")?;
            write_expr(a, 3, f)?;
        }
        Expr::Add(a, b) | Expr::Sub(a, b) => {
            write_expr(a, 1, f)?;
            f.write_str(if matches!(e, Expr::Add(..)) {
                " + "
            } else {
                " - "
            })?;
            write_expr(b, 2, f)?;
        }
        Expr::Mul(a, b) | Expr::Div(a, b) => {
            write_expr(a, 2, f)?;
            f.write_str(if matches!(e, Expr::Mul(..)) { "*" } else { "/" })?;
            write_expr(b, 3, f)?;
        }
        Expr::Pow(a, n) => {
            write_expr(a, 5, f)?;
            write!(f, "^{n}")?;
        }
        Expr::Sqrt(a) => {
            f.write_str("sqrt(")?;
            write_expr(a, 0, f)?;
            f.write_str(")")?;
        }
        Expr::Call(func, a) => {
            write!(f, "{}(", func.name())?;
            write_expr(a, 0, f)?;
            f.write_str(")")?;
        }
    }
    if paren {
        f.write_str(")")?;
    }
    Ok(())
}
