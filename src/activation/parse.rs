//! Recursive-descent parser for activation specs (grammar in `activation/mod.rs`).
//!
//! Numbers are read exactly into `rug::Rational` (`0.25` is 1/4, `1e-3` is 1/1000), never
//! through f64. Every error is a [`SpecError`] with the byte offset of the offending token
//! and a one-line reason. Besides the tree, [`parse_spanned`] returns a [`Spanned`] side
//! table with the byte offset of every node, which the validator uses to place its errors.
//!
//! Node positions: a binary operator or `^` is located at its operator, a unary minus at the
//! `-`, a call (explicit or bare) at the function name, a literal / `pi` / `z` at its first
//! byte. `x^-n` becomes `1/x^n`, and the `1`, the `/` and the `^n` all sit at the `^`.
//!
//! Proofs-note: `proofs-notes/activation.md` §1. Tests: `tests/activation.rs`
//! (`parse_*`, `error_*`, `display_round_trip_*`).

use super::ast::{Expr, Func};
use super::SpecError;
use rug::{Integer, Rational};

/// Largest integer power `x^n` and largest Hermite degree `he<k>` accepted.
pub const MAX_POWER: u32 = 1000;
/// Largest |decimal exponent| accepted in a literal such as `1e-300`; keeps literals from
/// exhausting memory (`1e999999999` would be a billion-digit integer).
pub const MAX_DECIMAL_EXPONENT: i64 = 10_000;

/// Byte positions of an expression tree: `pos` is the node's position, `kids` mirror the
/// node's children in [`Expr`] order (binary: left, right; unary/call: argument).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned {
    pub pos: usize,
    pub kids: Vec<Spanned>,
}

impl Spanned {
    fn leaf(pos: usize) -> Spanned {
        Spanned {
            pos,
            kids: Vec::new(),
        }
    }

    /// A span table of the shape of `e` with every position 0 (for trees that did not come
    /// from a source string).
    pub fn zeros(e: &Expr) -> Spanned {
        let kids = match e {
            Expr::Num(_) | Expr::Pi | Expr::Z => Vec::new(),
            Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) | Expr::Call(_, a) => {
                vec![Spanned::zeros(a)]
            }
            Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
                vec![Spanned::zeros(a), Spanned::zeros(b)]
            }
        };
        Spanned { pos: 0, kids }
    }
}

/// The names of the functions, in the order listed in error messages.
pub const FUNCTION_NAMES: &str = "relu, abs, step, sign, erf, tanh, sigmoid, softplus, gelu, \
     silu, sin, cos, exp, log1p, sqrt, he<k> (0 <= k <= 1000)";

/// Parse `source` into an expression tree (no semantic validation).
pub fn parse(source: &str) -> Result<Expr, SpecError> {
    parse_spanned(source).map(|(e, _)| e)
}

/// Parse `source` into an expression tree and its table of byte positions.
pub fn parse_spanned(source: &str) -> Result<(Expr, Spanned), SpecError> {
    let mut p = Parser {
        src: source,
        bytes: source.as_bytes(),
        pos: 0,
        depth: 0,
        ops: 0,
    };
    p.skip_ws();
    if p.pos == p.bytes.len() {
        return Err(p.err(0, "empty spec: expected an expression in z"));
    }
    let out = p.expr()?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        return Err(p.trailing());
    }
    Ok(out)
}

/// A named thing in the source: a function, the constant pi, or the variable z.
enum Name {
    Func(Func),
    Sqrt,
    Pi,
    Z,
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Current nesting of `unary` (parentheses, unary minus, function arguments).
    depth: usize,
    /// Operators and calls so far (the expression tree's depth is at most this).
    ops: usize,
}

/// Deepest nesting of parentheses, unary minus and calls a spec may have: the parser, the
/// analysis and the evaluators recurse on the tree, and a deeper one would overflow the stack
/// (found by tests/fuzz.rs). Far beyond any activation one writes by hand.
pub const MAX_NESTING: usize = 100;
/// Most operators (binary, unary minus, powers, calls) a spec may have, for the same reason:
/// a chain of n operators is a tree of depth n.
pub const MAX_OPERATORS: usize = 2000;

type PResult = Result<(Expr, Spanned), SpecError>;

