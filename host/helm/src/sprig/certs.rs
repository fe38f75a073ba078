//! Sprig's keys and certificates: `genPrivateKey`, `buildCustomCert`,
//! `genCA`, `genCAWithKey`, `genSelfSignedCert(WithKey)`,
//! `genSignedCert(WithKey)`. Certificates come out as Go's `crypto/x509`
//! writes them for Sprig's templates: v3, a random serial below 2^128,
//! SHA-256 signatures (RSA PKCS#1 v1.5, ECDSA, or Ed25519 by the signing
//! key), the subject as one CommonName (PrintableString when Go would,
//! else UTF8String), validity from now for `days`×24h (Go's wrapping
//! Duration), and the extensions in Go's order: key usage (critical),
//! server+client auth, basic constraints (critical), a subject key id
//! (truncated SHA-256) for CAs, an authority key id from the issuer's, and
//! SANs (DNS names, then IPs; critical when the subject is empty). Keys
//! come out in Sprig's PEM blocks: `RSA PRIVATE KEY` (PKCS#1),
//! `EC PRIVATE KEY` (SEC 1), `PRIVATE KEY` (PKCS#8, Ed25519).
//!
//! The certificate value is a [`Certificate`] object, `sprig.certificate`
//! to `printf "%T"`, with fields `Cert` and `Key`.
//!
//! DSA keys are generated (L2048N256) and read as Sprig does, and refused
//! for certificates with Go's errors. Knowing differences from Go: ECDSA
//! P-521 keys are refused with an error; the wording of errors about
//! malformed DER is ours, not `encoding/asn1`'s.

use std::collections::BTreeMap;
use std::sync::Arc;

use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use sha2::Digest as _;

use crate::func::{arity, string_arg, FuncError, FuncMap};
use crate::value::{Member, Object, Value};

use super::crypto::{int_arg, wrong_type};
use super::der::{self, Tlv};

pub fn register(m: &mut FuncMap) {
    m.add("genPrivateKey", |args| {
        arity("genPrivateKey", args, 1)?;
        Ok(Value::from(generate_private_key(string_arg(args, 0)?)))
    });
    m.add("buildCustomCert", |args| {
        arity("buildCustomCert", args, 2)?;
        build_custom_cert(string_arg(args, 0)?, string_arg(args, 1)?).map_err(FuncError::call)
    });
    m.add("genCA", |args| {
        arity("genCA", args, 2)?;
        let (cn, days) = (string_arg(args, 0)?, int_arg(args, 1, "int")?);
        let key = PrivKey::rsa(2048).map_err(FuncError::call)?;
        gen_ca(cn, days, key).map_err(FuncError::call)
    });
    m.add("genCAWithKey", |args| {
        arity("genCAWithKey", args, 3)?;
        let (cn, days, pem) = (string_arg(args, 0)?, int_arg(args, 1, "int")?, string_arg(args, 2)?);
        let key = parse_private_key_pem(pem).map_err(|e| FuncError::call(format!("parsing private key: {e}")))?;
        gen_ca(cn, days, key).map_err(FuncError::call)
    });
    m.add("genSelfSignedCert", |args| {
        arity("genSelfSignedCert", args, 4)?;
        let (cn, ips, dns, days) = (string_arg(args, 0)?, list_arg(args, 1)?, list_arg(args, 2)?, int_arg(args, 3, "int")?);
        let key = PrivKey::rsa(2048).map_err(FuncError::call)?;
        gen_self_signed(cn, ips, dns, days, key).map_err(FuncError::call)
    });
    m.add("genSelfSignedCertWithKey", |args| {
        arity("genSelfSignedCertWithKey", args, 5)?;
        let (cn, ips, dns, days, pem) = (string_arg(args, 0)?, list_arg(args, 1)?, list_arg(args, 2)?, int_arg(args, 3, "int")?, string_arg(args, 4)?);
        let key = parse_private_key_pem(pem).map_err(|e| FuncError::call(format!("parsing private key: {e}")))?;
        gen_self_signed(cn, ips, dns, days, key).map_err(FuncError::call)
    });
    m.add("genSignedCert", |args| {
        arity("genSignedCert", args, 5)?;
        let (cn, ips, dns, days, ca) = (string_arg(args, 0)?, list_arg(args, 1)?, list_arg(args, 2)?, int_arg(args, 3, "int")?, cert_arg(args, 4)?);
        let key = PrivKey::rsa(2048).map_err(FuncError::call)?;
        gen_signed(cn, ips, dns, days, &ca, key).map_err(FuncError::call)
    });
    m.add("genSignedCertWithKey", |args| {
        arity("genSignedCertWithKey", args, 6)?;
        let (cn, ips, dns, days, ca, pem) =
            (string_arg(args, 0)?, list_arg(args, 1)?, list_arg(args, 2)?, int_arg(args, 3, "int")?, cert_arg(args, 4)?, string_arg(args, 5)?);
        let key = parse_private_key_pem(pem).map_err(|e| FuncError::call(format!("parsing private key: {e}")))?;
        gen_signed(cn, ips, dns, days, &ca, key).map_err(FuncError::call)
    });
}

/// Sprig's `certificate` struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub cert: String,
    pub key: String,
}

impl Object for Certificate {
    fn type_name(&self) -> String {
        "sprig.certificate".into()
    }

    fn member(&self, name: &str) -> Option<Member> {
        match name {
            "Cert" => Some(Member::Field(Value::from(self.cert.as_str()))),
            "Key" => Some(Member::Field(Value::from(self.key.as_str()))),
            _ => None,
        }
    }

    fn format(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }

    fn marshal(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Cert".to_string(), Value::from(self.cert.as_str()));
        m.insert("Key".to_string(), Value::from(self.key.as_str()));
        Value::map(m)
    }
}

impl Certificate {
    fn value(self) -> Value {
        Value::Object(Arc::new(self))
    }
}

/// A `[]interface{}` parameter: a nil is an empty list; a `[]string` is
/// Go's wrong-type error. (Go refuses a missing value here but takes the
/// literal `nil`; a nil [`Value`] cannot tell them apart, so both are taken.)
fn list_arg(args: &[Value], i: usize) -> Result<Vec<Value>, FuncError> {
    match args.get(i) {
        Some(Value::Nil) => Ok(Vec::new()),
        Some(Value::List(l)) if l.elem == "interface {}" => Ok(l.items().to_vec()),
        Some(other) => Err(FuncError::wrong_type("[]interface {}", other)),
        None => Err(FuncError::argument(format!("missing argument {}", i + 1))),
    }
}

/// A `sprig.certificate` parameter.
fn cert_arg(args: &[Value], i: usize) -> Result<Certificate, FuncError> {
    match args.get(i) {
        Some(Value::Object(o)) if o.type_name() == "sprig.certificate" => {
            let field = |name: &str| match o.member(name) {
                Some(Member::Field(Value::String(s))) => s.to_string(),
                _ => String::new(),
            };
            Ok(Certificate { cert: field("Cert"), key: field("Key") })
        }
        Some(other) => Err(wrong_type("sprig.certificate", other)),
        None => Err(FuncError::argument(format!("missing argument {}", i + 1))),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Curve {
    fn oid(self) -> Vec<u8> {
        match self {
            Curve::P256 => der::oid(&[1, 2, 840, 10045, 3, 1, 7]),
            Curve::P384 => der::oid(&[1, 3, 132, 0, 34]),
        }
    }

    fn size(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }

    fn signing(self) -> &'static ring::signature::EcdsaSigningAlgorithm {
        match self {
            Curve::P256 => &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            Curve::P384 => &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        }
    }
}

/// A private key of one of the kinds Sprig makes or reads.
enum PrivKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ec { curve: Curve, private: Vec<u8>, public: Vec<u8> },
    Ed25519 { seed: [u8; 32], public: Vec<u8> },
    /// Go can keep and print DSA keys but not sign or certify them.
    Dsa(Box<Dsa>),
}

