//! Sprig's encoding family: `b64enc`, `b64dec`, `b32enc`, `b32dec`, with
//! Go's `encoding/base64` and `encoding/base32` standard encodings. A failed
//! decode is not an error in Sprig: the function returns Go's error text
//! (`illegal base64 data at input byte 4`) as its value, and so do these.
//! The decoders follow Go's exactly (which `\r`/`\n` they skip, where they
//! report the bad byte, the lenient trailing bits). This file must not hold
//! other families' functions; hashes live in `crypto.rs`.
//!
//! Go strings hold any bytes, and so does [`Str`]: a decode that yields
//! invalid UTF-8 keeps its bytes (`b64dec` of random bytes has their length).

use base64::Engine as _;

use super::conv::want_go_str;
use crate::func::{arity, string_arg, FuncError, FuncMap};
use crate::value::{Str, Value};

/// The first argument, once checked to be a string.
fn string_arg_checked(args: &[Value]) -> Result<&Value, FuncError> {
    string_arg(args, 0)?;
    Ok(&args[0])
}

pub fn register(m: &mut FuncMap) {
    m.add("b64enc", |args| {
        arity("b64enc", args, 1)?;
        string_arg(args, 0)?;
        Ok(Value::from(base64::engine::general_purpose::STANDARD.encode(want_go_str(&args[0])?.go_bytes())))
    });
    m.add("b64dec", |args| {
        arity("b64dec", args, 1)?;
        Ok(match base64_decode(want_go_str(string_arg_checked(args)?)?.go_bytes()) {
            Ok(b) => Value::String(Str::from_bytes(b)),
            Err(e) => Value::from(e),
        })
    });
    m.add("b32enc", |args| {
        arity("b32enc", args, 1)?;
        string_arg(args, 0)?;
        Ok(Value::from(base32_encode(want_go_str(&args[0])?.go_bytes())))
    });
    m.add("b32dec", |args| {
        arity("b32dec", args, 1)?;
        Ok(match base32_decode(want_go_str(string_arg_checked(args)?)?.go_bytes()) {
            Ok(b) => Value::String(Str::from_bytes(b)),
            Err(e) => Value::from(e),
        })
    });
}

/// Go's `string(bytes)` as far as a Rust string can hold it.
pub(crate) fn go_string(b: Vec<u8>) -> String {
    crate::value::go_lossy_string(b)
}

