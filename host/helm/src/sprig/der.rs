//! The little DER (and PEM) that Sprig's key and certificate functions need:
//! writing TLVs the way Go's `encoding/asn1` does, reading them back, and
//! Go's `encoding/pem` block format (64-column base64). It must not grow
//! into a general ASN.1 library: `certs.rs` says what the structures are.

use base64::Engine as _;

pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OID: u8 = 0x06;
pub const BOOLEAN: u8 = 0x01;
pub const UTF8_STRING: u8 = 0x0c;
pub const PRINTABLE_STRING: u8 = 0x13;
pub const UTC_TIME: u8 = 0x17;
pub const GENERALIZED_TIME: u8 = 0x18;

/// One TLV.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A constructed TLV of the concatenated parts.
pub fn cons(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    cons(SEQUENCE, parts)
}

/// An INTEGER of a non-negative big-endian magnitude, minimally encoded.
pub fn uint(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let first = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len());
        &magnitude[first..]
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.is_empty() || trimmed[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(INTEGER, &content)
}

pub fn small_int(i: u64) -> Vec<u8> {
    uint(&i.to_be_bytes())
}

pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut content = Vec::new();
    let mut push = |mut v: u64| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        tmp.reverse();
        content.extend_from_slice(&tmp);
    };
    push(arcs[0] * 40 + arcs[1]);
    for &a in &arcs[2..] {
        push(a);
    }
    tlv(OID, &content)
}

pub fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut c = vec![0u8];
    c.extend_from_slice(bytes);
    tlv(BIT_STRING, &c)
}

pub fn octets(bytes: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, bytes)
}

/// A TLV read from DER: its tag, its content and all of it.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
}

/// Reads one TLV from the front of `input`; the rest follows.
pub fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags: nothing here uses them
    }
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = input.get(2..2 + n)?;
        (bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)), 2 + n)
    };
    let end = header.checked_add(len)?;
    let raw = input.get(..end)?;
    Some((Tlv { tag, content: &raw[header..], raw }, &input[end..]))
}

/// Reads a TLV that must have `tag`.
pub fn expect(input: &[u8], tag: u8) -> Option<(Tlv<'_>, &[u8])> {
    let (t, rest) = read(input)?;
    (t.tag == tag).then_some((t, rest))
}

/// All the TLVs in `content`, which must hold nothing else.
pub fn items(mut content: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (t, rest) = read(content)?;
        out.push(t);
        content = rest;
    }
    Some(out)
}

/// Go's `pem.EncodeToMemory`.
pub fn pem_encode(kind: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {kind}-----\n");
    for line in b64.as_bytes().chunks(64) {
        // Base64 is ASCII.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {kind}-----\n"));
    out
}

/// Go's `pem.Decode`, for the first block: its type and bytes. Blocks
/// with headers (`Proc-Type: …`) are read past their headers.
pub fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let mut rest = text;
    loop {
        let start = rest.find("-----BEGIN ")?;
        let after = &rest[start + 11..];
        let type_end = after.find("-----")?;
        let kind = &after[..type_end];
        let body_start = &after[type_end + 5..];
        // The BEGIN line must end there.
        let body_start = body_start.strip_prefix("\r\n").or_else(|| body_start.strip_prefix('\n'));
        let end_marker = format!("-----END {kind}-----");
        if let Some(body) = body_start {
            if let Some(end) = body.find(&end_marker) {
                let mut b64 = String::new();
                for line in body[..end].lines() {
                    if line.contains(':') {
                        continue; // a header
                    }
                    b64.extend(line.chars().filter(|c| !c.is_whitespace()));
                }
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
                    return Some((kind.to_string(), der));
                }
            }
        }
        rest = &rest[start + 11..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_oids_are_minimal_der() {
        assert_eq!(small_int(0), [2, 1, 0]);
        assert_eq!(small_int(128), [2, 2, 0, 128]);
        assert_eq!(uint(&[0, 0, 1]), [2, 1, 1]);
        assert_eq!(oid(&[2, 5, 4, 3]), [6, 3, 0x55, 4, 3]);
        assert_eq!(oid(&[1, 2, 840, 113549, 1, 1, 11]), [6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 11]);
        let long = tlv(OCTET_STRING, &[7; 300]);
        assert_eq!(&long[..4], [4, 0x82, 1, 44]);
        let (t, rest) = read(&long).unwrap();
        assert_eq!((t.tag, t.content.len(), rest.len()), (4, 300, 0));
        assert!(read(&long[..100]).is_none());
    }

    #[test]
    fn pem_round_trips() {
        let p = pem_encode("TEST", &[1u8; 100]);
        assert!(p.starts_with("-----BEGIN TEST-----\n") && p.ends_with("-----END TEST-----\n"));
        assert_eq!(p.lines().nth(1).unwrap().len(), 64);
        assert_eq!(pem_decode(&format!("junk\n{p}")).unwrap(), ("TEST".to_string(), vec![1u8; 100]));
        assert!(pem_decode("no pem here").is_none());
    }
}