/// A DSA key's numbers, big-endian.
struct Dsa {
    p: Vec<u8>,
    q: Vec<u8>,
    g: Vec<u8>,
    y: Vec<u8>,
    x: Vec<u8>,
}

impl Dsa {
    /// Go's `dsa.GenerateParameters(…, L2048N256)` and `dsa.GenerateKey`.
    fn generate() -> Result<Dsa, String> {
        use num_bigint_dig::BigUint;
        const L: usize = 2048;
        let random = |n: usize| -> Result<Vec<u8>, String> {
            let mut b = vec![0u8; n];
            getrandom::getrandom(&mut b).map_err(|e| e.to_string())?;
            Ok(b)
        };
        let one = BigUint::from(1u32);
        let (p, q) = 'primes: loop {
            let mut qb = random(32)?;
            qb[31] |= 1;
            qb[0] |= 0x80;
            let q = BigUint::from_bytes_be(&qb);
            if !num_bigint_dig::prime::probably_prime(&q, 64) {
                continue;
            }
            for _ in 0..4 * L {
                let mut pb = random(L / 8)?;
                pb[L / 8 - 1] |= 1;
                pb[0] |= 0x80;
                let p = BigUint::from_bytes_be(&pb);
                // Go's p - (p mod q - 1), so that p ≡ 1 (mod q).
                let r = &p % &q;
                let p = p + &one - r;
                if p.bits() < L || !num_bigint_dig::prime::probably_prime(&p, 64) {
                    continue;
                }
                break 'primes (p, q);
            }
        };
        let e = (&p - &one) / &q;
        let mut h = BigUint::from(2u32);
        let g = loop {
            let g = h.modpow(&e, &p);
            if g != one {
                break g;
            }
            h += &one;
        };
        let x = loop {
            let x = BigUint::from_bytes_be(&random(q.bits() / 8)?);
            if x != BigUint::from(0u32) && x < q {
                break x;
            }
        };
        let y = g.modpow(&x, &p);
        Ok(Dsa { p: p.to_bytes_be(), q: q.to_bytes_be(), g: g.to_bytes_be(), y: y.to_bytes_be(), x: x.to_bytes_be() })
    }

    /// Sprig's `DSAKeyFormat`: version 0, P, Q, G, Y, X.
    fn der(&self) -> Vec<u8> {
        der::seq(&[&der::small_int(0), &der::uint(&self.p), &der::uint(&self.q), &der::uint(&self.g), &der::uint(&self.y), &der::uint(&self.x)])
    }

    fn parse(bytes: &[u8]) -> Result<Dsa, String> {
        let bad = || "asn1: structure error: malformed DSA private key".to_string();
        let (outer, _) = der::expect(bytes, der::SEQUENCE).ok_or_else(bad)?;
        let items = der::items(outer.content).ok_or_else(bad)?;
        if items.len() < 6 || items[..6].iter().any(|t| t.tag != der::INTEGER) {
            return Err(bad());
        }
        let n = |i: usize| items[i].content.to_vec();
        Ok(Dsa { p: n(1), q: n(2), g: n(3), y: n(4), x: n(5) })
    }
}

const ED25519_OID: &[u64] = &[1, 3, 101, 112];
const RSA_OID: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
const EC_OID: &[u64] = &[1, 2, 840, 10045, 2, 1];

impl PrivKey {
    /// A new RSA key with e = 65537, from two `bits/2`-bit primes.
    fn rsa(bits: usize) -> Result<PrivKey, String> {
        let fail = |e: &dyn std::fmt::Display| format!("error generating rsa key: {e}");
        loop {
            let p = rsa_prime(bits / 2).map_err(|e| fail(&e))?;
            let q = rsa_prime(bits - bits / 2).map_err(|e| fail(&e))?;
            if p == q || (&p * &q).bits() != bits {
                continue;
            }
            let key = rsa::RsaPrivateKey::from_p_q(p, q, rsa::BigUint::from(65_537u32)).map_err(|e| fail(&e))?;
            return Ok(PrivKey::Rsa(Box::new(key)));
        }
    }

    fn ecdsa_p256() -> Result<PrivKey, String> {
        let rng = ring::rand::SystemRandom::new();
        let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(&ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| "failed to generate private key: ecdsa".to_string())?;
        parse_pkcs8(doc.as_ref())
    }

    fn ed25519() -> Result<PrivKey, String> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| format!("failed to generate private key: {e}"))?;
        ed25519_from_seed(seed)
    }

    /// Sprig's `pemBlockForKey`.
    fn pem(&self) -> Result<String, String> {
        Ok(match self {
            PrivKey::Rsa(k) => der::pem_encode("RSA PRIVATE KEY", k.to_pkcs1_der().map_err(|e| format!("error pem-encoding key: {e}"))?.as_bytes()),
            PrivKey::Ec { curve, private, public } => der::pem_encode("EC PRIVATE KEY", &sec1(*curve, private, public, true)),
            PrivKey::Ed25519 { seed, .. } => {
                let doc = der::seq(&[&der::small_int(0), &der::seq(&[&der::oid(ED25519_OID)]), &der::octets(&der::octets(seed))]);
                der::pem_encode("PRIVATE KEY", &doc)
            }
            PrivKey::Dsa(k) => der::pem_encode("DSA PRIVATE KEY", &k.der()),
        })
    }

    /// The subjectPublicKey bits (what the key id hashes) and the whole
    /// SubjectPublicKeyInfo.
    fn public(&self) -> (Vec<u8>, Vec<u8>) {
        let (alg, bits) = match self {
            PrivKey::Rsa(k) => {
                let bits = der::seq(&[&der::uint(&k.n().to_bytes_be()), &der::uint(&k.e().to_bytes_be())]);
                (der::seq(&[&der::oid(RSA_OID), &der::tlv(der::NULL, &[])]), bits)
            }
            PrivKey::Ec { curve, public, .. } => (der::seq(&[&der::oid(EC_OID), &curve.oid()]), public.clone()),
            PrivKey::Ed25519 { public, .. } => (der::seq(&[&der::oid(ED25519_OID)]), public.clone()),
            // Never certified: `create` refuses DSA keys first.
            PrivKey::Dsa(k) => (der::seq(&[&der::oid(&[1, 2, 840, 10040, 4, 1])]), der::uint(&k.y)),
        };
        let spki = der::seq(&[&alg, &der::bit_string(&bits)]);
        (bits, spki)
    }

    /// The AlgorithmIdentifier Go picks for signing with this key.
    fn signature_algorithm(&self) -> Vec<u8> {
        match self {
            PrivKey::Rsa(_) => der::seq(&[&der::oid(&[1, 2, 840, 113549, 1, 1, 11]), &der::tlv(der::NULL, &[])]),
            PrivKey::Ec { curve: Curve::P256, .. } => der::seq(&[&der::oid(&[1, 2, 840, 10045, 4, 3, 2])]),
            PrivKey::Ec { curve: Curve::P384, .. } => der::seq(&[&der::oid(&[1, 2, 840, 10045, 4, 3, 3])]),
            PrivKey::Ed25519 { .. } | PrivKey::Dsa(_) => der::seq(&[&der::oid(ED25519_OID)]),
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let fail = |e: &dyn std::fmt::Display| format!("error creating certificate: {e}");
        match self {
            PrivKey::Rsa(k) => k.sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &sha2::Sha256::digest(message)).map_err(|e| fail(&e)),
            PrivKey::Ec { curve, private, public } => {
                let rng = ring::rand::SystemRandom::new();
                let pair = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(curve.signing(), private, public, &rng).map_err(|e| fail(&e))?;
                pair.sign(&rng, message).map(|s| s.as_ref().to_vec()).map_err(|e| fail(&e))
            }
            PrivKey::Ed25519 { seed, .. } => {
                let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed).map_err(|e| fail(&e))?;
                Ok(pair.sign(message).as_ref().to_vec())
            }
            PrivKey::Dsa(_) => Err(NOT_A_SIGNER.into()),
        }
    }
}

