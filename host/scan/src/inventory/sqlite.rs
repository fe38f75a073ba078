//! A minimal read-only SQLite reader for a database file held in memory:
//! the 100-byte header, the schema table, and the rows of a table b-tree
//! (interior and leaf pages, overflow chains, the record format), as
//! sqlite.org/fileformat.html documents them. Enough to read the rpmdb's
//! `Packages` table; no indexes, no WAL (a `-wal` file beside the database
//! is not applied — rpm checkpoints before it exits), no SQL. Every read is
//! bounds-checked and page visits are bounded, so a corrupt or hostile file
//! gives an error, never a panic or a loop. It must not write.

/// One column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

impl Value<'_> {
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Text(b) | Value::Blob(b) => Some(b),
            _ => None,
        }
    }
}

/// A database file.
pub struct Database<'a> {
    data: &'a [u8],
    page_size: usize,
    usable: usize,
}

fn err(what: impl Into<String>) -> String {
    what.into()
}

/// SQLite's big-endian varint (1–9 bytes) at `data[at..]`: the value and its length.
fn varint(data: &[u8], at: usize) -> Result<(u64, usize), String> {
    let mut v = 0u64;
    for i in 0..9 {
        let b = *data.get(at + i).ok_or_else(|| err("varint past the end of a page"))?;
        if i == 8 {
            return Ok(((v << 8) | u64::from(b), 9));
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err(err("varint too long"))
}

fn be(data: &[u8], at: usize, n: usize) -> Result<u64, String> {
    let b = data.get(at..at + n).ok_or_else(|| err("read past the end of a page"))?;
    Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
}

impl<'a> Database<'a> {
    pub fn open(data: &'a [u8]) -> Result<Database<'a>, String> {
        if data.len() < 100 || !data.starts_with(b"SQLite format 3\0") {
            return Err(err("not an SQLite 3 database (bad header)"));
        }
        let page_size = match be(data, 16, 2)? {
            1 => 65536,
            n if (512..=32768).contains(&n) && n.is_power_of_two() => n as usize,
            n => return Err(err(format!("page size {n} is invalid"))),
        };
        let reserved = data[20] as usize;
        let encoding = be(data, 56, 4)?;
        if encoding > 1 {
            return Err(err("text encoding is UTF-16; only UTF-8 databases are read"));
        }
        let usable = page_size.checked_sub(reserved).filter(|u| *u >= 480).ok_or_else(|| err("usable page size too small"))?;
        Ok(Database { data, page_size, usable })
    }

    fn page(&self, number: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(number).map_err(|_| err("page number too large"))?;
        if n == 0 {
            return Err(err("page 0 referenced"));
        }
        let start = (n - 1).checked_mul(self.page_size).ok_or_else(|| err("page number too large"))?;
        self.data.get(start..start + self.page_size).ok_or_else(|| err(format!("page {n} is past the end of the file (truncated database?)")))
    }

    /// The root page of table `name` (case-insensitive), from the schema table.
    pub fn table_root(&self, name: &str) -> Result<Option<u64>, String> {
        let mut root = None;
        self.rows(1, &mut |_, cols| {
            let is_table = cols.first().and_then(Value::bytes) == Some(b"table");
            let matches = cols.get(1).and_then(Value::bytes).is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()));
            if is_table && matches {
                if let Some(Value::Int(r)) = cols.get(3) {
                    root = Some(*r as u64);
                }
            }
        })?;
        Ok(root)
    }

    /// Calls `row(rowid, columns)` for each row of the table b-tree rooted at `root`, in rowid order.
    pub fn rows(&self, root: u64, row: &mut dyn FnMut(i64, &[Value<'_>])) -> Result<(), String> {
        let max_pages = self.data.len() / self.page_size + 1;
        let mut visited = 0usize;
        let mut stack = vec![root];
        while let Some(number) = stack.pop() {
            visited += 1;
            if visited > max_pages {
                return Err(err("b-tree visits more pages than the file has (a cycle)"));
            }
            let page = self.page(number)?;
            let header = if number == 1 { 100 } else { 0 };
            let kind = *page.get(header).ok_or_else(|| err("empty page"))?;
            let cells = be(page, header + 3, 2)? as usize;
            match kind {
                0x05 => {
                    let right = be(page, header + 8, 4)?;
                    // push in reverse so the leftmost child is visited first
                    stack.push(right);
                    for i in (0..cells).rev() {
                        let ptr = be(page, header + 12 + 2 * i, 2)? as usize;
                        stack.push(be(page, ptr, 4)?);
                    }
                }
                0x0d => {
                    for i in 0..cells {
                        let ptr = be(page, header + 8 + 2 * i, 2)? as usize;
                        let (size, a) = varint(page, ptr)?;
                        let (rowid, b) = varint(page, ptr + a)?;
                        let payload = self.payload(page, ptr + a + b, size)?;
                        let cols = record(&payload)?;
                        row(rowid as i64, &cols);
                    }
                }
                k => return Err(err(format!("page {number} is not a table b-tree page (type {k:#x})"))),
            }
        }
        Ok(())
    }

    /// A cell's payload of `size` bytes starting at `page[at..]`, following overflow pages.
    fn payload(&self, page: &'a [u8], at: usize, size: u64) -> Result<Payload<'a>, String> {
        let size = usize::try_from(size).map_err(|_| err("payload too large"))?;
        if size > self.data.len() {
            return Err(err("payload larger than the file"));
        }
        let u = self.usable;
        let x = u - 35;
        if size <= x {
            return Ok(Payload::Borrowed(page.get(at..at + size).ok_or_else(|| err("payload past the end of its page"))?));
        }
        let m = ((u - 12) * 32 / 255) - 23;
        let k = m + ((size - m) % (u - 4));
        let local = if k <= x { k } else { m };
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(page.get(at..at + local).ok_or_else(|| err("payload past the end of its page"))?);
        let mut next = be(page, at + local, 4)?;
        let mut hops = 0;
        while out.len() < size {
            hops += 1;
            if next == 0 || hops > self.data.len() / self.page_size + 1 {
                return Err(err("overflow chain ends early or loops"));
            }
            let p = self.page(next)?;
            next = be(p, 0, 4)?;
            let take = (size - out.len()).min(u - 4);
            out.extend_from_slice(p.get(4..4 + take).ok_or_else(|| err("overflow page short"))?);
        }
        Ok(Payload::Owned(out))
    }
}

enum Payload<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Payload<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Payload::Borrowed(b) => b,
            Payload::Owned(v) => v,
        }
    }
}

/// The values of a record (header of serial types, then the body).
fn record(payload: &[u8]) -> Result<Vec<Value<'_>>, String> {
    let (header_len, n) = varint(payload, 0)?;
    let header_len = header_len as usize;
    if header_len > payload.len() {
        return Err(err("record header longer than its record"));
    }
    let mut types = Vec::new();
    let mut at = n;
    while at < header_len {
        let (t, n) = varint(payload, at)?;
        types.push(t);
        at += n;
    }
    let mut body = header_len;
    let mut out = Vec::with_capacity(types.len());
    for t in types {
        let int = |len: usize| -> Result<i64, String> {
            let raw = be(payload, body, len)?;
            let shift = 64 - 8 * len as u32;
            Ok(((raw << shift) as i64) >> shift)
        };
        let (v, len) = match t {
            0 => (Value::Null, 0),
            1 => (Value::Int(int(1)?), 1),
            2 => (Value::Int(int(2)?), 2),
            3 => (Value::Int(int(3)?), 3),
            4 => (Value::Int(int(4)?), 4),
            5 => (Value::Int(int(6)?), 6),
            6 => (Value::Int(int(8)?), 8),
            7 => (Value::Float(f64::from_bits(be(payload, body, 8)?)), 8),
            8 => (Value::Int(0), 0),
            9 => (Value::Int(1), 0),
            10 | 11 => return Err(err("reserved serial type")),
            n => {
                let len = ((n - 12) / 2) as usize;
                let bytes = payload.get(body..body + len).ok_or_else(|| err("record value past its end"))?;
                (if n % 2 == 0 { Value::Blob(bytes) } else { Value::Text(bytes) }, len)
            }
        };
        out.push(v);
        body += len;
    }
    Ok(out)
}

