//! Sprig's numbers (numeric.go and the arithmetic of functions.go): integer
//! arithmetic on `int64` through cast's `ToInt64` (wrapping as Go's does,
//! Go's divide-by-zero panic), the float functions through shopspring
//! decimals (`addf 0.1 0.2` is exactly 0.3), `max`/`min`, `floor`/`ceil`/
//! `round`, the conversions (`atoi`, `int`, `int64`, `float64`,
//! `toDecimal`) and the integer sequences (`until`, `untilStep`, `seq`).
//! It must not print values (that is `template::fmt`'s).

use super::conv::*;
use crate::func::{FuncError, FuncMap, FuncResult};
use crate::template::fmt::sprint;
use crate::value::{IntType, List, Value};

/// The most items `until`, `untilStep` and `seq` may produce.
pub const MAX_ITEMS: usize = 10_000_000;

fn div_zero() -> FuncError {
    runtime("integer divide by zero")
}

/// A Go `float64` parameter; an `int` is taken too, since that is how an
/// untyped constant such as `1` reaches us.
fn want_float_param(v: &Value) -> Result<f64, FuncError> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i, IntType::Int) => Ok(*i as f64),
        other => Err(wrong_type("float64", other)),
    }
}

pub fn register(m: &mut FuncMap) {
    fixed(m, "add1", 1, |a| Ok(Value::int64(to_int64(&a[0]).wrapping_add(1))));
    variadic(m, "add", 0, |a| Ok(Value::int64(a.iter().fold(0i64, |s, v| s.wrapping_add(to_int64(v))))));
    fixed(m, "sub", 2, |a| Ok(Value::int64(to_int64(&a[0]).wrapping_sub(to_int64(&a[1])))));
    fixed(m, "div", 2, |a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err(div_zero());
        }
        Ok(Value::int64(to_int64(&a[0]).wrapping_div(d)))
    });
    fixed(m, "mod", 2, |a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err(div_zero());
        }
        Ok(Value::int64(to_int64(&a[0]).wrapping_rem(d)))
    });
    variadic(m, "mul", 1, |a| Ok(Value::int64(a[1..].iter().fold(to_int64(&a[0]), |p, v| p.wrapping_mul(to_int64(v))))));
    for name in ["max", "biggest"] {
        variadic(m, name, 1, |a| Ok(Value::int64(a[1..].iter().map(to_int64).fold(to_int64(&a[0]), i64::max))));
    }
    variadic(m, "min", 1, |a| Ok(Value::int64(a[1..].iter().map(to_int64).fold(to_int64(&a[0]), i64::min))));
    variadic(m, "maxf", 1, |a| Ok(Value::Float(a[1..].iter().map(to_float64).fold(to_float64(&a[0]), go_max))));
    variadic(m, "minf", 1, |a| Ok(Value::Float(a[1..].iter().map(to_float64).fold(to_float64(&a[0]), go_min))));
    fixed(m, "floor", 1, |a| Ok(Value::Float(to_float64(&a[0]).floor())));
    fixed(m, "ceil", 1, |a| Ok(Value::Float(to_float64(&a[0]).ceil())));
    variadic(m, "round", 2, |a| {
        let places = want_int(&a[1])?;
        let mut on = 0.5;
        for (i, v) in a[2..].iter().enumerate() {
            let f = want_float_param(v)?;
            if i == 0 {
                on = f;
            }
        }
        Ok(Value::Float(round(to_float64(&a[0]), places, on)))
    });
    fixed(m, "add1f", 1, |a| decimal_op(&a[0], &[Value::int(1)], Op::Add));
    variadic(m, "addf", 0, |a| decimal_op(&Value::Float(0.0), a, Op::Add));
    variadic(m, "subf", 1, |a| decimal_op(&a[0], &a[1..], Op::Sub));
    variadic(m, "mulf", 1, |a| decimal_op(&a[0], &a[1..], Op::Mul));
    variadic(m, "divf", 1, |a| decimal_op(&a[0], &a[1..], Op::Div));
    fixed(m, "atoi", 1, |a| Ok(Value::int(atoi(want_str(&a[0])?))));
    fixed(m, "int", 1, |a| Ok(Value::int(to_int64(&a[0]))));
    fixed(m, "int64", 1, |a| Ok(Value::int64(to_int64(&a[0]))));
    fixed(m, "float64", 1, |a| Ok(Value::Float(to_float64(&a[0]))));
    fixed(m, "toDecimal", 1, |a| Ok(Value::int64(parse_octal(&sprint(&a[0])).unwrap_or(0))));
    fixed(m, "until", 1, |a| {
        let n = want_int(&a[0])?;
        ints(until_step(0, n, if n < 0 { -1 } else { 1 })?)
    });
    fixed(m, "untilStep", 3, |a| ints(until_step(want_int(&a[0])?, want_int(&a[1])?, want_int(&a[2])?)?));
    // Random numbers are the random family's; this is here only if that
    // family has not registered it.
    if !m.contains("randInt") {
        fixed(m, "randInt", 2, |a| {
            let (lo, hi) = (want_int(&a[0])?, want_int(&a[1])?);
            let n = hi.wrapping_sub(lo);
            if n <= 0 {
                return Err(FuncError::call("invalid argument to Intn"));
            }
            let mut rng = super::reflect::seeded_rng();
            Ok(Value::int(lo.wrapping_add((rng() % n as u64) as i64)))
        });
    }
    variadic(m, "seq", 0, |a| {
        let p = a.iter().map(want_int).collect::<Result<Vec<_>, _>>()?;
        Ok(Value::from(seq(&p)?))
    });
}

