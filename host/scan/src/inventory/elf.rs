//! Just enough ELF to find a named section's bytes in an executable held in
//! memory (32/64-bit, either byte order): the section header table and its
//! string table. Bounds are checked on every read; a malformed file gives
//! `None`. It must not interpret section contents.

/// The bytes of section `name`, if the file is ELF and has it.
pub fn section<'a>(data: &'a [u8], name: &str) -> Option<&'a [u8]> {
    sections(data)?.into_iter().find(|(n, _)| *n == name.as_bytes()).map(|(_, d)| d)
}

/// Whether `data` starts like an ELF file.
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// Every section's (name, bytes); `None` when `data` is not ELF or has no readable section table.
pub fn sections(data: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    if !is_elf(data) || data.len() < 52 {
        return None;
    }
    let wide = match data[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big = match data[5] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let u16_at = |o: usize| -> Option<u64> {
        let b: [u8; 2] = data.get(o..o + 2)?.try_into().ok()?;
        Some(if big { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) } as u64)
    };
    let u32_at = |o: usize| -> Option<u64> {
        let b: [u8; 4] = data.get(o..o + 4)?.try_into().ok()?;
        Some(if big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) } as u64)
    };
    let u64_at = |o: usize| -> Option<u64> {
        let b: [u8; 8] = data.get(o..o + 8)?.try_into().ok()?;
        Some(if big { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) })
    };
    let word = |o: usize| if wide { u64_at(o) } else { u32_at(o) };
    let (shoff, shentsize, shnum, shstrndx) = if wide { (u64_at(0x28)?, u16_at(0x3a)?, u16_at(0x3c)?, u16_at(0x3e)?) } else { (u32_at(0x20)?, u16_at(0x2e)?, u16_at(0x30)?, u16_at(0x32)?) };
    if shoff == 0 || shnum == 0 || shentsize < if wide { 64 } else { 40 } {
        return None;
    }
    // (name offset, file offset, size, type) of section i
    let header = |i: u64| -> Option<(u64, u64, u64, u64)> {
        let base = usize::try_from(shoff.checked_add(i.checked_mul(shentsize)?)?).ok()?;
        let name = u32_at(base)?;
        let kind = u32_at(base + 4)?;
        let (offset, size) = if wide { (word(base + 0x18)?, word(base + 0x20)?) } else { (word(base + 0x10)?, word(base + 0x14)?) };
        Some((name, offset, size, kind))
    };
    let slice = |offset: u64, size: u64| -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(size).ok()?)?;
        data.get(start..end)
    };
    let (_, str_off, str_size, _) = header(shstrndx)?;
    let strings = slice(str_off, str_size)?;
    let mut out = Vec::with_capacity(shnum as usize);
    for i in 0..shnum {
        let Some((name, offset, size, kind)) = header(i) else { continue };
        let Some(rest) = strings.get(name as usize..) else { continue };
        let name = &rest[..memchr::memchr(0, rest).unwrap_or(rest.len())];
        // SHT_NOBITS (8) has no bytes in the file
        let bytes = if kind == 8 { &[][..] } else { slice(offset, size).unwrap_or(&[]) };
        out.push((name, bytes));
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    /// A minimal 64-bit little-endian ELF with the given sections (for tests).
    pub fn elf_with(sections: &[(&str, &[u8])]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut names = Vec::new();
        for (n, _) in sections.iter().map(|(n, d)| (*n, *d)).chain([(".shstrtab", &[][..])]) {
            names.push(strtab.len() as u32);
            strtab.extend_from_slice(n.as_bytes());
            strtab.push(0);
        }
        let mut data = vec![0u8; 64];
        data[..4].copy_from_slice(b"\x7fELF");
        data[4] = 2;
        data[5] = 1;
        let mut offsets = Vec::new();
        for (_, d) in sections {
            offsets.push((data.len() as u64, d.len() as u64));
            data.extend_from_slice(d);
        }
        offsets.push((data.len() as u64, strtab.len() as u64));
        data.extend_from_slice(&strtab);
        let shoff = data.len() as u64;
        // the null section, then ours
        data.extend_from_slice(&[0u8; 64]);
        for (i, (off, size)) in offsets.iter().enumerate() {
            let mut h = [0u8; 64];
            h[..4].copy_from_slice(&names[i].to_le_bytes());
            h[4..8].copy_from_slice(&1u32.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&off.to_le_bytes());
            h[0x20..0x28].copy_from_slice(&size.to_le_bytes());
            data.extend_from_slice(&h);
        }
        let shnum = offsets.len() as u16 + 1;
        data[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        data[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        data[0x3c..0x3e].copy_from_slice(&shnum.to_le_bytes());
        data[0x3e..0x40].copy_from_slice(&(shnum - 1).to_le_bytes());
        data
    }

    #[test]
    fn a_named_section_is_found_and_garbage_is_not_elf() {
        let elf = elf_with(&[(".text", b"code"), (".dep-v0", b"zz")]);
        assert_eq!(super::section(&elf, ".dep-v0"), Some(&b"zz"[..]));
        assert_eq!(super::section(&elf, ".go.buildinfo"), None);
        assert_eq!(super::section(b"\x7fELF\x02\x01garbage", ".text"), None);
        let mut truncated = elf.clone();
        truncated.truncate(70);
        assert_eq!(super::section(&truncated, ".text"), None);
    }
}
