//! An image's layers read as the one filesystem a container sees, in a
//! single streaming pass: layers are read from the top down, so the first
//! time a path appears it is its final version (the layer that last wrote
//! it is the one reported), and later appearances, paths whited out
//! (`.wh.NAME`), paths under an opaque directory (`.wh..wh..opq`) and paths
//! under something an upper layer replaced with a file are skipped. Readers
//! (`Visitor`s) decide up front from a file's path, size and mode whether
//! they want it; only wanted files' contents are read (into one reused
//! buffer, one file at a time), everything else is skipped at tar speed.
//! Symlinks and hard links to wanted paths are resolved within the image;
//! a link whose target was already streamed past is served from the small
//! files already read (up to 64 KiB each, 8 MiB in all), else resolved by a
//! second read of just that target's layer. It must not interpret file contents.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use crate::layers::{self, LayerError, LayerSource};

/// A file as a visitor sees it.
#[derive(Debug, Clone, Copy)]
pub struct FileMeta<'a> {
    /// Absolute, normalised (`/usr/lib/os-release`). For a file reached
    /// through a link, the link's path.
    pub path: &'a str,
    pub size: u64,
    pub mode: u32,
    /// Digest of the layer that last wrote the file (the target's layer for a link).
    pub layer: &'a str,
    pub layer_index: usize,
    /// The path the contents really are at, when reached through a link.
    pub target: Option<&'a str>,
    /// Not in the final filesystem (deleted or overwritten by an upper
    /// layer) but still in this layer's blob; only `all_layers` visitors see these.
    pub shadowed: bool,
}

/// A reader of some of the image's files.
pub trait Visitor {
    /// Whether this visitor wants the file's contents, decided before any is
    /// read. Links are asked with `size` 0 and `mode` 0 first; if wanted they
    /// are asked again with their target's size and mode.
    fn wants(&self, path: &str, size: u64, mode: u32) -> bool;
    /// A wanted file's whole contents.
    fn file(&mut self, file: &FileMeta<'_>, contents: &[u8]);
    /// Whether this visitor also wants files that upper layers deleted or
    /// overwrote (they are still in the image: a secret scan wants them).
    fn all_layers(&self) -> bool {
        false
    }
}

/// What one walk read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkStats {
    pub layers: usize,
    /// Decompressed tar bytes read, all layers.
    pub tar_bytes: u64,
    /// Entries in all layers, and those that were final (not shadowed or whited out).
    pub entries: u64,
    pub final_entries: u64,
    /// Files whose contents were read, and their bytes.
    pub files_read: u64,
    pub bytes_read: u64,
    /// Wanted links whose target is not in the image, or could not be read again.
    pub unresolved_links: Vec<String>,
}

#[derive(Debug, Clone)]
enum Node {
    Dir,
    File,
    Link(String),
    Other,
}

#[derive(Debug, Default)]
struct Overlay {
    /// Final nodes: path -> (layer index, node).
    seen: HashMap<String, (usize, Node)>,
    /// Whiteouts and opaque directories of the layers above the current one.
    deleted: HashSet<String>,
    opaque: HashSet<String>,
}

impl Overlay {
    /// Whether `path` in layer `layer` is hidden by something above it.
    fn hidden(&self, path: &str, layer: usize) -> bool {
        if self.deleted.contains(path) {
            return true;
        }
        let mut end = path.len();
        while let Some(i) = path[..end].rfind('/') {
            let parent = &path[..i.max(1)];
            if self.deleted.contains(parent) || self.opaque.contains(parent) {
                return true;
            }
            if let Some((l, node)) = self.seen.get(parent) {
                if *l > layer && !matches!(node, Node::Dir) {
                    return true;
                }
            }
            if i == 0 {
                break;
            }
            end = i;
        }
        false
    }

    /// `path` with every symlinked component resolved through the final nodes known so far; `None` on a loop.
    fn resolve(&self, path: &str) -> Option<String> {
        let mut todo: Vec<String> = path.split('/').filter(|c| !c.is_empty()).rev().map(str::to_string).collect();
        let mut out = String::new();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match c.as_str() {
                "." => continue,
                ".." => {
                    let cut = out.rfind('/').unwrap_or(0);
                    out.truncate(cut);
                    continue;
                }
                _ => {}
            }
            let candidate = format!("{out}/{c}");
            if let Some((_, Node::Link(target))) = self.seen.get(&candidate) {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                if target.starts_with('/') {
                    out.clear();
                }
                todo.extend(target.split('/').filter(|c| !c.is_empty()).rev().map(str::to_string));
            } else {
                out = candidate;
            }
        }
        if out.is_empty() {
            out.push('/');
        }
        Some(out)
    }
}

/// `./usr//lib/` -> `/usr/lib`; `None` for the root itself.
fn normalise(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len() + 1);
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                let cut = out.rfind('/').unwrap_or(0);
                out.truncate(cut);
            }
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Files up to this size that were read are kept (up to `RECENT_TOTAL` in all) for links to them met later in the walk.
const RECENT_FILE: usize = 64 * 1024;
const RECENT_TOTAL: usize = 8 << 20;

