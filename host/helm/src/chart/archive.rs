//! Chart packages (`.tgz`) as Helm's `archive.LoadArchiveFiles` reads them:
//! gzip, then tar; the top directory stripped from every name; absolute
//! paths, `..`, drive letters and a Chart.yaml outside a directory refused;
//! 5 MiB per file and 100 MiB per chart at most. It must not look at what
//! the files mean (that is `load_files`').

use std::io::Read;

use super::{ChartError, File};

/// Helm's `MaxDecompressedChartSize`.
pub const MAX_DECOMPRESSED_CHART_SIZE: u64 = 100 * 1024 * 1024;
/// Helm's `MaxDecompressedFileSize`.
pub const MAX_DECOMPRESSED_FILE_SIZE: u64 = 5 * 1024 * 1024;

/// Go's `gzip.ErrHeader` text.
pub(crate) const GZIP_HEADER_ERROR: &str = "gzip: invalid header";

/// Helm's `EnsureArchive`: the file must look like gzip.
pub(crate) fn ensure_archive(name: &str, data: &[u8]) -> Result<(), ChartError> {
    if data.starts_with(b"\x1f\x8b\x08") {
        return Ok(());
    }
    if name.ends_with(".yml") || name.ends_with(".yaml") {
        return Err(ChartError::new(format!("file '{name}' seems to be a YAML file, but expected a gzipped archive")));
    }
    Err(ChartError::new(format!("file '{name}' does not appear to be a gzipped archive; got '{}'", detect_content_type(&data[..data.len().min(512)]))))
}

/// The few answers of Go's `http.DetectContentType` a non-gzip chart file
/// gets. Helm sniffs a 512-byte buffer that keeps its zeros when the file is
/// shorter, so a short file reads as binary.
fn detect_content_type(b: &[u8]) -> &'static str {
    let mut buf = b.to_vec();
    buf.resize(512, 0);
    if buf.starts_with(b"PK\x03\x04") {
        return "application/zip";
    }
    if buf.starts_with(b"%PDF-") {
        return "application/pdf";
    }
    let ws = buf.iter().take_while(|c| matches!(c, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')).count();
    let rest = &buf[ws..];
    if rest.starts_with(b"<?xml") {
        return "text/xml; charset=utf-8";
    }
    let lower: Vec<u8> = rest.iter().take(16).map(u8::to_ascii_lowercase).collect();
    for tag in [&b"<!doctype html"[..], b"<html", b"<head", b"<body", b"<script", b"<!--"] {
        if lower.starts_with(tag) && lower.get(tag.len()).is_some_and(|c| *c == b' ' || *c == b'>') {
            return "text/html; charset=utf-8";
        }
    }
    let binary = buf.iter().any(|&c| c <= 0x08 || c == 0x0B || (0x0E..=0x1A).contains(&c) || (0x1C..=0x1F).contains(&c));
    if binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// Go's `path.Clean`.
pub(crate) fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

fn is_drive_path(n: &str) -> bool {
    let b = n.as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/'
}

/// The files of a `.tgz` chart, names relative to its top directory.
pub(crate) fn load_archive_files(data: &[u8]) -> Result<Vec<File>, ChartError> {
    // Go's gzip reader reads the 10-byte header first, then checks it.
    if data.is_empty() {
        return Err(ChartError::new("EOF"));
    }
    if data.len() < 10 {
        return Err(ChartError::new("unexpected EOF"));
    }
    if !data.starts_with(&[0x1f, 0x8b, 0x08]) {
        return Err(ChartError::new(GZIP_HEADER_ERROR));
    }
    let gz = flate2::read::GzDecoder::new(data);
    let mut tr = tar::Archive::new(gz);
    let mut files = Vec::new();
    let mut remaining = MAX_DECOMPRESSED_CHART_SIZE;
    let entries = tr.entries().map_err(|e| ChartError::new(e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| ChartError::new(archive_error(&e)))?;
        let header = entry.header();
        let kind = header.entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() || kind.is_gnu_longname() {
            continue;
        }
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let size = entry.size();
        let delimiter = if raw_name.contains('\\') { "\\" } else { "/" };
        let parts: Vec<&str> = raw_name.split(delimiter).collect();
        let n = parts[1..].join(delimiter).replace(delimiter, "/");
        if n.starts_with('/') {
            return Err(ChartError::new("chart illegally contains absolute paths"));
        }
        let n = clean_path(&n);
        if n == "." {
            return Err(ChartError::new(format!("chart illegally contains content outside the base directory: {}", super::metadata::go_quote(&raw_name))));
        }
        if n.starts_with("..") {
            return Err(ChartError::new("chart illegally references parent directory"));
        }
        if is_drive_path(&n) {
            return Err(ChartError::new("chart contains illegally named files"));
        }
        if parts[0] == "Chart.yaml" {
            return Err(ChartError::new("chart yaml not in base directory"));
        }
        if size > remaining {
            return Err(ChartError::new(format!("decompressed chart is larger than the maximum size {MAX_DECOMPRESSED_CHART_SIZE}")));
        }
        if size > MAX_DECOMPRESSED_FILE_SIZE {
            return Err(ChartError::new(format!(
                "decompressed chart file {} is larger than the maximum file size {MAX_DECOMPRESSED_FILE_SIZE}",
                super::metadata::go_quote(&raw_name)
            )));
        }
        let mut buf = Vec::with_capacity(size as usize);
        let mut limited = entry.take(remaining);
        limited.read_to_end(&mut buf).map_err(|e| ChartError::new(archive_error(&e)))?;
        let written = buf.len() as u64;
        remaining -= written;
        if written < size || remaining == 0 {
            return Err(ChartError::new(format!("decompressed chart is larger than the maximum size {MAX_DECOMPRESSED_CHART_SIZE}")));
        }
        files.push(File::new(n, super::trim_bom(buf)));
    }
    if files.is_empty() {
        return Err(ChartError::new("no files in chart archive"));
    }
    Ok(files)
}

/// Go's words for a truncated stream; other errors as the reader words them.
fn archive_error(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        "unexpected EOF".into()
    } else {
        e.to_string()
    }
}