fn corrupt(kind: &str, at: usize) -> String {
    format!("illegal {kind} data at input byte {at}")
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_value(c: u8) -> Option<u8> {
    B64.iter().position(|&x| x == c).map(|p| p as u8)
}

/// Go's `base64.StdEncoding.DecodeString`: padded, lenient about the
/// unused low bits, `\r` and `\n` skipped anywhere; the error names the
/// offending byte's offset in the input as Go counts it.
pub(crate) fn base64_decode(src: &[u8]) -> Result<Vec<u8>, String> {
    let err = |at: usize| corrupt("base64", at);
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    loop {
        let mut dbuf = [0u8; 4];
        let mut dlen = 4;
        let mut trailing: Option<usize> = None;
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(err(si - j));
            }
            let c = src[si];
            si += 1;
            if let Some(v) = b64_value(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(err(si - 1));
            }
            // Padding: the end of the data.
            match j {
                0 | 1 => return Err(err(si - 1)),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(err(src.len()));
                    }
                    if src[si] != b'=' {
                        return Err(err(si - 1));
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                trailing = Some(si);
            }
            dlen = j;
            break;
        }
        let val = (u32::from(dbuf[0]) << 18) | (u32::from(dbuf[1]) << 12) | (u32::from(dbuf[2]) << 6) | u32::from(dbuf[3]);
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(at) = trailing {
            return Err(err(at));
        }
        if dlen < 4 {
            return Ok(out);
        }
    }
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Go's `base32.StdEncoding.EncodeToString` (padded).
pub(crate) fn base32_encode(src: &[u8]) -> String {
    let mut out = String::with_capacity(src.len().div_ceil(5) * 8);
    for chunk in src.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(B32[((bits >> (35 - 5 * i)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `base32.StdEncoding.DecodeString`: `\r` and `\n` are removed first
/// (so error offsets count the input without them), then padded quanta of
/// eight are decoded.
pub(crate) fn base32_decode(input: &[u8]) -> Result<Vec<u8>, String> {
    let src: Vec<u8> = input.iter().copied().filter(|&c| c != b'\n' && c != b'\r').collect();
    let err = |at: usize| corrupt("base32", at);
    let olen = src.len();
    let mut rest = &src[..];
    let mut out = Vec::with_capacity(olen / 8 * 5);
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8;
        let mut j = 0;
        while j < 8 {
            let Some((&c, tail)) = rest.split_first() else {
                // The end without padding: Go's padded encoding refuses it.
                return Err(err(olen - j));
            };
            rest = tail;
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 7 {
                    return Err(err(olen));
                }
                for k in 0..7 - j {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(err(olen - rest.len() + k - 1));
                    }
                }
                dlen = j;
                end = true;
                if matches!(dlen, 1 | 3 | 6) {
                    return Err(err(olen - rest.len() - 1));
                }
                break;
            }
            match B32.iter().position(|&x| x == c) {
                Some(v) => dbuf[j] = v as u8,
                None => return Err(err(olen - rest.len() - 1)),
            }
            j += 1;
        }
        let bits = dbuf.iter().fold(0u64, |acc, &v| (acc << 5) | u64::from(v));
        let bytes = [(bits >> 32) as u8, (bits >> 24) as u8, (bits >> 16) as u8, (bits >> 8) as u8, bits as u8];
        let n = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..n]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sprig::crypto_testkit::{call, oracle_lines};

    #[test]
    fn encodings_answer_as_go() {
        // Each expectation is what Helm (Sprig v3.3.0, Go 1.26) rendered.
        let s = |v: Value| v.as_str().unwrap().to_string();
        assert_eq!(s(call("b64enc", &["hello".into()])), "aGVsbG8=");
        assert_eq!(s(call("b64dec", &["aGVsbG8".into()])), "illegal base64 data at input byte 4");
        assert_eq!(s(call("b64dec", &["aGVsbG8=x".into()])), "illegal base64 data at input byte 8");
        assert_eq!(s(call("b64dec", &["aGVsbA==".into()])), "hell");
        assert_eq!(s(call("b64dec", &["aGVsbG9=".into()])), "hello");
        assert_eq!(s(call("b64dec", &["aGV sbG8=".into()])), "illegal base64 data at input byte 3");
        assert_eq!(s(call("b64dec", &["aGV\nsbG8=".into()])), "hello");
        assert_eq!(s(call("b64dec", &["".into()])), "");
        assert_eq!(s(call("b32enc", &["hello wörld".into()])), "NBSWY3DPEB34HNTSNRSA====");
        assert_eq!(s(call("b32dec", &["NBSWY3DP".into()])), "hello");
        assert_eq!(s(call("b32dec", &["NBSWY3D".into()])), "illegal base32 data at input byte 0");
        assert_eq!(s(call("b32dec", &["NBSWY3DP\n".into()])), "hello");
        assert_eq!(s(call("b32dec", &["nbswy3dp".into()])), "illegal base32 data at input byte 0");
        assert_eq!(s(call("b32dec", &["NBSWY3DQ".into()])), "hellp");
        assert_eq!(s(call("b32dec", &["x".into()])), "illegal base32 data at input byte 0");
    }

    #[test]
    fn wrong_arguments_are_gos_errors() {
        let f = crate::sprig::crypto_testkit::try_call("b64enc", &[Value::int(1)]).unwrap_err();
        assert_eq!(f.to_string(), "wrong type for value; expected string; got int");
        let f = crate::sprig::crypto_testkit::try_call("b32dec", &[]).unwrap_err();
        assert_eq!(f.to_string(), "wrong number of args for b32dec: want 1 got 0");
    }

    /// Many generated inputs, decoded by Go and by us, line by line.
    #[test]
    fn decoders_match_go_on_generated_inputs() {
        let mut inputs = Vec::new();
        let alphabet64 = b"QUJD+/z9==\n\r x";
        let alphabet32 = b"MFRGG234==\n\r ma";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..400 {
            let len = (next() % 14) as usize;
            let pick64: String = (0..len).map(|_| alphabet64[(next() % alphabet64.len() as u64) as usize] as char).collect();
            let pick32: String = (0..len + 3).map(|_| alphabet32[(next() % alphabet32.len() as u64) as usize] as char).collect();
            inputs.push(pick64);
            inputs.push(pick32);
        }
        // Results go through b64enc so that newlines and odd bytes survive the trip.
        let ours: Vec<String> = inputs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let f = if i % 2 == 0 { "b64dec" } else { "b32dec" };
                let v = call(f, &[x.as_str().into()]);
                let decoded = match f {
                    "b64dec" => base64_decode(x.as_bytes()).unwrap_or_else(|e| e.into_bytes()),
                    _ => base32_decode(x.as_bytes()).unwrap_or_else(|e| e.into_bytes()),
                };
                if let Ok(s) = std::str::from_utf8(&decoded) {
                    assert_eq!(v.as_str(), Some(s));
                }
                base64::engine::general_purpose::STANDARD.encode(decoded)
            })
            .collect();
        let template = "{{- range $i, $x := .Values.inputs }}{{ if eq (mod $i 2) 0 }}{{ b64dec $x | b64enc }}{{ else }}{{ b32dec $x | b64enc }}{{ end }}\n{{ end }}";
        let Some(go) = oracle_lines(template, serde_json::json!({ "inputs": inputs })) else { return };
        for (i, (g, o)) in go.iter().zip(&ours).enumerate() {
            assert_eq!(g, o, "input {:?}", inputs[i]);
        }
        assert_eq!(go.len(), ours.len());
    }
}
