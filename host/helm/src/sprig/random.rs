//! Sprig's random family: `randAlphaNum`, `randAlpha`, `randNumeric`,
//! `randAscii` (goutils' crypto-random strings: ASCII letters and digits,
//! letters, digits, or the printable ASCII range 32–126), `randInt`
//! (`min + Intn(max-min)`), `randBytes` (base64 of N random bytes) and
//! `uuidv4`. All draw from the operating system's CSPRNG. `shuffle` is the
//! strings family's, not this file's.
//!
//! Knowing difference from Go: a length above [`MAX_RANDOM_LEN`] is refused
//! with an error instead of allocated, so a template cannot exhaust memory.

use base64::Engine as _;

use crate::func::{arity, FuncError, FuncMap};
use crate::value::Value;

use super::crypto::int_arg;

/// The longest random string or byte run one call makes.
pub const MAX_RANDOM_LEN: i64 = 1 << 24;

const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALPHANUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const NUMERIC: &[u8] = b"0123456789";

pub fn register(m: &mut FuncMap) {
    for (name, alphabet) in [("randAlphaNum", Alphabet::Of(ALPHANUM)), ("randAlpha", Alphabet::Of(ALPHA)), ("randNumeric", Alphabet::Of(NUMERIC)), ("randAscii", Alphabet::Ascii)] {
        m.add(name, move |args| {
            arity(name, args, 1)?;
            let n = length(name, int_arg(args, 0, "int")?)?;
            random_string(n, alphabet).map(Value::from)
        });
    }
    m.add("randBytes", |args| {
        arity("randBytes", args, 1)?;
        let n = int_arg(args, 0, "int")?;
        if n < 0 {
            return Err(FuncError::call("runtime error: makeslice: len out of range"));
        }
        let mut buf = vec![0u8; length("randBytes", n)?];
        fill(&mut buf)?;
        Ok(Value::from(base64::engine::general_purpose::STANDARD.encode(buf)))
    });
    m.add("randInt", |args| {
        arity("randInt", args, 2)?;
        let (min, max) = (int_arg(args, 0, "int")?, int_arg(args, 1, "int")?);
        // Go's int arithmetic wraps.
        let n = max.wrapping_sub(min);
        if n <= 0 {
            return Err(FuncError::call("invalid argument to Intn"));
        }
        Ok(Value::int(uniform(n as u64)? as i64 + min))
    });
    m.add("uuidv4", |args| {
        arity("uuidv4", args, 0)?;
        uuid_v4().map(Value::from)
    });
}

#[derive(Clone, Copy)]
enum Alphabet {
    Of(&'static [u8]),
    /// Code points 32 to 126.
    Ascii,
}

/// goutils answers a negative length with an error that Sprig drops: "".
fn length(name: &str, n: i64) -> Result<usize, FuncError> {
    if n > MAX_RANDOM_LEN {
        return Err(FuncError::call(format!("{name}: a length of {n} is more than the {MAX_RANDOM_LEN} this engine makes")));
    }
    Ok(n.max(0) as usize)
}

fn fill(buf: &mut [u8]) -> Result<(), FuncError> {
    getrandom::getrandom(buf).map_err(|e| FuncError::call(format!("reading random bytes: {e}")))
}

/// A uniform draw from `0..n` (n > 0), by rejection.
fn uniform(n: u64) -> Result<u64, FuncError> {
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let mut b = [0u8; 8];
        fill(&mut b)?;
        let x = u64::from_le_bytes(b);
        if x < zone {
            return Ok(x % n);
        }
    }
}

fn random_string(n: usize, alphabet: Alphabet) -> Result<String, FuncError> {
    let chars: &[u8] = match alphabet {
        Alphabet::Of(a) => a,
        Alphabet::Ascii => &ASCII_PRINTABLE,
    };
    // One random byte per character, rejecting the bytes that would bias
    // the draw; drawn in batches.
    let limit = 256 - (256 % chars.len());
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 256];
    while out.len() < n {
        fill(&mut buf)?;
        for &b in &buf {
            if out.len() == n {
                break;
            }
            if usize::from(b) < limit {
                out.push(chars[usize::from(b) % chars.len()] as char);
            }
        }
    }
    Ok(out)
}

const ASCII_PRINTABLE: [u8; 95] = {
    let mut a = [0u8; 95];
    let mut i = 0;
    while i < 95 {
        a[i] = 32 + i as u8;
        i += 1;
    }
    a
};