/// The odd primes below 2^14, for sieving candidates.
fn small_primes() -> &'static [u32] {
    static PRIMES: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    PRIMES.get_or_init(|| {
        const LIMIT: usize = 1 << 14;
        let mut composite = vec![false; LIMIT];
        let mut out = Vec::new();
        for n in 3..LIMIT {
            if composite[n] {
                continue;
            }
            if n % 2 == 1 {
                out.push(n as u32);
            }
            let mut m = n * n;
            while m < LIMIT {
                composite[m] = true;
                m += n;
            }
        }
        out
    })
}

/// A random prime of exactly `bits` bits (top two bits set, so two of
/// them make a modulus of twice the size) with p - 1 prime to 65537: an
/// incremental search from a random odd start, sieved by the small primes,
/// then Miller-Rabin (5 random bases and base 2) and a strong Lucas test,
/// which is Baillie-PSW and more, as FIPS 186-5 asks for these sizes. The
/// `rsa` crate's own generation is several times slower.
fn rsa_prime(bits: usize) -> Result<rsa::BigUint, getrandom::Error> {
    use num_bigint_dig::prime::{probably_prime_lucas, probably_prime_miller_rabin};
    use num_traits::ToPrimitive as _;
    let small = small_primes();
    let bytes = bits.div_ceil(8);
    let extra = bytes * 8 - bits;
    loop {
        let mut b = vec![0u8; bytes];
        getrandom::getrandom(&mut b)?;
        b[0] &= 0xff >> extra;
        b[0] |= 0xc0 >> extra;
        if extra == 7 {
            b[1] |= 0x80;
        }
        b[bytes - 1] |= 1;
        let base = rsa::BigUint::from_bytes_be(&b);
        let residues: Vec<u32> = small.iter().map(|&p| (&base % p).to_u32().unwrap_or(0)).collect();
        let mut delta = 0u32;
        'search: while delta < 1 << 20 {
            let d = delta;
            delta += 2;
            for (r, &p) in residues.iter().zip(small) {
                if (r + d % p).is_multiple_of(p) {
                    continue 'search;
                }
            }
            let candidate = &base + d;
            if candidate.bits() != bits {
                break;
            }
            if (&candidate % 65_537u32).to_u32() == Some(1) {
                continue;
            }
            if probably_prime_miller_rabin(&candidate, 6, true) && probably_prime_lucas(&candidate) {
                return Ok(candidate);
            }
        }
    }
}

const NOT_A_SIGNER: &str = "error creating certificate: x509: certificate private key does not implement crypto.Signer";

fn ed25519_from_seed(seed: [u8; 32]) -> Result<PrivKey, String> {
    use ring::signature::KeyPair as _;
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|e| format!("ed25519 key: {e}"))?;
    Ok(PrivKey::Ed25519 { seed, public: pair.public_key().as_ref().to_vec() })
}

/// SEC 1 `ECPrivateKey`, as Go's `MarshalECPrivateKey` writes it (with
/// the curve) or as PKCS#8 wraps it.
fn sec1(curve: Curve, private: &[u8], public: &[u8], with_curve: bool) -> Vec<u8> {
    let mut padded = vec![0u8; curve.size().saturating_sub(private.len())];
    padded.extend_from_slice(private);
    let mut parts = vec![der::small_int(1), der::octets(&padded)];
    if with_curve {
        parts.push(der::tlv(0xa0, &curve.oid()));
    }
    parts.push(der::tlv(0xa1, &der::bit_string(public)));
    der::tlv(der::SEQUENCE, &parts.concat())
}

fn malformed(what: &str) -> String {
    format!("x509: malformed {what}")
}

fn curve_of(oid_tlv: &Tlv<'_>) -> Result<Curve, String> {
    if oid_tlv.raw == Curve::P256.oid() {
        Ok(Curve::P256)
    } else if oid_tlv.raw == Curve::P384.oid() {
        Ok(Curve::P384)
    } else {
        Err("x509: unknown elliptic curve (this engine signs with P-256 and P-384 only)".into())
    }
}

/// SEC 1 `ECPrivateKey`; `curve` when the wrapper (PKCS#8) named it.
fn parse_sec1(bytes: &[u8], curve: Option<Curve>) -> Result<PrivKey, String> {
    let bad = || "x509: failed to parse EC private key: malformed ECPrivateKey".to_string();
    let (outer, _) = der::expect(bytes, der::SEQUENCE).ok_or_else(bad)?;
    let items = der::items(outer.content).ok_or_else(bad)?;
    let private = items.get(1).filter(|t| t.tag == der::OCTET_STRING).ok_or_else(bad)?.content.to_vec();
    let mut curve = curve;
    let mut public = None;
    for t in &items[2..] {
        match t.tag {
            0xa0 => curve = Some(curve_of(&der::expect(t.content, der::OID).ok_or_else(bad)?.0)?),
            0xa1 => {
                let (bits, _) = der::expect(t.content, der::BIT_STRING).ok_or_else(bad)?;
                public = Some(bits.content.get(1..).ok_or_else(bad)?.to_vec());
            }
            _ => {}
        }
    }
    let curve = curve.ok_or_else(bad)?;
    let public = public.ok_or_else(|| "x509: EC private keys without their public key are not supported by this engine".to_string())?;
    if private.len() > curve.size() {
        return Err(bad());
    }
    let mut padded = vec![0u8; curve.size() - private.len()];
    padded.extend_from_slice(&private);
    Ok(PrivKey::Ec { curve, private: padded, public })
}

/// PKCS#8 `PrivateKeyInfo` of an RSA, EC or Ed25519 key.
fn parse_pkcs8(bytes: &[u8]) -> Result<PrivKey, String> {
    let bad = || malformed("PKCS#8 private key");
    let (outer, _) = der::expect(bytes, der::SEQUENCE).ok_or_else(bad)?;
    let items = der::items(outer.content).ok_or_else(bad)?;
    let alg = items.get(1).filter(|t| t.tag == der::SEQUENCE).ok_or_else(bad)?;
    let alg_items = der::items(alg.content).ok_or_else(bad)?;
    let alg_oid = alg_items.first().filter(|t| t.tag == der::OID).ok_or_else(bad)?;
    let key = items.get(2).filter(|t| t.tag == der::OCTET_STRING).ok_or_else(bad)?.content;
    if alg_oid.raw == der::oid(RSA_OID) {
        let k = rsa::RsaPrivateKey::from_pkcs1_der(key).map_err(|e| format!("x509: failed to parse RSA private key embedded in PKCS#8: {e}"))?;
        Ok(PrivKey::Rsa(Box::new(k)))
    } else if alg_oid.raw == der::oid(EC_OID) {
        let curve = curve_of(alg_items.get(1).ok_or_else(bad)?)?;
        parse_sec1(key, Some(curve))
    } else if alg_oid.raw == der::oid(ED25519_OID) {
        let (seed, _) = der::expect(key, der::OCTET_STRING).ok_or_else(bad)?;
        let seed: [u8; 32] = seed.content.try_into().map_err(|_| "x509: invalid Ed25519 private key length".to_string())?;
        ed25519_from_seed(seed)
    } else {
        Err("x509: PKCS#8 wrapping contained private key with unknown algorithm".into())
    }
}

