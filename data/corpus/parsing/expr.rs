//! A recursive-descent parser and evaluator for arithmetic expressions.
//!
//! Grammar (lowest precedence first):
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := power (('*' | '/' | '%') power)*
//! power   := unary ('^' power)?          -- right associative
//! unary   := '-' unary | atom
//! atom    := number | ident | ident '(' expr ')' | '(' expr ')'
//! ```
//!
//! Parsing produces an [`Expr`] tree; evaluation walks it with a variable
//! environment. Errors carry the byte offset where things went wrong.

use std::collections::HashMap;
use std::fmt;

/// A parsed expression tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Var(String),
    Neg(Box<Expr>),
    Binary {
        op: char,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Call {
        name: String,
        arg: Box<Expr>,
    },
}

/// Errors from parsing or evaluating.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprError {
    Unexpected {
        offset: usize,
        found: Option<char>,
        expected: &'static str,
    },
    UnknownVariable(String),
    UnknownFunction(String),
    DivisionByZero,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExprError::Unexpected {
                offset,
                found: Some(c),
                expected,
            } => {
                write!(f, "at {}: expected {}, found '{}'", offset, expected, c)
            }
            ExprError::Unexpected {
                offset,
                found: None,
                expected,
            } => {
                write!(
                    f,
                    "at {}: expected {}, found end of input",
                    offset, expected
                )
            }
            ExprError::UnknownVariable(name) => write!(f, "unknown variable `{}`", name),
            ExprError::UnknownFunction(name) => write!(f, "unknown function `{}`", name),
            ExprError::DivisionByZero => write!(f, "division by zero"),
        }
    }
}