/// Calls `row` for each row of table `table`; an error when the table is missing.
pub fn each_row(data: &[u8], table: &str, row: &mut dyn FnMut(i64, &[Value<'_>])) -> Result<(), String> {
    let db = Database::open(data)?;
    let root = db.table_root(table)?.ok_or_else(|| err(format!("no table {table}")))?;
    db.rows(root, row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_records_decode() {
        assert_eq!(varint(&[0x7f], 0).unwrap(), (0x7f, 1));
        assert_eq!(varint(&[0x81, 0x00], 0).unwrap(), (0x80, 2));
        assert_eq!(varint(&[0xff; 9], 0).unwrap(), (u64::MAX, 9));
        // header: len 4, types NULL, int8, text len 2 (17)
        let rec = [4u8, 0, 1, 17, 0xfe, b'h', b'i'];
        assert_eq!(record(&rec).unwrap(), vec![Value::Null, Value::Int(-2), Value::Text(b"hi")]);
        assert!(record(&[9u8, 0]).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Database::open(b"not sqlite").is_err());
        let mut fake = b"SQLite format 3\0".to_vec();
        fake.resize(100, 0);
        fake[16] = 0x10; // 4096
        assert!(each_row(&fake, "Packages", &mut |_, _| {}).is_err());
        fake.resize(4096, 0xff);
        assert!(each_row(&fake, "Packages", &mut |_, _| {}).is_err());
    }
}