/// Sprig's `parsePrivateKeyPEM`, with its words.
fn parse_private_key_pem(text: &str) -> Result<PrivKey, String> {
    let (kind, bytes) = der::pem_decode(text).ok_or("no PEM data in input")?;
    if kind == "PRIVATE KEY" {
        return parse_pkcs8(&bytes).map_err(|e| format!("decoding PEM as PKCS#8: {e}"));
    }
    let Some(family) = kind.strip_suffix(" PRIVATE KEY") else {
        return Err(format!("no private key data in PEM block of type {kind}"));
    };
    match family {
        "RSA" => rsa::RsaPrivateKey::from_pkcs1_der(&bytes)
            .map(|k| PrivKey::Rsa(Box::new(k)))
            .map_err(|e| format!("parsing RSA private key from PEM: {e}")),
        "EC" => parse_sec1(&bytes, None).map_err(|e| format!("parsing EC private key from PEM: {e}")),
        "DSA" => Dsa::parse(&bytes).map(|k| PrivKey::Dsa(Box::new(k))).map_err(|e| format!("parsing DSA private key from PEM: {e}")),
        _ => Err(format!("invalid private key type {kind}")),
    }
}

/// Sprig's `genPrivateKey`: a PEM block, or the failure as text.
fn generate_private_key(kind: &str) -> String {
    let key = match kind {
        "" | "rsa" => PrivKey::rsa(4096),
        "ecdsa" => PrivKey::ecdsa_p256(),
        "ed25519" => PrivKey::ed25519(),
        "dsa" => match Dsa::generate() {
            Ok(k) => Ok(PrivKey::Dsa(Box::new(k))),
            Err(e) => return format!("failed to generate dsa params: {e}"),
        },
        _ => return format!("Unknown type {kind}"),
    };
    match key.and_then(|k| k.pem()) {
        Ok(pem) => pem,
        Err(e) => format!("failed to generate private key: {e}"),
    }
}

/// What Sprig's `getBaseCertTemplate` and the CA override set.
struct Template {
    cn: String,
    ips: Vec<Vec<u8>>,
    dns: Vec<String>,
    days: i64,
    is_ca: bool,
}

fn template(cn: &str, ips: Vec<Value>, dns: Vec<Value>, days: i64) -> Result<Template, String> {
    let mut ip_bytes = Vec::new();
    for ip in ips {
        let Value::String(s) = &ip else {
            return Err(format!("error parsing ip: {} is not a string", crate::template::fmt::sprint(&ip)));
        };
        // net.IP.To4 for IPv4 and IPv4-mapped addresses, else 16 bytes.
        match s.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(a)) => ip_bytes.push(a.octets().to_vec()),
            Ok(std::net::IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => ip_bytes.push(v4.octets().to_vec()),
                None => ip_bytes.push(a.octets().to_vec()),
            },
            Err(_) => return Err(format!("error parsing ip: {s}")),
        }
    }
    let mut names = Vec::new();
    for d in dns {
        let Value::String(s) = &d else {
            return Err(format!("error processing alternate dns name: {} is not a string", crate::template::fmt::sprint(&d)));
        };
        names.push(s.to_string());
    }
    Ok(Template { cn: cn.to_string(), ips: ip_bytes, dns: names, days, is_ca: false })
}

/// A Name with one CommonName, as Go's `pkix.Name` marshals it.
fn name(cn: &str) -> Vec<u8> {
    if cn.is_empty() {
        return der::seq(&[]);
    }
    let printable = cn.bytes().all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
    let value = der::tlv(if printable { der::PRINTABLE_STRING } else { der::UTF8_STRING }, cn.as_bytes());
    let atv = der::seq(&[&der::oid(&[2, 5, 4, 3]), &value]);
    der::seq(&[&der::cons(der::SET, &[&atv])])
}

/// A validity time as Go's `encoding/asn1` writes it: UTCTime from 1950
/// to 2049, GeneralizedTime otherwise.
fn asn1_time(unix_nanos: i128) -> Result<Vec<u8>, String> {
    let secs = unix_nanos.div_euclid(1_000_000_000) as i64;
    let c = super::gotime::civil(secs);
    if (1950..2050).contains(&c.year) {
        let s = format!("{:02}{:02}{:02}{:02}{:02}{:02}Z", c.year % 100, c.month, c.day, c.hour, c.minute, c.second);
        Ok(der::tlv(der::UTC_TIME, s.as_bytes()))
    } else if (0..=9999).contains(&c.year) {
        let s = format!("{:04}{:02}{:02}{:02}{:02}{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second);
        Ok(der::tlv(der::GENERALIZED_TIME, s.as_bytes()))
    } else {
        Err("error creating certificate: asn1: cannot represent time as GeneralizedTime".into())
    }
}

fn extension(oid: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    let crit = if critical { der::tlv(der::BOOLEAN, &[0xff]) } else { Vec::new() };
    der::seq(&[&der::oid(oid), &crit, &der::octets(value)])
}

/// The issuer side of a signature: the parent's subject and key id, the
/// key that signs and the public key the parent certifies (None when self-signed).
struct Issuer<'a> {
    subject: Vec<u8>,
    key_id: Option<Vec<u8>>,
    key: &'a PrivKey,
    spki: Option<Vec<u8>>,
}

/// Go's `x509.CreateCertificate` for Sprig's templates, and the PEM pair.
fn create(t: &Template, subject_key: &PrivKey, issuer: Option<Issuer<'_>>) -> Result<Certificate, String> {
    if let Some(PrivKey::Dsa(_)) = issuer.as_ref().map(|i| i.key).or(Some(subject_key)) {
        return Err(NOT_A_SIGNER.into());
    }
    if let PrivKey::Dsa(_) = subject_key {
        return Err("error creating certificate: x509: unsupported public key type: *dsa.PublicKey".into());
    }
    for d in &t.dns {
        if !d.is_ascii() {
            return Err(format!("error creating certificate: x509: {d:?} cannot be encoded as an IA5String"));
        }
    }
    let mut serial = [0u8; 16];
    getrandom::getrandom(&mut serial).map_err(|e| e.to_string())?;
    let now = super::gotime::now_unix_nanos();
    // time.Duration(days) * 24h wraps in Go's int64.
    let valid_for = (24 * 3_600 * 1_000_000_000i64).wrapping_mul(t.days);
    let subject = name(&t.cn);
    let (key_bits, spki) = subject_key.public();
    let (issuer_name, parent_key_id, signer, parent_spki) = match issuer {
        Some(i) => (i.subject, i.key_id, i.key, i.spki),
        None => (subject.clone(), None, subject_key, None),
    };
    if let Some(parent_spki) = parent_spki {
        if parent_spki != signer.public().1 {
            return Err("error creating certificate: x509: provided PrivateKey doesn't match parent's PublicKey".into());
        }
    }
    let mut exts = Vec::new();
    // KeyUsage: DigitalSignature (bit 0), KeyEncipherment (2), CertSign (5).
    let usage: &[u8] = if t.is_ca { &[0x03, 0x02, 0x02, 0xa4] } else { &[0x03, 0x02, 0x05, 0xa0] };
    exts.push(extension(&[2, 5, 29, 15], true, usage));
    let server_auth = der::oid(&[1, 3, 6, 1, 5, 5, 7, 3, 1]);
    let client_auth = der::oid(&[1, 3, 6, 1, 5, 5, 7, 3, 2]);
    exts.push(extension(&[2, 5, 29, 37], false, &der::seq(&[&server_auth, &client_auth])));
    let basic = if t.is_ca { der::seq(&[&der::tlv(der::BOOLEAN, &[0xff])]) } else { der::seq(&[]) };
    exts.push(extension(&[2, 5, 29, 19], true, &basic));
    if t.is_ca {
        let id = &sha2::Sha256::digest(&key_bits)[..20];
        exts.push(extension(&[2, 5, 29, 14], false, &der::octets(id)));
    }
    if let Some(id) = parent_key_id.filter(|id| !id.is_empty() && issuer_name != subject) {
        exts.push(extension(&[2, 5, 29, 35], false, &der::seq(&[&der::tlv(0x80, &id)])));
    }
    if !t.dns.is_empty() || !t.ips.is_empty() {
        let mut sans = Vec::new();
        for d in &t.dns {
            sans.push(der::tlv(0x82, d.as_bytes()));
        }
        for ip in &t.ips {
            sans.push(der::tlv(0x87, ip));
        }
        exts.push(extension(&[2, 5, 29, 17], t.cn.is_empty(), &der::tlv(der::SEQUENCE, &sans.concat())));
    }
    let sig_alg = signer.signature_algorithm();
    let validity = der::seq(&[&asn1_time(now)?, &asn1_time(now + i128::from(valid_for))?]);
    let tbs = der::seq(&[
        &der::tlv(0xa0, &der::small_int(2)),
        &der::uint(&serial),
        &sig_alg,
        &issuer_name,
        &validity,
        &subject,
        &spki,
        &der::tlv(0xa3, &der::tlv(der::SEQUENCE, &exts.concat())),
    ]);
    let signature = signer.sign(&tbs)?;
    let cert = der::seq(&[&tbs, &sig_alg, &der::bit_string(&signature)]);
    Ok(Certificate { cert: der::pem_encode("CERTIFICATE", &cert), key: subject_key.pem()? })
}