impl std::error::Error for ExprError {}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser { src, pos: 0 }
    }

    fn skip_spaces(&mut self) {
        while let Some(c) = self.src[self.pos..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_spaces();
        self.src[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn error(&mut self, expected: &'static str) -> ExprError {
        let found = self.peek();
        ExprError::Unexpected {
            offset: self.pos,
            found,
            expected,
        }
    }

    fn expect(&mut self, wanted: char, expected: &'static str) -> Result<(), ExprError> {
        if self.peek() == Some(wanted) {
            self.bump();
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.term()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.bump();
            let right = self.term()?;
            left = Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.power()?;
        while let Some(op @ ('*' | '/' | '%')) = self.peek() {
            self.bump();
            let right = self.power()?;
            left = Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    fn power(&mut self) -> Result<Expr, ExprError> {
        let base = self.unary()?;
        if self.peek() == Some('^') {
            self.bump();
            let exponent = self.power()?;
            return Ok(Expr::Binary {
                op: '^',
                left: Box::new(base),
                right: Box::new(exponent),
            });
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.peek() == Some('-') {
            self.bump();
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, ExprError> {
        match self.peek() {
            Some('(') => {
                self.bump();
                let inner = self.expr()?;
                self.expect(')', "')'")?;
                Ok(inner)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => self.number(),
            Some(c) if c.is_alphabetic() || c == '_' => {
                let name = self.ident();
                if self.peek() == Some('(') {
                    self.bump();
                    let arg = self.expr()?;
                    self.expect(')', "')' after argument")?;
                    Ok(Expr::Call {
                        name,
                        arg: Box::new(arg),
                    })
                } else {
                    Ok(Expr::Var(name))
                }
            }
            _ => Err(self.error("a number, name or '('")),
        }
    }

    fn number(&mut self) -> Result<Expr, ExprError> {
        let start = self.pos;
        let len = self.src[start..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(self.src.len() - start);
        self.pos += len;
        self.src[start..self.pos]
            .parse()
            .map(Expr::Number)
            .map_err(|_| ExprError::Unexpected {
                offset: start,
                found: self.src[start..].chars().next(),
                expected: "a valid number",
            })
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        let len = self.src[start..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(self.src.len() - start);
        self.pos += len;
        self.src[start..self.pos].to_string()
    }
}

/// Parses a whole expression; trailing input is an error.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let mut parser = Parser::new(src);
    let expr = parser.expr()?;
    if parser.peek().is_some() {
        return Err(parser.error("an operator or end of input"));
    }
    Ok(expr)
}

/// Evaluates `expr` with the given variables.
pub fn eval(expr: &Expr, vars: &HashMap<&str, f64>) -> Result<f64, ExprError> {
    Ok(match expr {
        Expr::Number(n) => *n,
        Expr::Var(name) => *vars
            .get(name.as_str())
            .ok_or_else(|| ExprError::UnknownVariable(name.clone()))?,
        Expr::Neg(inner) => -eval(inner, vars)?,
        Expr::Call { name, arg } => {
            let x = eval(arg, vars)?;
            match name.as_str() {
                "sqrt" => x.sqrt(),
                "abs" => x.abs(),
                "ln" => x.ln(),
                _ => return Err(ExprError::UnknownFunction(name.clone())),
            }
        }
        Expr::Binary { op, left, right } => {
            let (a, b) = (eval(left, vars)?, eval(right, vars)?);
            match op {
                '+' => a + b,
                '-' => a - b,
                '*' => a * b,
                '/' | '%' if b == 0.0 => return Err(ExprError::DivisionByZero),
                '/' => a / b,
                '%' => a % b,
                _ => a.powf(b),
            }
        }
    })
}

/// Parses and evaluates in one step, without variables.
pub fn calc(src: &str) -> Result<f64, ExprError> {
    eval(&parse(src)?, &HashMap::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(calc("1 + 2 * 3"), Ok(7.0));
        assert_eq!(calc("(1 + 2) * 3"), Ok(9.0));
        assert_eq!(calc("10 - 4 - 3"), Ok(3.0));
        assert_eq!(calc("2 ^ 3 ^ 2"), Ok(512.0));
        assert_eq!(calc("-2 ^ 2"), Ok(4.0));
        assert_eq!(calc("7 % 4 * 2"), Ok(6.0));
    }

    #[test]
    fn variables_and_functions() {
        let vars: HashMap<&str, f64> = [("x", 3.0), ("y_2", 4.0)].into_iter().collect();
        let e = parse("sqrt(x*x + y_2*y_2)").unwrap();
        assert_eq!(eval(&e, &vars), Ok(5.0));
        assert_eq!(calc("abs(-2.5)"), Ok(2.5));
        assert_eq!(
            calc("nope(1)"),
            Err(ExprError::UnknownFunction("nope".into()))
        );
        assert_eq!(calc("z + 1"), Err(ExprError::UnknownVariable("z".into())));
    }

    #[test]
    fn tree_shape() {
        let e = parse("a - 1").unwrap();
        assert_eq!(
            e,
            Expr::Binary {
                op: '-',
                left: Box::new(Expr::Var("a".into())),
                right: Box::new(Expr::Number(1.0)),
            }
        );
    }

    #[test]
    fn syntax_errors_have_offsets() {
        assert_eq!(
            parse("1 +"),
            Err(ExprError::Unexpected {
                offset: 3,
                found: None,
                expected: "a number, name or '('"
            })
        );
        assert_eq!(
            parse("(1 + 2"),
            Err(ExprError::Unexpected {
                offset: 6,
                found: None,
                expected: "')'"
            })
        );
        let err = parse("2 3").unwrap_err();
        assert_eq!(
            err.to_string(),
            "at 2: expected an operator or end of input, found '3'"
        );
        assert!(matches!(
            parse("1.2.3"),
            Err(ExprError::Unexpected { offset: 0, .. })
        ));
    }

    #[test]
    fn runtime_errors() {
        assert_eq!(calc("1 / (2 - 2)"), Err(ExprError::DivisionByZero));
        assert_eq!(calc("5 % 0"), Err(ExprError::DivisionByZero));
        assert_eq!(ExprError::DivisionByZero.to_string(), "division by zero");
    }
}