/// A wanted link waiting for its target: the link path and which visitors want it.
#[derive(Debug, Clone)]
struct Waiting {
    link: String,
    visitors: Vec<usize>,
}

/// Reads `source`'s layers as one filesystem, handing each visitor the
/// files it wants.
pub fn walk(source: &mut dyn LayerSource, visitors: &mut [&mut dyn Visitor]) -> Result<WalkStats, LayerError> {
    let infos = source.layers().to_vec();
    let mut stats = WalkStats { layers: infos.len(), ..Default::default() };
    let mut overlay = Overlay::default();
    // resolved target path -> links waiting for it
    let mut waiting: HashMap<String, Vec<Waiting>> = HashMap::new();
    let mut buf = Vec::new();
    let mut want_mask = Vec::with_capacity(visitors.len());
    let any_all_layers = visitors.iter().any(|v| v.all_layers());
    // Small final files already read, for links met later to them (in the same or a lower layer).
    let mut recent: HashMap<String, (Vec<u8>, u64, u32, usize)> = HashMap::new();
    let mut recent_bytes = 0usize;

    for index in (0..infos.len()).rev() {
        let info = &infos[index];
        let blob = source.open(index)?;
        let (_, tar_stream) = layers::decompress(&info.digest, &info.media_type, blob)?;
        let mut counted = Counted { inner: tar_stream, n: 0 };
        let mut archive = tar::Archive::new(&mut counted);
        let read_err = |what: String, source: std::io::Error| LayerError::Read { layer: info.digest.clone(), what, source };
        let mut new_deleted = Vec::new();
        let mut new_opaque = Vec::new();
        let entries = archive.entries().map_err(|e| read_err("the tar stream".into(), e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| read_err("a tar header".into(), e))?;
            stats.entries += 1;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(path) = normalise(&raw) else { continue };
            let name = &path[path.rfind('/').map_or(0, |i| i + 1)..];
            if let Some(rest) = name.strip_prefix(".wh.") {
                if rest == ".wh..opq" {
                    new_opaque.push(parent_of(&path).to_string());
                } else if !rest.starts_with(".wh.") {
                    let dir = parent_of(&path);
                    new_deleted.push(if dir == "/" { format!("/{rest}") } else { format!("{dir}/{rest}") });
                }
                continue;
            }
            let shadowed = overlay.hidden(&path, index) || overlay.seen.get(&path).is_some_and(|(l, _)| *l > index);
            if shadowed {
                if any_all_layers && entry.header().entry_type().is_file() {
                    let (size, mode) = (entry.header().size().unwrap_or(0), entry.header().mode().unwrap_or(0));
                    want_mask.clear();
                    want_mask.extend(visitors.iter().map(|v| v.all_layers() && v.wants(&path, size, mode)));
                    if want_mask.iter().any(|w| *w) {
                        buf.clear();
                        entry.read_to_end(&mut buf).map_err(|e| read_err(format!("{path} ({size} bytes)"), e))?;
                        stats.files_read += 1;
                        stats.bytes_read += buf.len() as u64;
                        let meta = FileMeta { path: &path, size, mode, layer: &info.digest, layer_index: index, target: None, shadowed: true };
                        for (v, wanted) in visitors.iter_mut().zip(&want_mask) {
                            if *wanted {
                                v.file(&meta, &buf);
                            }
                        }
                    }
                }
                continue;
            }
            stats.final_entries += 1;
            let header = entry.header();
            let kind = header.entry_type();
            let mode = header.mode().unwrap_or(0);
            let size = header.size().unwrap_or(0);
            if kind.is_dir() {
                overlay.seen.insert(path, (index, Node::Dir));
                continue;
            }
            if kind.is_symlink() || kind.is_hard_link() {
                let target_raw = entry.link_name_bytes().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
                // A symlink is relative to its directory; a hard link names a path in the archive.
                let target = if kind.is_hard_link() || target_raw.starts_with('/') { format!("/{target_raw}") } else { format!("{}/{target_raw}", parent_of(&path)) };
                let target = normalise(&target).unwrap_or_else(|| "/".to_string());
                let wanted: Vec<usize> = visitors.iter().enumerate().filter(|(_, v)| v.wants(&path, 0, 0)).map(|(i, _)| i).collect();
                overlay.seen.insert(path.clone(), (index, Node::Link(target)));
                if !wanted.is_empty() {
                    if let Some(resolved) = overlay.resolve(&path) {
                        let w = Waiting { link: path, visitors: wanted };
                        match recent.get(&resolved) {
                            // the target was read already in this walk: no second read needed
                            Some((contents, size, mode, l)) => deliver(visitors, &w, &resolved, *size, *mode, &infos[*l].digest, *l, contents),
                            None => waiting.entry(resolved).or_default().push(w),
                        }
                    } else {
                        stats.unresolved_links.push(path);
                    }
                }
                continue;
            }
            if !kind.is_file() && kind != tar::EntryType::Continuous {
                overlay.seen.insert(path, (index, Node::Other));
                continue;
            }
            want_mask.clear();
            want_mask.extend(visitors.iter().map(|v| v.wants(&path, size, mode)));
            let links = waiting.remove(&path);
            let any = want_mask.iter().any(|w| *w) || links.is_some();
            if any {
                buf.clear();
                entry.read_to_end(&mut buf).map_err(|e| read_err(format!("{path} ({size} bytes)"), e))?;
                stats.files_read += 1;
                stats.bytes_read += buf.len() as u64;
                let meta = FileMeta { path: &path, size, mode, layer: &info.digest, layer_index: index, target: None, shadowed: false };
                for (v, wanted) in visitors.iter_mut().zip(&want_mask) {
                    if *wanted {
                        v.file(&meta, &buf);
                    }
                }
                for w in links.unwrap_or_default() {
                    deliver(visitors, &w, &path, size, mode, &info.digest, index, &buf);
                }
                if buf.len() <= RECENT_FILE && recent_bytes + buf.len() <= RECENT_TOTAL {
                    recent_bytes += buf.len();
                    recent.insert(path.clone(), (buf.clone(), size, mode, index));
                }
            }
            overlay.seen.insert(path, (index, Node::File));
        }
        stats.tar_bytes += counted.n;
        overlay.deleted.extend(new_deleted);
        overlay.opaque.extend(new_opaque);
    }

    // Links whose target was streamed past (or sits behind a symlink learnt later): read again, narrowly.
    let mut again: HashMap<usize, HashMap<String, Vec<Waiting>>> = HashMap::new();
    for (target, ws) in waiting {
        let resolved = overlay.resolve(&target);
        match resolved.as_ref().and_then(|r| overlay.seen.get(r).map(|s| (r, s))) {
            Some((r, (layer, Node::File))) => again.entry(*layer).or_default().entry(r.clone()).or_default().extend(ws),
            _ => stats.unresolved_links.extend(ws.into_iter().map(|w| w.link)),
        }
    }
    if !again.is_empty() && !source.reopenable() {
        for ws in again.into_values().flat_map(|m| m.into_values()) {
            stats.unresolved_links.extend(ws.into_iter().map(|w| w.link));
        }
        again = HashMap::new();
    }
    let mut layers_again: Vec<usize> = again.keys().copied().collect();
    layers_again.sort_unstable();
    for index in layers_again.into_iter().rev() {
        let mut targets = again.remove(&index).unwrap_or_default();
        let info = &infos[index];
        let blob = source.open(index)?;
        let (_, tar_stream) = layers::decompress(&info.digest, &info.media_type, blob)?;
        let mut archive = tar::Archive::new(tar_stream);
        let read_err = |what: String, source: std::io::Error| LayerError::Read { layer: info.digest.clone(), what, source };
        for entry in archive.entries().map_err(|e| read_err("the tar stream".into(), e))? {
            if targets.is_empty() {
                break;
            }
            let mut entry = entry.map_err(|e| read_err("a tar header".into(), e))?;
            let Some(path) = normalise(&String::from_utf8_lossy(&entry.path_bytes())) else { continue };
            if !entry.header().entry_type().is_file() {
                continue;
            }
            if let Some(ws) = targets.remove(&path) {
                let (size, mode) = (entry.header().size().unwrap_or(0), entry.header().mode().unwrap_or(0));
                buf.clear();
                entry.read_to_end(&mut buf).map_err(|e| read_err(format!("{path} ({size} bytes)"), e))?;
                stats.files_read += 1;
                stats.bytes_read += buf.len() as u64;
                for w in ws {
                    deliver(visitors, &w, &path, size, mode, &info.digest, index, &buf);
                }
            }
        }
        stats.unresolved_links.extend(targets.into_values().flatten().map(|w| w.link));
    }
    stats.unresolved_links.sort();
    Ok(stats)
}

