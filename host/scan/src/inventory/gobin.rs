//! Go binaries' build information: the `.go.buildinfo` blob a Go ≥ 1.18
//! linker writes (found by ELF section; in a file without a section table,
//! or not ELF, by its 16-byte-aligned magic anywhere): a 32-byte header
//! (magic `\xff Go buildinf:`, pointer size, flags), then — when the flags
//! say the strings are inline — the Go version and the module info as
//! varint-length-prefixed strings; the module info's lines (`path`, `mod`,
//! `dep`, `=>` for a replacement) give the main module and its
//! dependencies. Older binaries keep pointers to the strings instead; they
//! are reported as unreadable, not guessed at. It must not execute anything.

use super::elf;

const MAGIC: &[u8] = b"\xff Go buildinf:";
const FLAG_INLINE: u8 = 0x2;

/// What a Go binary says about how it was built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoBuildInfo {
    /// `go1.22.5`.
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    /// The main module and its version (`(devel)` for a local build).
    pub main: Option<(String, String)>,
    /// Dependencies as built: a replaced module is reported as its replacement when that has a version.
    pub deps: Vec<(String, String)>,
}

/// Why a Go binary's build info could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoError {
    /// Built before Go 1.18 (strings behind pointers).
    PointerFormat,
    Truncated,
}

/// The build info of `data`, `Ok(None)` when it is not a Go binary.
pub fn read(data: &[u8]) -> Result<Option<GoBuildInfo>, GoError> {
    let blob = match elf::sections(data) {
        // an ELF file with a section table: the section or nothing (no scan of the whole file)
        Some(sections) => match sections.into_iter().find(|(n, _)| *n == b".go.buildinfo") {
            Some((_, s)) if s.starts_with(MAGIC) => s,
            _ => return Ok(None),
        },
        None => match memchr::memmem::find_iter(data, MAGIC).find(|o| o % 16 == 0) {
            Some(o) => &data[o..],
            None => return Ok(None),
        },
    };
    if blob.len() < 32 {
        return Err(GoError::Truncated);
    }
    if blob[15] & FLAG_INLINE == 0 {
        return Err(GoError::PointerFormat);
    }
    let mut rest = &blob[32..];
    let version = string(&mut rest).ok_or(GoError::Truncated)?;
    let modinfo = string(&mut rest).ok_or(GoError::Truncated)?;
    let mut info = GoBuildInfo { go_version: String::from_utf8_lossy(version).into_owned(), ..Default::default() };
    // The module info is framed by 16-byte sentinels.
    let modinfo = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' { &modinfo[16..modinfo.len() - 16] } else { modinfo };
    for line in String::from_utf8_lossy(modinfo).lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["path", p, ..] => info.path = p.to_string(),
            ["mod", p, v, ..] => info.main = Some((p.to_string(), v.to_string())),
            ["dep", p, v, ..] => info.deps.push((p.to_string(), v.to_string())),
            ["=>", p, v, ..] if !v.is_empty() => {
                if let Some(last) = info.deps.last_mut() {
                    *last = (p.to_string(), v.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(Some(info))
}

fn string<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (mut n, mut shift, mut i) = (0u64, 0u32, 0usize);
    loop {
        let b = *rest.get(i)?;
        n |= u64::from(b & 0x7f).checked_shl(shift)?;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let end = i.checked_add(usize::try_from(n).ok()?)?;
    let s = rest.get(i..end)?;
    *rest = &rest[end..];
    Some(s)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A build info blob as Go ≥ 1.18 writes it (for tests).
    pub fn blob(version: &str, modinfo: &str) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[8, FLAG_INLINE]);
        b.resize(32, 0);
        let framed = format!("{}{modinfo}{}", "0".repeat(16), "1".repeat(16));
        for s in [version, framed.as_str()] {
            let mut n = s.len();
            while n >= 0x80 {
                b.push((n as u8) | 0x80);
                n >>= 7;
            }
            b.push(n as u8);
            b.extend_from_slice(s.as_bytes());
        }
        b
    }

    #[test]
    fn modules_and_replacements_are_read_from_the_blob() {
        let modinfo = "path\texample.com/app\nmod\texample.com/app\tv1.2.0\th1:x=\ndep\tgolang.org/x/net\tv0.17.0\th1:y=\ndep\tgithub.com/a/b\tv1.0.0\th1:z=\n=>\tgithub.com/fork/b\tv1.0.1\th1:w=\nbuild\tGOOS=linux\n";
        let elf = super::elf::tests::elf_with(&[(".go.buildinfo", &blob("go1.22.5", modinfo))]);
        let info = read(&elf).unwrap().unwrap();
        assert_eq!(info.go_version, "go1.22.5");
        assert_eq!(info.path, "example.com/app");
        assert_eq!(info.main, Some(("example.com/app".into(), "v1.2.0".into())));
        assert_eq!(info.deps, [("golang.org/x/net".to_string(), "v0.17.0".to_string()), ("github.com/fork/b".to_string(), "v1.0.1".to_string())]);
        // without section headers the aligned magic is found
        let mut raw = vec![0u8; 64];
        raw.extend_from_slice(&blob("go1.21.0", "path\tx\n"));
        assert_eq!(read(&raw).unwrap().unwrap().go_version, "go1.21.0");
        let mut old = blob("go1.16", "");
        old[15] = 0;
        assert_eq!(read(&old), Err(GoError::PointerFormat));
        assert_eq!(read(b"\x7fELF not go"), Ok(None));
    }
}
