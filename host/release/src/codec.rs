//! The release codec of Helm's storage drivers (`pkg/storage/driver/util.go`):
//! a record is JSON, gzipped at best compression, then standard base64; on
//! reading, data without the gzip magic is taken as plain JSON (records from
//! before compression). This file must not decide where records are kept.

use std::io::{Read, Write};

use base64::Engine as _;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::record::Release;

const MAGIC_GZIP: [u8; 3] = [0x1f, 0x8b, 0x08];

/// Why a stored record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("the release data is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("the release data is not gzip: {0}")]
    Gzip(#[from] std::io::Error),
    #[error("the release data is not a release: {0}")]
    Json(#[from] serde_json::Error),
}

/// Helm's `encodeRelease`.
pub fn encode(release: &Release) -> Result<String, CodecError> {
    let json = serde_json::to_vec(release)?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&json)?;
    let bytes = gz.finish()?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Helm's `decodeRelease`.
pub fn decode(data: &str) -> Result<Release, CodecError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(data.trim())?;
    let json = if bytes.len() > 3 && bytes[..3] == MAGIC_GZIP {
        let mut out = Vec::new();
        GzDecoder::new(bytes.as_slice()).read_to_end(&mut out)?;
        out
    } else {
        bytes
    };
    Ok(serde_json::from_slice(&json)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_decodes_and_reads_uncompressed_records() {
        let r: Release = serde_json::from_str(r#"{"name":"a","info":{"status":"deployed"},"version":2,"config":{"x":1}}"#).unwrap();
        let data = encode(&r).unwrap();
        assert_eq!(decode(&data).unwrap(), r);
        let plain = base64::engine::general_purpose::STANDARD.encode(br#"{"name":"old","version":1}"#);
        assert_eq!(decode(&plain).unwrap().name, "old");
        assert!(decode("not base64!").is_err());
    }
}