fn ints(v: Vec<i64>) -> FuncResult {
    Ok(Value::List(List::new(v.into_iter().map(Value::int).collect(), "int")))
}

/// Go's `math.Max`: NaN wins, +0 beats -0.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else {
        a.min(b)
    }
}

/// Sprig's `round`.
pub fn round(val: f64, places: i64, on: f64) -> f64 {
    let pow = 10f64.powf(places as f64);
    let digit = pow * val;
    let frac = digit - digit.trunc();
    let r = if frac >= on { digit.ceil() } else { digit.floor() };
    r / pow
}

/// Go's `strconv.Atoi` as Sprig wraps it: a syntax error gives 0, a value
/// out of range the nearest int64.
pub fn atoi(s: &str) -> i64 {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return 0;
    }
    let mut v: i128 = 0;
    for c in digits.bytes() {
        v = (v * 10 + (c - b'0') as i128).min(1 << 64);
    }
    let v = if neg { -v } else { v };
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// `strconv.ParseInt(s, 8, 64)`; None on any error.
fn parse_octal(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
        return None;
    }
    let mag = u64::from_str_radix(digits, 8).ok()?;
    if neg {
        (mag <= 1 << 63).then(|| (mag as i128).wrapping_neg() as i64)
    } else {
        i64::try_from(mag).ok()
    }
}

/// Sprig's `untilStep`.
pub fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, FuncError> {
    let mut v = Vec::new();
    let too_many = || FuncError::call(format!("untilStep: more than {MAX_ITEMS} items"));
    if stop < start {
        if step >= 0 {
            return Ok(v);
        }
        let mut i = start;
        while i > stop {
            if v.len() >= MAX_ITEMS {
                return Err(too_many());
            }
            v.push(i);
            match i.checked_add(step) {
                Some(n) => i = n,
                None => break,
            }
        }
        return Ok(v);
    }
    if step <= 0 {
        return Ok(v);
    }
    let mut i = start;
    while i < stop {
        if v.len() >= MAX_ITEMS {
            return Err(too_many());
        }
        v.push(i);
        match i.checked_add(step) {
            Some(n) => i = n,
            None => break,
        }
    }
    Ok(v)
}