/// The parts of a parsed certificate that signing with it needs.
struct Parsed {
    subject: Vec<u8>,
    spki: Vec<u8>,
    key_id: Option<Vec<u8>>,
}

/// A structural `x509.ParseCertificate`: the TBS fields in order, the
/// subject key id if any.
fn parse_certificate(der_bytes: &[u8]) -> Result<Parsed, String> {
    let bad = || malformed("certificate");
    let (cert, rest) = der::expect(der_bytes, der::SEQUENCE).ok_or_else(bad)?;
    if !rest.is_empty() {
        return Err("x509: trailing data".into());
    }
    let parts = der::items(cert.content).ok_or_else(bad)?;
    let [tbs, alg, sig] = parts.as_slice() else { return Err(bad()) };
    if tbs.tag != der::SEQUENCE || alg.tag != der::SEQUENCE || sig.tag != der::BIT_STRING {
        return Err(bad());
    }
    let mut fields = der::items(tbs.content).ok_or_else(bad)?.into_iter().peekable();
    if fields.peek().is_some_and(|f| f.tag == 0xa0) {
        fields.next();
    }
    let want = [der::INTEGER, der::SEQUENCE, der::SEQUENCE, der::SEQUENCE, der::SEQUENCE, der::SEQUENCE];
    let mut got = Vec::new();
    for tag in want {
        let f = fields.next().filter(|f| f.tag == tag).ok_or_else(bad)?;
        got.push(f);
    }
    let mut key_id = None;
    for f in fields {
        if f.tag != 0xa3 {
            continue;
        }
        let (list, _) = der::expect(f.content, der::SEQUENCE).ok_or_else(bad)?;
        for ext in der::items(list.content).ok_or_else(bad)? {
            let items = der::items(ext.content).ok_or_else(bad)?;
            if items.first().is_some_and(|o| o.raw == der::oid(&[2, 5, 29, 14])) {
                let value = items.last().filter(|v| v.tag == der::OCTET_STRING).ok_or_else(bad)?;
                key_id = Some(der::expect(value.content, der::OCTET_STRING).ok_or_else(bad)?.0.content.to_vec());
            }
        }
    }
    Ok(Parsed { subject: got[4].raw.to_vec(), spki: got[5].raw.to_vec(), key_id })
}

fn build_custom_cert(b64cert: &str, b64key: &str) -> Result<Value, String> {
    let cert = super::encoding::base64_decode(b64cert.as_bytes()).map_err(|_| "unable to decode base64 certificate".to_string())?;
    let key = super::encoding::base64_decode(b64key.as_bytes()).map_err(|_| "unable to decode base64 private key".to_string())?;
    let cert = super::encoding::go_string(cert);
    let key = super::encoding::go_string(key);
    let (_, der_bytes) = der::pem_decode(&cert).ok_or("unable to decode certificate")?;
    parse_certificate(&der_bytes).map_err(|e| format!("error parsing certificate: decodedCert.Bytes: {e}"))?;
    parse_private_key_pem(&key).map_err(|e| format!("error parsing private key: {e}"))?;
    Ok(Certificate { cert, key }.value())
}

fn gen_ca(cn: &str, days: i64, key: PrivKey) -> Result<Value, String> {
    let mut t = template(cn, Vec::new(), Vec::new(), days)?;
    t.is_ca = true;
    create(&t, &key, None).map(Certificate::value)
}

fn gen_self_signed(cn: &str, ips: Vec<Value>, dns: Vec<Value>, days: i64, key: PrivKey) -> Result<Value, String> {
    let t = template(cn, ips, dns, days)?;
    create(&t, &key, None).map(Certificate::value)
}

