//! rpm's package database in its SQLite form (`rpmdb.sqlite`, RHEL 9,
//! Fedora ≥ 33, Rocky/Alma 9, recent SUSE): each row of the `Packages`
//! table is an rpm header blob — an index of (tag, type, offset, count)
//! entries over a data store — from which NAME, EPOCH, VERSION, RELEASE,
//! ARCH, SOURCERPM and LICENSE are read. The older Berkeley DB and NDB
//! databases (RHEL ≤ 8) are not read. `gpg-pubkey` pseudo-packages are
//! left out. It must not read files other than the database.

use super::sqlite;

const TAG_NAME: i32 = 1000;
const TAG_VERSION: i32 = 1001;
const TAG_RELEASE: i32 = 1002;
const TAG_EPOCH: i32 = 1003;
const TAG_LICENSE: i32 = 1014;
const TAG_ARCH: i32 = 1022;
const TAG_SOURCERPM: i32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_I18NSTRING: u32 = 9;

/// One installed rpm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpmPackage {
    pub name: String,
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    pub arch: String,
    pub source_rpm: Option<String>,
    pub license: Option<String>,
}

/// The packages of an `rpmdb.sqlite` file; a header that cannot be parsed fails the whole file (it is corrupt).
pub fn read_sqlite(db: &[u8]) -> Result<Vec<RpmPackage>, String> {
    let mut out = Vec::new();
    let mut bad = None;
    sqlite::each_row(db, "Packages", &mut |rowid, cols| {
        let Some(blob) = cols.get(1).and_then(sqlite::Value::bytes) else { return };
        match parse_header(blob) {
            Ok(p) if p.name == "gpg-pubkey" => {}
            Ok(p) => out.push(p),
            Err(e) => {
                bad.get_or_insert(format!("Packages row {rowid}: {e}"));
            }
        }
    })
    .map_err(|e| format!("rpmdb.sqlite: {e}"))?;
    match bad {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// An rpm header blob as the rpmdb stores it (no lead, no magic): `il`, `dl`, `il` index entries, the data store.
pub fn parse_header(blob: &[u8]) -> Result<RpmPackage, String> {
    let u32_at = |o: usize| -> Result<u32, String> { blob.get(o..o + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok_or_else(|| "header truncated".to_string()) };
    let il = u32_at(0)? as usize;
    let dl = u32_at(4)? as usize;
    let store_at = il.checked_mul(16).and_then(|n| n.checked_add(8)).ok_or("header index too large")?;
    let store = blob.get(store_at..store_at.checked_add(dl).ok_or("header data too large")?).ok_or("header data store truncated")?;
    let mut p = RpmPackage::default();
    for i in 0..il {
        let e = 8 + 16 * i;
        let (tag, kind, offset, count) = (u32_at(e)? as i32, u32_at(e + 4)?, u32_at(e + 8)? as usize, u32_at(e + 12)?);
        let string = || -> Result<String, String> {
            let rest = store.get(offset..).ok_or("string offset past the data store")?;
            let end = memchr::memchr(0, rest).ok_or("string not terminated")?;
            Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        let is_string = kind == TYPE_STRING || kind == TYPE_I18NSTRING;
        match tag {
            TAG_NAME if is_string => p.name = string()?,
            TAG_VERSION if is_string => p.version = string()?,
            TAG_RELEASE if is_string => p.release = string()?,
            TAG_ARCH if is_string => p.arch = string()?,
            TAG_SOURCERPM if is_string => p.source_rpm = Some(string()?),
            TAG_LICENSE if is_string => p.license = Some(string()?),
            TAG_EPOCH if kind == TYPE_INT32 && count >= 1 => {
                let b = store.get(offset..offset + 4).ok_or("epoch past the data store")?;
                p.epoch = Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            }
            _ => {}
        }
    }
    if p.name.is_empty() || p.version.is_empty() {
        return Err("header has no NAME or VERSION".into());
    }
    Ok(p)
}

/// `openssl-3.0.7-27.el9.src.rpm` -> (`openssl`, `3.0.7-27.el9`).
pub fn split_source_rpm(s: &str) -> Option<(&str, &str)> {
    let base = s.strip_suffix(".src.rpm").or_else(|| s.strip_suffix(".nosrc.rpm"))?;
    let (rest, _release) = base.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    Some((name, &base[name.len() + 1..]))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A header blob with the given string tags and an optional epoch (for tests).
    pub fn header(strings: &[(i32, &str)], epoch: Option<u32>) -> Vec<u8> {
        let mut index = Vec::new();
        let mut store = Vec::new();
        if let Some(e) = epoch {
            index.push((TAG_EPOCH, TYPE_INT32, store.len() as u32, 1u32));
            store.extend_from_slice(&e.to_be_bytes());
        }
        for (tag, s) in strings {
            index.push((*tag, TYPE_STRING, store.len() as u32, 1));
            store.extend_from_slice(s.as_bytes());
            store.push(0);
        }
        let mut b = Vec::new();
        b.extend_from_slice(&(index.len() as u32).to_be_bytes());
        b.extend_from_slice(&(store.len() as u32).to_be_bytes());
        for (t, k, o, c) in index {
            for v in [t as u32, k, o, c] {
                b.extend_from_slice(&v.to_be_bytes());
            }
        }
        b.extend_from_slice(&store);
        b
    }


    #[test]
    fn header_tags_are_read_and_source_rpms_split() {
        let h = header(&[(TAG_NAME, "openssl-libs"), (TAG_VERSION, "3.0.7"), (TAG_RELEASE, "27.el9"), (TAG_ARCH, "x86_64"), (TAG_SOURCERPM, "openssl-3.0.7-27.el9.src.rpm"), (TAG_LICENSE, "ASL 2.0")], Some(1));
        let p = parse_header(&h).unwrap();
        assert_eq!((p.name.as_str(), p.epoch, p.version.as_str(), p.release.as_str(), p.arch.as_str()), ("openssl-libs", Some(1), "3.0.7", "27.el9", "x86_64"));
        assert_eq!(split_source_rpm(p.source_rpm.as_deref().unwrap()), Some(("openssl", "3.0.7-27.el9")));
        assert!(parse_header(&h[..20]).is_err());
        assert!(parse_header(&header(&[(TAG_NAME, "x")], None)).is_err());
    }
}