/// Sprig's `seq`: the numbers joined by spaces.
pub fn seq(p: &[i64]) -> Result<String, FuncError> {
    let list = match p.len() {
        1 => {
            let (start, end) = (1, p[0]);
            let inc = if end < start { -1 } else { 1 };
            until_step(start, end.wrapping_add(inc), inc)?
        }
        2 => {
            let (start, end) = (p[0], p[1]);
            let step = if end < start { -1 } else { 1 };
            until_step(start, end.wrapping_add(step), step)?
        }
        3 => {
            let (start, step, end) = (p[0], p[1], p[2]);
            let mut inc = 1;
            if end < start {
                inc = -1;
                if step > 0 {
                    return Ok(String::new());
                }
            }
            until_step(start, end.wrapping_add(inc), step)?
        }
        _ => return Ok(String::new()),
    };
    Ok(list.iter().map(i64::to_string).collect::<Vec<_>>().join(" "))
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// A shopspring decimal small enough for i128: `mant × 10^exp`.
#[derive(Clone, Copy, Debug)]
struct Dec {
    mant: i128,
    exp: i32,
}

impl Dec {
    /// `decimal.NewFromFloat`: the shortest decimal that reads back as `f`.
    fn from_f64(f: f64) -> Result<Dec, FuncError> {
        if !f.is_finite() {
            let shown = if f.is_nan() { "NaN".to_string() } else if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
            return Err(FuncError::call(format!("Cannot create a Decimal from {shown}")));
        }
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let neg = m.starts_with('-');
        let m = m.trim_start_matches('-');
        let (int, frac) = m.split_once('.').unwrap_or((m, ""));
        let digits = format!("{int}{frac}");
        let mant: i128 = digits.parse().unwrap_or(0);
        Ok(Dec { mant: if neg { -mant } else { mant }, exp: e - frac.len() as i32 })
    }

    fn to_f64(self) -> f64 {
        format!("{}e{}", self.mant, self.exp).parse().unwrap_or(f64::NAN)
    }

    fn pow10(n: u32) -> Option<i128> {
        10i128.checked_pow(n)
    }

    /// Both at the smaller exponent; None when that overflows.
    fn align(a: Dec, b: Dec) -> Option<(i128, i128, i32)> {
        let exp = a.exp.min(b.exp);
        let am = a.mant.checked_mul(Self::pow10((a.exp - exp) as u32)?)?;
        let bm = b.mant.checked_mul(Self::pow10((b.exp - exp) as u32)?)?;
        Some((am, bm, exp))
    }

    fn apply(a: Dec, b: Dec, op: Op) -> Result<Option<Dec>, FuncError> {
        Ok(match op {
            Op::Add => Self::align(a, b).and_then(|(x, y, e)| Some(Dec { mant: x.checked_add(y)?, exp: e })),
            Op::Sub => Self::align(a, b).and_then(|(x, y, e)| Some(Dec { mant: x.checked_sub(y)?, exp: e })),
            Op::Mul => a.mant.checked_mul(b.mant).map(|m| Dec { mant: m, exp: a.exp + b.exp }),
            Op::Div => {
                if b.mant == 0 {
                    return Err(FuncError::call("decimal division by 0"));
                }
                Self::div_round(a, b, 16)
            }
        })
    }

    /// shopspring `DivRound(d2, precision)`: the quotient to `precision`
    /// places, half away from zero.
    fn div_round(a: Dec, b: Dec, precision: i32) -> Option<Dec> {
        // q = a / b scaled by 10^precision: (a.mant * 10^(a.exp - b.exp + precision)) / b.mant
        let shift = a.exp - b.exp + precision;
        let (num, den) = if shift >= 0 {
            (a.mant.checked_mul(Self::pow10(shift as u32)?)?, b.mant)
        } else {
            (a.mant, b.mant.checked_mul(Self::pow10((-shift) as u32)?)?)
        };
        let q = num / den;
        let r = num % den;
        let q = if r.checked_abs()?.checked_mul(2)? >= den.checked_abs()? {
            if (num < 0) != (den < 0) {
                q - 1
            } else {
                q + 1
            }
        } else {
            q
        };
        Some(Dec { mant: q, exp: -precision })
    }
}

/// Sprig's `execDecimalOp`. Where an intermediate would not fit in 128
/// bits (operands more than ~20 decimal orders apart), the step is done in
/// float64 instead — shopspring's big integers would be exact there.
fn decimal_op(first: &Value, rest: &[Value], op: Op) -> FuncResult {
    let mut acc = Dec::from_f64(to_float64(first))?;
    for v in rest {
        let d = Dec::from_f64(to_float64(v))?;
        acc = match Dec::apply(acc, d, op)? {
            Some(r) => r,
            None => {
                let (x, y) = (acc.to_f64(), d.to_f64());
                let f = match op {
                    Op::Add => x + y,
                    Op::Sub => x - y,
                    Op::Mul => x * y,
                    Op::Div => x / y,
                };
                Dec::from_f64(f)?
            }
        };
    }
    Ok(Value::Float(acc.to_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Vec<Value>) -> Result<Value, FuncError> {
        let mut m = FuncMap::new();
        register(&mut m);
        let f = m.get(name).unwrap().clone();
        let mut host = crate::sprig::tests::NoHost;
        let mut c = crate::func::Call { name, host: &mut host };
        f(&mut c, &args)
    }

    #[test]
    fn decimal_ops_are_exact() {
        let f = |name: &str, a: Vec<Value>| match call(name, a).unwrap() {
            Value::Float(f) => f,
            other => panic!("{other:?}"),
        };
        assert_eq!(f("addf", vec![Value::Float(0.1), Value::Float(0.2)]), 0.3);
        assert_eq!(f("subf", vec![Value::Float(1.1), Value::Float(0.2)]), 0.9);
        assert_eq!(f("mulf", vec![Value::Float(1.1), Value::int(3)]), 3.3);
        assert_eq!(f("divf", vec![Value::int(10), Value::int(3)]), 3.3333333333333335);
        assert_eq!(f("divf", vec![Value::int(2), Value::int(3)]), 0.6666666666666667);
        assert_eq!(f("add1f", vec![Value::str("1.5")]), 2.5);
    }

    #[test]
    fn integer_ops_are_int64() {
        let v = call("add", vec![Value::str("0x10"), Value::str("1.5"), Value::str(" 3"), Value::str("010"), Value::str("08")]).unwrap();
        assert_eq!((v.type_name(), to_int64(&v)), ("int64".to_string(), 24));
        assert_eq!(call("div", vec![Value::int(1), Value::int(0)]).unwrap_err().render("div"), "error calling div: runtime error: integer divide by zero");
        assert_eq!(call("min", vec![]).unwrap_err().render("min"), "wrong number of args for min: want at least 1 got 0");
    }

    #[test]
    fn seq_and_until() {
        assert_eq!(seq(&[5]).unwrap(), "1 2 3 4 5");
        assert_eq!(seq(&[-2]).unwrap(), "1 0 -1 -2");
        assert_eq!(seq(&[3, 1]).unwrap(), "3 2 1");
        assert_eq!(seq(&[0, 2, 10]).unwrap(), "0 2 4 6 8 10");
        assert_eq!(seq(&[10, -2, 0]).unwrap(), "10 8 6 4 2 0");
        assert_eq!(seq(&[10, 2, 0]).unwrap(), "");
        assert_eq!(seq(&[1, 2, 3, 4]).unwrap(), "");
        assert_eq!(until_step(10, 0, -3).unwrap(), vec![10, 7, 4, 1]);
        assert!(until_step(0, i64::MAX, 1).is_err());
    }

    #[test]
    fn rand_int_stays_in_range() {
        for _ in 0..200 {
            let v = to_int64(&call("randInt", vec![Value::int(-3), Value::int(4)]).unwrap());
            assert!((-3..4).contains(&v), "{v}");
        }
        // Helm: randInt 5 5 → error calling randInt: invalid argument to Intn
        assert_eq!(call("randInt", vec![Value::int(5), Value::int(5)]).unwrap_err().render("randInt"), "error calling randInt: invalid argument to Intn");
    }

    #[test]
    fn atoi_and_octal() {
        assert_eq!(atoi("42"), 42);
        assert_eq!(atoi("4.2"), 0);
        assert_eq!(atoi("99999999999999999999"), i64::MAX);
        assert_eq!(parse_octal("777"), Some(511));
        assert_eq!(parse_octal("8"), None);
    }
}