fn gen_signed(cn: &str, ips: Vec<Value>, dns: Vec<Value>, days: i64, ca: &Certificate, key: PrivKey) -> Result<Value, String> {
    let (_, ca_der) = der::pem_decode(&ca.cert).ok_or("unable to decode certificate")?;
    let parent = parse_certificate(&ca_der).map_err(|e| format!("error parsing certificate: decodedSignerCert.Bytes: {e}"))?;
    let signer = parse_private_key_pem(&ca.key).map_err(|e| format!("error parsing private key: {e}"))?;
    let t = template(cn, ips, dns, days)?;
    let issuer = Issuer { subject: parent.subject, key_id: parent.key_id, key: &signer, spki: Some(parent.spki) };
    create(&t, &key, Some(issuer)).map(Certificate::value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sprig::crypto_testkit::{call, oracle, try_call};

    /// A certificate taken apart for the assertions.
    struct Cert {
        tbs: Vec<u8>,
        sig_alg: Vec<u8>,
        signature: Vec<u8>,
        serial: Vec<u8>,
        issuer: Vec<u8>,
        subject: Vec<u8>,
        not_before: String,
        not_after: String,
        spki_bits: Vec<u8>,
        /// (OID bytes, critical, value)
        exts: Vec<(Vec<u8>, bool, Vec<u8>)>,
    }

    fn take_apart(pem: &str) -> Cert {
        let (kind, bytes) = der::pem_decode(pem).expect("a PEM block");
        assert_eq!(kind, "CERTIFICATE");
        let (cert, rest) = der::expect(&bytes, der::SEQUENCE).unwrap();
        assert!(rest.is_empty());
        let parts = der::items(cert.content).unwrap();
        let fields = der::items(parts[0].content).unwrap();
        assert_eq!(fields[0].raw, [0xa0, 3, 2, 1, 2], "version 3");
        let validity = der::items(fields[4].content).unwrap();
        let spki = der::items(fields[6].content).unwrap();
        let exts_list = der::expect(fields[7].content, der::SEQUENCE).unwrap().0;
        let exts = der::items(exts_list.content)
            .unwrap()
            .iter()
            .map(|e| {
                let items = der::items(e.content).unwrap();
                (items[0].raw.to_vec(), items.len() == 3, items.last().unwrap().content.to_vec())
            })
            .collect();
        assert_eq!(fields[2].raw, parts[1].raw, "the TBS names the signature algorithm");
        Cert {
            tbs: parts[0].raw.to_vec(),
            sig_alg: parts[1].raw.to_vec(),
            signature: parts[2].content[1..].to_vec(),
            serial: fields[1].content.to_vec(),
            issuer: fields[3].raw.to_vec(),
            subject: fields[5].raw.to_vec(),
            not_before: String::from_utf8(validity[0].content.to_vec()).unwrap(),
            not_after: String::from_utf8(validity[1].content.to_vec()).unwrap(),
            spki_bits: spki[1].content[1..].to_vec(),
            exts,
        }
    }

    fn ext<'a>(c: &'a Cert, arcs: &[u64]) -> Option<&'a (Vec<u8>, bool, Vec<u8>)> {
        c.exts.iter().find(|e| e.0 == der::oid(arcs))
    }

    /// Checks `cert`'s signature with the issuer's public key bits.
    fn verify(cert: &Cert, issuer_spki_bits: &[u8]) {
        use ring::signature as sig;
        let alg: &dyn sig::VerificationAlgorithm = if cert.sig_alg == PrivKey::Rsa(Box::new(test_rsa())).signature_algorithm() {
            &sig::RSA_PKCS1_2048_8192_SHA256
        } else if cert.sig_alg == der::seq(&[&der::oid(&[1, 2, 840, 10045, 4, 3, 2])]) {
            &sig::ECDSA_P256_SHA256_ASN1
        } else if cert.sig_alg == der::seq(&[&der::oid(&[1, 2, 840, 10045, 4, 3, 3])]) {
            &sig::ECDSA_P384_SHA384_ASN1
        } else {
            &sig::ED25519
        };
        sig::UnparsedPublicKey::new(alg, issuer_spki_bits).verify(&cert.tbs, &cert.signature).expect("the signature verifies");
    }

    fn test_rsa() -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::from_pkcs1_der(der::pem_decode(TEST_RSA_KEY).unwrap().1.as_slice()).unwrap()
    }

    /// An RSA key Helm's `genPrivateKey "rsa"` made.
    const TEST_RSA_KEY: &str = include_str!("testdata/go-rsa-key.pem");
    /// An ECDSA and an Ed25519 key Helm's `genPrivateKey` made.
    const TEST_EC_KEY: &str = include_str!("testdata/go-ec-key.pem");
    const TEST_ED_KEY: &str = include_str!("testdata/go-ed25519-key.pem");

    fn fields(v: &Value) -> Certificate {
        cert_arg(std::slice::from_ref(v), 0).unwrap()
    }

    /// Seconds from ASN.1 time `a` to `b` (UTCTime or GeneralizedTime).
    fn secs_between(a: &str, b: &str) -> i64 {
        let secs = |t: &str| {
            let (y, rest) = if t.len() == 13 {
                let yy = t[..2].parse::<i64>().unwrap();
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &t[2..])
            } else {
                (t[..4].parse().unwrap(), &t[4..])
            };
            let n = |i: usize| rest[i..i + 2].parse::<u32>().unwrap();
            super::super::gotime::days_from_civil(y, n(0), n(2)) * 86400 + i64::from(n(4) * 3600 + n(6) * 60 + n(8))
        };
        secs(b) - secs(a)
    }

    fn days_between(a: &str, b: &str) -> i64 {
        let d = secs_between(a, b);
        assert_eq!(d % 86400, 0, "{a} {b}");
        d / 86400
    }

    #[test]
    fn gen_ca_is_a_self_signed_ca_as_go_writes_it() {
        let ca = fields(&call("genCA", &["my-ca".into(), Value::int(365)]));
        assert!(ca.key.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let c = take_apart(&ca.cert);
        assert_eq!(c.issuer, c.subject);
        assert_eq!(c.subject, der::seq(&[&der::cons(der::SET, &[&der::seq(&[&der::oid(&[2, 5, 4, 3]), &der::tlv(der::PRINTABLE_STRING, b"my-ca")])])]));
        assert!(c.serial.len() <= 17 && c.serial[0] & 0x80 == 0);
        assert_eq!(days_between(&c.not_before, &c.not_after), 365);
        // Go's extensions for a Sprig CA, in Go's order (read from a Helm-made CA).
        let oids: Vec<Vec<u8>> = c.exts.iter().map(|e| e.0.clone()).collect();
        assert_eq!(oids, [der::oid(&[2, 5, 29, 15]), der::oid(&[2, 5, 29, 37]), der::oid(&[2, 5, 29, 19]), der::oid(&[2, 5, 29, 14])]);
        assert!(ext(&c, &[2, 5, 29, 15]).unwrap().1);
        assert_eq!(ext(&c, &[2, 5, 29, 15]).unwrap().2, [0x03, 0x02, 0x02, 0xa4]);
        assert_eq!(ext(&c, &[2, 5, 29, 37]).unwrap().2, hex_bytes("301406082B0601050507030106082B06010505070302"));
        assert_eq!(ext(&c, &[2, 5, 29, 19]).unwrap().2, [0x30, 3, 1, 1, 0xff]);
        let ski = &ext(&c, &[2, 5, 29, 14]).unwrap().2;
        assert_eq!(ski[2..], sha2::Sha256::digest(&c.spki_bits)[..20]);
        verify(&c, &c.spki_bits);
        // A second CA has another key and serial.
        let other = take_apart(&fields(&call("genCA", &["my-ca".into(), Value::int(365)])).cert);
        assert_ne!((other.serial, other.spki_bits), (c.serial, c.spki_bits.clone()));
    }

    fn hex_bytes(h: &str) -> Vec<u8> {
        (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn signed_certs_carry_sans_and_the_cas_key_id() {
        let ca_v = call("genCA", &["my-ca".into(), Value::int(10)]);
        let ips = Value::list(vec!["10.0.0.1".into(), "::1".into(), "::ffff:1.2.3.4".into()]);
        let dns = Value::list(vec!["a.example.com".into(), "b".into()]);
        let leaf = fields(&call("genSignedCert", &["web".into(), ips, dns, Value::int(30), ca_v.clone()]));
        let (ca, c) = (take_apart(&fields(&ca_v).cert), take_apart(&leaf.cert));
        assert_eq!(c.issuer, ca.subject);
        verify(&c, &ca.spki_bits);
        assert_eq!(days_between(&c.not_before, &c.not_after), 30);
        let oids: Vec<Vec<u8>> = c.exts.iter().map(|e| e.0.clone()).collect();
        assert_eq!(oids, [der::oid(&[2, 5, 29, 15]), der::oid(&[2, 5, 29, 37]), der::oid(&[2, 5, 29, 19]), der::oid(&[2, 5, 29, 35]), der::oid(&[2, 5, 29, 17])]);
        assert_eq!(ext(&c, &[2, 5, 29, 15]).unwrap().2, [0x03, 0x02, 0x05, 0xa0]);
        assert_eq!(ext(&c, &[2, 5, 29, 19]).unwrap().2, [0x30, 0]);
        let ca_ski = &ext(&ca, &[2, 5, 29, 14]).unwrap().2[2..];
        assert_eq!(ext(&c, &[2, 5, 29, 35]).unwrap().2, [&[0x30, 22, 0x80, 20][..], ca_ski].concat());
        // The SAN bytes of the same call in Helm.
        let san = ext(&c, &[2, 5, 29, 17]).unwrap();
        assert!(!san.1);
        assert_eq!(san.2, hex_bytes("3030820D612E6578616D706C652E636F6D82016287040A000001871000000000000000000000000000000001870401020304"));
    }

    #[test]
    fn empty_subjects_make_sans_critical_and_odd_names_utf8() {
        let c = take_apart(&fields(&call("genSelfSignedCert", &["".into(), Value::list(vec!["1.2.3.4".into()]), Value::Nil, Value::int(1)])).cert);
        assert_eq!(c.subject, [0x30, 0]);
        assert_eq!(ext(&c, &[2, 5, 29, 17]).unwrap(), &(der::oid(&[2, 5, 29, 17]), true, vec![0x30, 6, 0x87, 4, 1, 2, 3, 4]));
        assert!(ext(&c, &[2, 5, 29, 14]).is_none() && ext(&c, &[2, 5, 29, 35]).is_none());
        verify(&c, &c.spki_bits);
        let c = take_apart(&fields(&call("genSelfSignedCert", &["*.x&y".into(), Value::Nil, Value::Nil, Value::int(1)])).cert);
        assert_eq!(c.subject[11..13], [der::UTF8_STRING, 5]);
    }

    #[test]
    fn argument_errors_are_sprigs() {
        let err = |name: &str, args: &[Value]| try_call(name, args).unwrap_err().render(name);
        // Helm's words for each.
        assert_eq!(
            err("genSelfSignedCert", &["a".into(), Value::list(vec![Value::int(1)]), Value::Nil, Value::int(1)]),
            "error calling genSelfSignedCert: error parsing ip: 1 is not a string"
        );
        assert_eq!(err("genSelfSignedCert", &["a".into(), Value::list(vec!["1.2.3".into()]), Value::Nil, Value::int(1)]), "error calling genSelfSignedCert: error parsing ip: 1.2.3");
        assert_eq!(
            err("genSelfSignedCert", &["a".into(), Value::Nil, Value::list(vec![Value::Float(2.5)]), Value::int(1)]),
            "error calling genSelfSignedCert: error processing alternate dns name: 2.5 is not a string"
        );
        assert_eq!(
            err("genSelfSignedCert", &["a".into(), Value::Nil, Value::list(vec!["é".into()]), Value::int(1)]),
            "error calling genSelfSignedCert: error creating certificate: x509: \"é\" cannot be encoded as an IA5String"
        );
        assert_eq!(err("genSelfSignedCert", &["a".into(), Value::strings(["1.2.3.4"]), Value::Nil, Value::int(1)]), "wrong type for value; expected []interface {}; got []string");
        assert_eq!(err("genSignedCert", &["a".into(), Value::Nil, Value::Nil, Value::int(1), Value::empty_map()]), "wrong type for value; expected sprig.certificate; got map[string]interface {}");
        assert_eq!(err("buildCustomCert", &["x".into(), "y".into()]), "error calling buildCustomCert: unable to decode base64 certificate");
        assert_eq!(err("buildCustomCert", &["eA==".into(), "eA==".into()]), "error calling buildCustomCert: unable to decode certificate");
        assert_eq!(err("genCAWithKey", &["a".into(), Value::int(1), "nope".into()]), "error calling genCAWithKey: parsing private key: no PEM data in input");
        assert_eq!(
            err("genCAWithKey", &["a".into(), Value::int(1), "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n".into()]),
            "error calling genCAWithKey: parsing private key: no private key data in PEM block of type FOO"
        );
        assert_eq!(
            err("genCAWithKey", &["a".into(), Value::int(1), "-----BEGIN X PRIVATE KEY-----\nAAAA\n-----END X PRIVATE KEY-----\n".into()]),
            "error calling genCAWithKey: parsing private key: invalid private key type X PRIVATE KEY"
        );
        assert_eq!(call("genPrivateKey", &["foo".into()]).as_str(), Some("Unknown type foo"));
    }

    #[test]
    fn keys_of_every_kind_sign_and_round_trip() {
        for (pem, block) in [(TEST_RSA_KEY, "RSA PRIVATE KEY"), (TEST_EC_KEY, "EC PRIVATE KEY"), (TEST_ED_KEY, "PRIVATE KEY")] {
            let ca = fields(&call("genCAWithKey", &["k".into(), Value::int(2), pem.into()]));
            // The key comes back as Go re-encodes it: here, as it went in.
            assert_eq!(ca.key, pem, "{block}");
            let c = take_apart(&ca.cert);
            verify(&c, &c.spki_bits);
            let leaf = fields(&call("genSignedCertWithKey", &["leaf".into(), Value::Nil, Value::list(vec!["x".into()]), Value::int(1), call("genCAWithKey", &["k".into(), Value::int(2), pem.into()]), TEST_EC_KEY.into()]));
            assert_eq!(leaf.key, TEST_EC_KEY);
        }
        for (kind, block) in [("ecdsa", "EC PRIVATE KEY"), ("ed25519", "PRIVATE KEY")] {
            let pem = call("genPrivateKey", &[kind.into()]).as_str().unwrap().to_string();
            assert_eq!(der::pem_decode(&pem).unwrap().0, block);
            let ss = fields(&call("genSelfSignedCertWithKey", &["s".into(), Value::Nil, Value::Nil, Value::int(1), pem.as_str().into()]));
            assert_eq!(ss.key, pem);
            let c = take_apart(&ss.cert);
            verify(&c, &c.spki_bits);
        }
    }

    #[test]
    fn a_key_that_is_not_the_cas_is_refused() {
        let ca = call("genCAWithKey", &["k".into(), Value::int(2), TEST_EC_KEY.into()]);
        let mut wrong = fields(&ca);
        wrong.key = TEST_ED_KEY.into();
        let e = try_call("genSignedCert", &["x".into(), Value::Nil, Value::Nil, Value::int(1), wrong.value()]).unwrap_err();
        assert_eq!(e.to_string(), "error creating certificate: x509: provided PrivateKey doesn't match parent's PublicKey");
    }

    #[test]
    fn certificates_print_and_marshal_as_go_structs() {
        let c = Certificate { cert: "C".into(), key: "K".into() }.value();
        assert_eq!(c.type_name(), "sprig.certificate");
        assert_eq!(c.kind_name(), "struct");
        let Value::Object(o) = &c else { unreachable!() };
        assert_eq!(o.format(), "{C K}");
        assert_eq!(o.marshal().get("Cert").and_then(|v| v.as_str().map(str::to_string)).as_deref(), Some("C"));
    }

    /// Go takes what we make: Helm parses our CA (cert and key), signs a
    /// certificate with it, and that certificate verifies with our key;
    /// Helm's buildCustomCert accepts our leaf and key.
    #[test]
    fn go_accepts_our_certificates_and_keys() {
        let ca = fields(&call("genCA", &["ours".into(), Value::int(3)]));
        let leaf = fields(&call("genSignedCert", &["leaf".into(), Value::list(vec!["127.0.0.1".into()]), Value::list(vec!["x.test".into()]), Value::int(3), call("genCA", &["ours".into(), Value::int(3)])]));
        let ec = call("genPrivateKey", &["ecdsa".into()]).as_str().unwrap().to_string();
        let ed = call("genPrivateKey", &["ed25519".into()]).as_str().unwrap().to_string();
        let tpl = r#"{{- $ca := buildCustomCert (b64enc .Values.caCert) (b64enc .Values.caKey) -}}
{{- $c := genSignedCert "from-go" nil (list "go.test") 5 $ca -}}
{{- $l := buildCustomCert (b64enc .Values.leafCert) (b64enc .Values.leafKey) -}}
{{- $e := genSelfSignedCertWithKey "ec" nil nil 1 .Values.ec -}}
{{- $d := genSelfSignedCertWithKey "ed" nil nil 1 .Values.ed -}}
{{ $c.Cert }}{{ $l.Key | sha256sum }}
{{ $e.Key | sha256sum }}
{{ $d.Key | sha256sum }}
"#;
        let values = serde_json::json!({ "caCert": ca.cert, "caKey": ca.key, "leafCert": leaf.cert, "leafKey": leaf.key, "ec": ec, "ed": ed });
        let Some(go) = oracle(tpl, values) else { return };
        let end = go.find("-----END CERTIFICATE-----\n").unwrap() + 26;
        let go_cert = take_apart(&go[..end]);
        let our_ca = take_apart(&ca.cert);
        assert_eq!(go_cert.issuer, our_ca.subject);
        verify(&go_cert, &our_ca.spki_bits);
        let ski = &ext(&our_ca, &[2, 5, 29, 14]).unwrap().2[2..];
        assert_eq!(&ext(&go_cert, &[2, 5, 29, 35]).unwrap().2[4..], ski);
        let sums: Vec<&str> = go[end..].lines().collect();
        let sha = |s: &str| super::super::crypto::hex(&sha2::Sha256::digest(s.as_bytes()));
        // Go re-encodes the keys it parsed exactly as we wrote them.
        assert_eq!(sums, [sha(&leaf.key), sha(&ec), sha(&ed)]);
    }

    /// DSA keys as Sprig writes them, which Go reads back and, as Go does,
    /// refuses to certify.
    #[test]
    fn dsa_keys_are_sprigs_and_refused_for_certificates() {
        use num_bigint_dig::BigUint;
        let pem = call("genPrivateKey", &["dsa".into()]).as_str().unwrap().to_string();
        let (kind, bytes) = der::pem_decode(&pem).unwrap();
        assert_eq!(kind, "DSA PRIVATE KEY");
        let k = Dsa::parse(&bytes).unwrap();
        let [p, q, g, y, x] = [&k.p, &k.q, &k.g, &k.y, &k.x].map(|b| BigUint::from_bytes_be(b));
        assert_eq!((p.bits(), q.bits()), (2048, 256));
        assert_eq!(&p % &q, BigUint::from(1u32));
        assert!(num_bigint_dig::prime::probably_prime(&p, 20) && num_bigint_dig::prime::probably_prime(&q, 20));
        assert_eq!(g.modpow(&q, &p), BigUint::from(1u32));
        assert_eq!(g.modpow(&x, &p), y);
        let err = |name: &str, args: &[Value]| try_call(name, args).unwrap_err().render(name);
        // Helm's words.
        assert_eq!(
            err("genCAWithKey", &["x".into(), Value::int(1), pem.as_str().into()]),
            "error calling genCAWithKey: error creating certificate: x509: certificate private key does not implement crypto.Signer"
        );
        let ca = call("genCAWithKey", &["ca".into(), Value::int(1), TEST_EC_KEY.into()]);
        assert_eq!(
            err("genSignedCertWithKey", &["y".into(), Value::Nil, Value::Nil, Value::int(1), ca, pem.as_str().into()]),
            "error calling genSignedCertWithKey: error creating certificate: x509: unsupported public key type: *dsa.PublicKey"
        );
        // Go reads our DSA key (and fails the same way for it).
        let Some(go) = crate::sprig::crypto_testkit::oracle_env("{{ genCAWithKey \"x\" 1 .Values.k }}", serde_json::json!({ "k": pem }), &[]) else { return };
        assert!(go.unwrap_err().ends_with("error calling genCAWithKey: error creating certificate: x509: certificate private key does not implement crypto.Signer"));
        // And we read Go's, writing it back byte for byte as Sprig would.
        let Some(go_pem) = oracle("{{ genPrivateKey \"dsa\" }}", serde_json::json!({})) else { return };
        let k = parse_private_key_pem(&go_pem).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.pem().unwrap(), go_pem);
    }

    /// A CA Helm made signs certificates through us: its issuer name, key
    /// id and signature are the CA's.
    #[test]
    fn we_sign_with_gos_cas() {
        let Some(go) = oracle("{{ $ca := genCA \"go-ca\" 30 }}{{ $ca.Cert }}{{ $ca.Key }}", serde_json::json!({})) else { return };
        let split = go.find("-----BEGIN RSA PRIVATE KEY-----").unwrap();
        let ca = Certificate { cert: go[..split].to_string(), key: go[split..].to_string() };
        let ips = Value::list(vec!["192.168.0.1".into()]);
        let leaf = fields(&call("genSignedCert", &["svc.ns.svc".into(), ips, Value::Nil, Value::int(7), ca.clone().value()]));
        let (go_ca, c) = (take_apart(&ca.cert), take_apart(&leaf.cert));
        assert_eq!(c.issuer, go_ca.subject);
        verify(&c, &go_ca.spki_bits);
        assert_eq!(ext(&c, &[2, 5, 29, 35]).unwrap().2[4..], ext(&go_ca, &[2, 5, 29, 14]).unwrap().2[2..]);
        assert_eq!(days_between(&c.not_before, &c.not_after), 7);
    }

    /// Go's `Duration(days) * 24h` wraps: 365000 days is 1857 again.
    #[test]
    fn validity_wraps_as_gos_duration() {
        let days = [365_000i64, -3, 9_000_000];
        let tpl: String = days.iter().map(|d| format!("{{{{ (genCA \"x\" {d}).Cert }}}}")).collect();
        let Some(go) = oracle(&tpl, serde_json::json!({})) else { return };
        let key = ed25519_from_seed([7; 32]).unwrap();
        for (i, d) in days.iter().enumerate() {
            let start = go.match_indices("-----BEGIN CERTIFICATE-----").nth(i).unwrap().0;
            let g = take_apart(&go[start..]);
            let mut t = template("x", Vec::new(), Vec::new(), *d).unwrap();
            t.is_ca = true;
            let o = take_apart(&create(&t, &key, None).unwrap().cert);
            let (gs, os) = (secs_between(&g.not_before, &g.not_after), secs_between(&o.not_before, &o.not_after));
            assert!((gs - os).abs() <= 1, "{d} days: Go {} → {}, ours {} → {}", g.not_before, g.not_after, o.not_before, o.not_after);
        }
    }

    #[test]
    fn rsa_primes_are_prime_and_sized() {
        for bits in [512usize, 1024, 1023] {
            let p = rsa_prime(bits).unwrap();
            assert_eq!(p.bits(), bits);
            assert!(num_bigint_dig::prime::probably_prime(&p, 30), "{p}");
        }
        let PrivKey::Rsa(k) = PrivKey::rsa(2048).unwrap() else { unreachable!() };
        assert_eq!(k.n().bits(), 2048);
        k.validate().unwrap();
        // Sign and verify with the key, as a CA would.
        let c = take_apart(&create(&template("t", Vec::new(), Vec::new(), 1).unwrap(), &PrivKey::Rsa(k), None).unwrap().cert);
        verify(&c, &c.spki_bits);
    }

    #[test]
    fn rsa_private_keys_are_4096_bit_pkcs1() {
        let pem = call("genPrivateKey", &["rsa".into()]).as_str().unwrap().to_string();
        let (kind, bytes) = der::pem_decode(&pem).unwrap();
        assert_eq!(kind, "RSA PRIVATE KEY");
        let k = rsa::RsaPrivateKey::from_pkcs1_der(&bytes).unwrap();
        assert_eq!(k.n().bits(), 4096);
        // (`genPrivateKey ""` takes the same path; 4096-bit keys are slow to make.)
    }

    /// Damaged keys and certificates are errors, never panics.
    #[test]
    fn damaged_input_is_an_error_not_a_crash() {
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let ca = fields(&call("genCAWithKey", &["ca".into(), Value::int(1), TEST_EC_KEY.into()]));
        let originals = [("RSA PRIVATE KEY", TEST_RSA_KEY), ("EC PRIVATE KEY", TEST_EC_KEY), ("PRIVATE KEY", TEST_ED_KEY), ("CERTIFICATE", ca.cert.as_str())];
        for round in 0..400 {
            let (kind, pem) = originals[round % originals.len()];
            let mut der_bytes = der::pem_decode(pem).unwrap().1;
            match next() % 3 {
                0 => {
                    let at = (next() as usize) % der_bytes.len();
                    der_bytes[at] ^= 1 << (next() % 8);
                }
                1 => der_bytes.truncate((next() as usize) % der_bytes.len()),
                _ => {
                    let at = (next() as usize) % der_bytes.len();
                    der_bytes[at] = next() as u8;
                }
            }
            let damaged = der::pem_encode(kind, &der_bytes);
            if kind == "CERTIFICATE" {
                let broken = Certificate { cert: damaged.clone(), key: TEST_EC_KEY.into() }.value();
                let _ = try_call("genSignedCertWithKey", &["x".into(), Value::Nil, Value::Nil, Value::int(1), broken, TEST_ED_KEY.into()]);
                let b64 = |s: &str| Value::from(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s));
                let _ = try_call("buildCustomCert", &[b64(&damaged), b64(TEST_EC_KEY)]);
            } else {
                let _ = try_call("genSelfSignedCertWithKey", &["x".into(), Value::Nil, Value::Nil, Value::int(1), damaged.as_str().into()]);
            }
        }
    }
}