impl Parser<'_> {
    fn err(&self, position: usize, reason: impl Into<String>) -> SpecError {
        SpecError {
            source_text: self.src.to_string(),
            position,
            reason: reason.into(),
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    /// Next non-blank byte, without consuming it.
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.pos).copied()
    }

    /// The (possibly multi-byte) character at byte `at`, for messages.
    fn char_at(&self, at: usize) -> char {
        self.src[at..].chars().next().unwrap_or('?')
    }

    /// expr := term (('+' | '-') term)*
    fn expr(&mut self) -> PResult {
        let (mut e, mut s) = self.term()?;
        while let Some(c @ (b'+' | b'-')) = self.peek() {
            let at = self.pos;
            self.count_op(at)?;
            self.pos += 1;
            let (r, rs) = self.term()?;
            e = if c == b'+' {
                Expr::Add(Box::new(e), Box::new(r))
            } else {
                Expr::Sub(Box::new(e), Box::new(r))
            };
            s = Spanned {
                pos: at,
                kids: vec![s, rs],
            };
        }
        Ok((e, s))
    }

    /// term := unary (('*' | '/') unary)*
    fn term(&mut self) -> PResult {
        let (mut e, mut s) = self.unary()?;
        while let Some(c @ (b'*' | b'/')) = self.peek() {
            let at = self.pos;
            self.count_op(at)?;
            self.pos += 1;
            let (r, rs) = self.unary()?;
            e = if c == b'*' {
                Expr::Mul(Box::new(e), Box::new(r))
            } else {
                Expr::Div(Box::new(e), Box::new(r))
            };
            s = Spanned {
                pos: at,
                kids: vec![s, rs],
            };
        }
        Ok((e, s))
    }

    /// One more operator or call; refuses past [`MAX_OPERATORS`].
    fn count_op(&mut self, at: usize) -> Result<(), SpecError> {
        self.ops += 1;
        if self.ops > MAX_OPERATORS {
            return Err(self.err(
                at,
                format!("more than {MAX_OPERATORS} operators: the spec is too long"),
            ));
        }
        Ok(())
    }

    /// unary := '-' unary | power, within [`MAX_NESTING`].
    fn unary(&mut self) -> PResult {
        if self.depth >= MAX_NESTING {
            return Err(self.err(
                self.pos,
                format!("nested more than {MAX_NESTING} deep (parentheses, minus signs, calls)"),
            ));
        }
        self.depth += 1;
        let r = self.unary_inner();
        self.depth -= 1;
        r
    }

    fn unary_inner(&mut self) -> PResult {
        if self.peek() == Some(b'-') {
            self.count_op(self.pos)?;
            let at = self.pos;
            self.pos += 1;
            let (e, s) = self.unary()?;
            return Ok((
                Expr::Neg(Box::new(e)),
                Spanned {
                    pos: at,
                    kids: vec![s],
                },
            ));
        }
        self.power()
    }

    /// power := atom ('^' ['-']? integer)?
    fn power(&mut self) -> PResult {
        let (base, bs) = self.atom()?;
        if self.peek() != Some(b'^') {
            return Ok((base, bs));
        }
        let caret = self.pos;
        self.count_op(caret)?;
        self.pos += 1;
        let negative = if self.peek() == Some(b'-') {
            self.pos += 1;
            true
        } else {
            false
        };
        let at = match self.peek() {
            Some(c) if c.is_ascii_digit() || c == b'.' => self.pos,
            Some(_) => {
                return Err(self.err(
                    self.pos,
                    "the power must be an integer literal such as 3 or -2",
                ))
            }
            None => {
                return Err(self.err(
                    self.pos,
                    "the input ended after '^': expected an integer power",
                ))
            }
        };
        let q = self.number()?;
        if !q.denom().eq(&1) {
            return Err(self.err(
                at,
                format!(
                    "the power must be an integer, got {}",
                    self.src[at..self.pos].trim()
                ),
            ));
        }
        let n = q.numer();
        if *n > MAX_POWER {
            return Err(self.err(
                at,
                format!("the power must be at most {MAX_POWER} in absolute value"),
            ));
        }
        let n = n.to_u32().expect("0 <= n <= 1000");
        let pow = Expr::Pow(Box::new(base), n);
        let ps = Spanned {
            pos: caret,
            kids: vec![bs],
        };
        if negative && n > 0 {
            Ok((
                Expr::Div(Box::new(Expr::num(1)), Box::new(pow)),
                Spanned {
                    pos: caret,
                    kids: vec![Spanned::leaf(caret), ps],
                },
            ))
        } else {
            Ok((pow, ps))
        }
    }

    /// atom := number | 'pi' | 'z' | '(' expr ')' | name '(' expr ')' | name
    fn atom(&mut self) -> PResult {
        let at = match self.peek() {
            None => {
                return Err(self.err(
                    self.bytes.len(),
                    "the input ended where an expression was expected",
                ))
            }
            Some(_) => self.pos,
        };
        let c = self.bytes[at];
        if c.is_ascii_digit() || c == b'.' {
            let q = self.number()?;
            return Ok((Expr::Num(q), Spanned::leaf(at)));
        }
        if c == b'(' {
            self.pos += 1;
            let (e, s) = self.expr()?;
            return match self.peek() {
                Some(b')') => {
                    self.pos += 1;
                    Ok((e, s))
                }
                None => Err(self.err(at, "unbalanced parenthesis: this '(' is never closed")),
                Some(_) => Err(self.after_operand(at)),
            };
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let name = self.identifier();
            let what = self.lookup(&name, at)?;
            return match what {
                Name::Pi => Ok((Expr::Pi, Spanned::leaf(at))),
                Name::Z => Ok((Expr::Z, Spanned::leaf(at))),
                Name::Func(_) | Name::Sqrt => {
                    self.count_op(at)?;
                    let (arg, argspan) = if self.peek() == Some(b'(') {
                        let open = self.pos;
                        self.pos += 1;
                        let (a, s) = self.expr()?;
                        match self.peek() {
                            Some(b')') => self.pos += 1,
                            None => {
                                return Err(self
                                    .err(open, "unbalanced parenthesis: this '(' is never closed"))
                            }
                            Some(_) => return Err(self.after_operand(open)),
                        }
                        (a, s)
                    } else {
                        // a bare name is that function of z
                        (Expr::Z, Spanned::leaf(at))
                    };
                    let e = match what {
                        Name::Func(f) => Expr::Call(f, Box::new(arg)),
                        _ => Expr::Sqrt(Box::new(arg)),
                    };
                    Ok((
                        e,
                        Spanned {
                            pos: at,
                            kids: vec![argspan],
                        },
                    ))
                }
            };
        }
        if c == b')' {
            return Err(self.err(at, "unbalanced parenthesis: ')' without a matching '('"));
        }
        Err(self.err(
            at,
            format!(
                "unexpected character {:?}: expected a number, z, pi, a function or '('",
                self.char_at(at)
            ),
        ))
    }

    /// Error for a token that follows a complete operand where an operator, ')' or the end
    /// was expected. `open` is the '(' being closed, if any.
    fn after_operand(&self, open: usize) -> SpecError {
        let at = self.pos;
        let c = self.bytes[at];
        if c == b')' && open == usize::MAX {
            return self.err(at, "unbalanced parenthesis: ')' without a matching '('");
        }
        if c.is_ascii_alphanumeric() || c == b'.' || c == b'(' || c == b'_' {
            return self.err(
                at,
                "implicit multiplication is not supported: write '*' between factors",
            );
        }
        if c == b'^' {
            return self.err(
                at,
                "unexpected '^': chained powers need parentheses, (x^a)^b",
            );
        }
        if open != usize::MAX {
            return self.err(
                at,
                format!(
                    "unexpected character {:?}: expected an operator or ')'",
                    self.char_at(at)
                ),
            );
        }
        self.err(
            at,
            format!(
                "unexpected character {:?} after the end of the expression",
                self.char_at(at)
            ),
        )
    }

    /// Trailing garbage after a complete expression.
    fn trailing(&self) -> SpecError {
        self.after_operand(usize::MAX)
    }

    fn identifier(&mut self) -> String {
        let start = self.pos;
        while self.pos < self.bytes.len()
            && (self.bytes[self.pos].is_ascii_alphanumeric() || self.bytes[self.pos] == b'_')
        {
            self.pos += 1;
        }
        self.src[start..self.pos].to_string()
    }

    fn lookup(&self, name: &str, at: usize) -> Result<Name, SpecError> {
        let f = match name {
            "pi" => return Ok(Name::Pi),
            "z" => return Ok(Name::Z),
            "sqrt" => return Ok(Name::Sqrt),
            "relu" => Func::Relu,
            "abs" => Func::Abs,
            "step" => Func::Step,
            "sign" => Func::Sign,
            "erf" => Func::Erf,
            "tanh" => Func::Tanh,
            "sigmoid" => Func::Sigmoid,
            "softplus" => Func::Softplus,
            "gelu" => Func::Gelu,
            "silu" => Func::Silu,
            "sin" => Func::Sin,
            "cos" => Func::Cos,
            "exp" => Func::Exp,
            "log1p" => Func::Log1p,
            _ => {
                if let Some(digits) = name.strip_prefix("he") {
                    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                        return match digits.parse::<u32>() {
                            Ok(k) if k <= MAX_POWER => Ok(Name::Func(Func::He(k))),
                            _ => Err(self.err(
                                at,
                                format!("Hermite degree in {name} must be at most {MAX_POWER}"),
                            )),
                        };
                    }
                }
                return Err(self.err(
                    at,
                    format!(
                        "unknown name {name:?}; known functions: {FUNCTION_NAMES}; also the constant pi and the variable z"
                    ),
                ));
            }
        };
        Ok(Name::Func(f))
    }

    /// number := digits ['.' digits*] | '.' digits, then optionally [eE] [+-]? digits.
    /// Read exactly as a rational.
    fn number(&mut self) -> Result<Rational, SpecError> {
        let start = self.pos;
        let mut digits = String::new();
        let mut frac_len: i64 = 0;
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_digit() {
            digits.push(self.bytes[self.pos] as char);
            self.pos += 1;
        }
        if self.pos < self.bytes.len() && self.bytes[self.pos] == b'.' {
            self.pos += 1;
            while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_digit() {
                digits.push(self.bytes[self.pos] as char);
                frac_len += 1;
                self.pos += 1;
            }
        }
        if digits.is_empty() {
            return Err(self.err(
                start,
                "malformed number: '.' must be followed or preceded by digits",
            ));
        }
        let mut exp10: i64 = 0;
        if self.pos < self.bytes.len() && matches!(self.bytes[self.pos], b'e' | b'E') {
            let mut q = self.pos + 1;
            let negative = q < self.bytes.len() && self.bytes[q] == b'-';
            if q < self.bytes.len() && matches!(self.bytes[q], b'+' | b'-') {
                q += 1;
            }
            let has_digit = q < self.bytes.len() && self.bytes[q].is_ascii_digit();
            let signed = q > self.pos + 1;
            if has_digit {
                let estart = q;
                while q < self.bytes.len() && self.bytes[q].is_ascii_digit() {
                    q += 1;
                }
                let text = &self.src[estart..q];
                let v: i64 = match text.parse::<i64>() {
                    Ok(v) if v <= MAX_DECIMAL_EXPONENT => v,
                    _ => {
                        return Err(self.err(
                            start,
                            format!("decimal exponent too large (at most {MAX_DECIMAL_EXPONENT} in absolute value)"),
                        ))
                    }
                };
                exp10 = if negative { -v } else { v };
                self.pos = q;
            } else if signed {
                return Err(self.err(
                    self.pos,
                    "malformed number: the exponent needs digits, as in 1e-3",
                ));
            }
            // otherwise `2e...` is a number followed by a name: reported by the caller as
            // implicit multiplication
        }
        if self.pos < self.bytes.len() && self.bytes[self.pos] == b'.' {
            return Err(self.err(self.pos, "malformed number: a second '.'"));
        }
        let mantissa: Integer = digits.parse().expect("ASCII digits");
        let shift = exp10 - frac_len;
        let scale = Integer::from(Integer::u_pow_u(10, shift.unsigned_abs() as u32));
        Ok(if shift >= 0 {
            Rational::from(mantissa * scale)
        } else {
            Rational::from((mantissa, scale))
        })
    }
}