/// A random (version 4, variant 10) UUID as google/uuid prints it.
fn uuid_v4() -> Result<String, FuncError> {
    let mut b = [0u8; 16];
    fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = super::crypto::hex(&b);
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sprig::crypto_testkit::{call, oracle, try_call};

    fn s(name: &str, args: &[Value]) -> String {
        call(name, args).as_str().unwrap().to_string()
    }

    #[test]
    fn random_strings_have_their_length_and_alphabet() {
        type Check = fn(char) -> bool;
        let cases: [(&str, Check); 4] = [
            ("randAlphaNum", |c| c.is_ascii_alphanumeric()),
            ("randAlpha", |c| c.is_ascii_alphabetic()),
            ("randNumeric", |c| c.is_ascii_digit()),
            ("randAscii", |c| (' '..='~').contains(&c)),
        ];
        for (name, ok) in cases {
            let x = s(name, &[Value::int(2000)]);
            assert_eq!(x.len(), 2000, "{name}");
            assert!(x.chars().all(ok), "{name}: {x}");
            // 2000 draws from at least 10 symbols leave none unseen.
            let distinct: std::collections::BTreeSet<char> = x.chars().collect();
            let want = match name {
                "randAlphaNum" => 62,
                "randAlpha" => 52,
                "randNumeric" => 10,
                _ => 95,
            };
            assert_eq!(distinct.len(), want, "{name}");
            assert_ne!(x, s(name, &[Value::int(2000)]), "{name} repeats itself");
            // Helm: a negative or zero length is "".
            assert_eq!(s(name, &[Value::int(-1)]), "");
            assert_eq!(s(name, &[Value::int(0)]), "");
        }
    }

    #[test]
    fn rand_bytes_is_base64_of_n_bytes() {
        let b = s("randBytes", &[Value::int(33)]);
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(&b).unwrap().len(), 33);
        assert_eq!(s("randBytes", &[Value::int(0)]), "");
        assert_eq!(try_call("randBytes", &[Value::int(-1)]).unwrap_err().render("randBytes"), "error calling randBytes: runtime error: makeslice: len out of range");
    }

    #[test]
    fn rand_int_stays_in_range_and_refuses_empty_ranges() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..400 {
            let v = call("randInt", &[Value::int(-5), Value::int(3)]);
            assert_eq!(v.type_name(), "int");
            let Value::Int(i, _) = v else { unreachable!() };
            assert!((-5..3).contains(&i));
            seen.insert(i);
        }
        assert_eq!(seen.len(), 8);
        assert_eq!(try_call("randInt", &[Value::int(5), Value::int(5)]).unwrap_err().render("randInt"), "error calling randInt: invalid argument to Intn");
        assert!(try_call("randInt", &[Value::int(3), Value::int(1)]).is_err());
    }

    #[test]
    fn uuids_are_version_4() {
        let u = s("uuidv4", &[]);
        assert_eq!(u.len(), 36);
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(u.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(&u[14..15], "4");
        assert!("89ab".contains(&u[19..20]));
        assert_ne!(u, s("uuidv4", &[]));
    }

    #[test]
    fn integer_parameters_take_ints_only() {
        // Helm's words for `randAlpha (int64 5)`, `randAlpha .Values.missing`, `randInt 1 2.5`.
        let e = |args: &[Value]| try_call("randAlpha", args).unwrap_err().to_string();
        assert_eq!(e(&[Value::int64(5)]), "wrong type for value; expected int; got int64");
        assert_eq!(e(&[Value::Nil]), "wrong type for value; expected int; got interface {}");
        assert_eq!(e(&[Value::Float(5.0)]), "wrong type for value; expected int; got float64");
    }

    #[test]
    fn huge_lengths_are_refused() {
        assert!(try_call("randAlpha", &[Value::int(1 << 40)]).unwrap_err().to_string().contains("more than"));
    }

    /// Go's own outputs have the shapes the tests above demand of ours.
    #[test]
    fn go_shapes_agree() {
        let Some(go) = oracle("{{ randAlphaNum 40 }}|{{ randNumeric 7 | len }}|{{ uuidv4 | len }}|{{ randAlpha -2 }}|{{ randBytes 5 | b64dec | len }}", serde_json::json!({})) else { return };
        let parts: Vec<&str> = go.split('|').collect();
        assert!(parts[0].len() == 40 && parts[0].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(&parts[1..], ["7", "36", "", "5"]);
    }
}