#[allow(clippy::too_many_arguments)]
fn deliver(visitors: &mut [&mut dyn Visitor], w: &Waiting, target: &str, size: u64, mode: u32, layer: &str, layer_index: usize, contents: &[u8]) {
    let meta = FileMeta { path: &w.link, size, mode, layer, layer_index, target: Some(target), shadowed: false };
    for &i in &w.visitors {
        if visitors[i].wants(&w.link, size, mode) {
            visitors[i].file(&meta, contents);
        }
    }
}

struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_and_links_resolved_through_known_symlinks() {
        assert_eq!(normalise("./usr//lib/").as_deref(), Some("/usr/lib"));
        assert_eq!(normalise("./"), None);
        assert_eq!(normalise("a/../b").as_deref(), Some("/b"));
        let mut o = Overlay::default();
        o.seen.insert("/lib".into(), (0, Node::Link("/usr/lib".into())));
        o.seen.insert("/etc/os-release".into(), (0, Node::Link("/etc/../usr/lib/os-release".into())));
        assert_eq!(o.resolve("/lib/apk/db").as_deref(), Some("/usr/lib/apk/db"));
        assert_eq!(o.resolve("/etc/os-release").as_deref(), Some("/usr/lib/os-release"));
        o.seen.insert("/loop".into(), (0, Node::Link("/loop".into())));
        assert_eq!(o.resolve("/loop/x"), None);
    }
}
