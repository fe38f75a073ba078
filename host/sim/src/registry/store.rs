//! A simulated registry's content, in memory: blobs (layers, configs and
//! manifests alike) stored once by digest, repositories that link blobs,
//! manifests (with their media type and OCI subject) and tags, and the
//! upload sessions in progress. Bounded: blobs and unfinished uploads
//! together may hold at most `max_bytes`; past that a write is refused
//! (`StoreError::Full`), never an old blob evicted. A blob no repository
//! links any more is dropped at once (no separate garbage collection).
//!
//! This file owns the bookkeeping and its invariants (a linked digest is
//! stored; the byte count is the sum of what is held). It must not speak
//! HTTP or decide who may do what (`api.rs` and `auth.rs` do), and it
//! never parses manifests (the caller hands over what it found in them).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256, Sha512};

/// The digest of `data` with `algorithm` (`sha256` or `sha512`), or None for another algorithm.
pub fn digest_with(algorithm: &str, data: &[u8]) -> Option<String> {
    match algorithm {
        "sha256" => Some(format!("sha256:{}", hex::encode(Sha256::digest(data)))),
        "sha512" => Some(format!("sha512:{}", hex::encode(Sha512::digest(data)))),
        _ => None,
    }
}

/// A manifest as a repository holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// The OCI `subject` it refers to (for the referrers API).
    pub subject: Option<String>,
    /// `artifactType`, else the config's media type (what the referrers API reports).
    pub artifact_type: Option<String>,
    /// `annotations`, for the referrers API.
    pub annotations: Option<serde_json::Value>,
}

#[derive(Default)]
struct Repo {
    blobs: HashSet<String>,
    manifests: HashMap<String, StoredManifest>,
    tags: BTreeMap<String, String>,
}

/// An upload in progress.
struct Upload {
    repo: String,
    data: BytesMut,
}

#[derive(Default)]
struct Inner {
    blobs: HashMap<String, Bytes>,
    repos: BTreeMap<String, Repo>,
    uploads: HashMap<String, Upload>,
    /// Bytes in `blobs` plus bytes in `uploads`.
    held: u64,
}

/// Why the store refused a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the simulated registry holds at most {max} bytes in memory and {held} are held; this write needs {more} more")]
    Full { max: u64, held: u64, more: u64 },
    #[error("upload {0} is unknown (finished, cancelled or never started)")]
    UploadUnknown(String),
    #[error("upload {0} belongs to another repository")]
    UploadElsewhere(String),
}

/// The content of one registry. Cheap to share behind an `Arc`.
pub struct Store {
    inner: Mutex<Inner>,
    max_bytes: u64,
}

impl Store {
    pub fn new(max_bytes: u64) -> Store {
        Store { inner: Mutex::new(Inner::default()), max_bytes }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reserve(&self, inner: &Inner, more: u64) -> Result<(), StoreError> {
        if inner.held.saturating_add(more) > self.max_bytes {
            return Err(StoreError::Full { max: self.max_bytes, held: inner.held, more });
        }
        Ok(())
    }

    /// Bytes held (blobs and unfinished uploads).
    pub fn held(&self) -> u64 {
        self.lock().held
    }

    /// The blob `digest` when repository `repo` links it.
    pub fn blob(&self, repo: &str, digest: &str) -> Option<Bytes> {
        let inner = self.lock();
        let linked = inner.repos.get(repo).is_some_and(|r| r.blobs.contains(digest));
        if linked {
            inner.blobs.get(digest).cloned()
        } else {
            None
        }
    }

    /// Whether repository `repo` exists (something was pushed or mounted into it).
    pub fn has_repo(&self, repo: &str) -> bool {
        self.lock().repos.contains_key(repo)
    }

    /// Whether `repo` links blob `digest`.
    pub fn has_blob(&self, repo: &str, digest: &str) -> bool {
        self.lock().repos.get(repo).is_some_and(|r| r.blobs.contains(digest))
    }

    /// Stores `data` (whose digest the caller verified) and links it into `repo`.
    pub fn put_blob(&self, repo: &str, digest: &str, data: Bytes) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if !inner.blobs.contains_key(digest) {
            self.reserve(&inner, data.len() as u64)?;
            inner.held += data.len() as u64;
            inner.blobs.insert(digest.to_string(), data);
        }
        inner.repos.entry(repo.to_string()).or_default().blobs.insert(digest.to_string());
        Ok(())
    }

    /// Links blob `digest` of repository `from` into `repo` (a cross-repository
    /// mount); false when `from` does not link it.
    pub fn mount(&self, repo: &str, digest: &str, from: &str) -> bool {
        let mut inner = self.lock();
        let mountable = inner.repos.get(from).is_some_and(|r| r.blobs.contains(digest)) && inner.blobs.contains_key(digest);
        if mountable {
            inner.repos.entry(repo.to_string()).or_default().blobs.insert(digest.to_string());
        }
        mountable
    }

    /// Unlinks blob `digest` from `repo`; false when it was not linked.
    pub fn delete_blob(&self, repo: &str, digest: &str) -> bool {
        let mut inner = self.lock();
        let removed = inner.repos.get_mut(repo).is_some_and(|r| r.blobs.remove(digest));
        if removed {
            drop_if_unreferenced(&mut inner, digest);
        }
        removed
    }

    /// Starts an upload into `repo` under `id`.
    pub fn start_upload(&self, repo: &str, id: &str) {
        self.lock().uploads.insert(id.to_string(), Upload { repo: repo.to_string(), data: BytesMut::new() });
    }

    /// The bytes an upload of `repo` holds so far.
    pub fn upload_len(&self, repo: &str, id: &str) -> Result<u64, StoreError> {
        let inner = self.lock();
        let upload = inner.uploads.get(id).ok_or_else(|| StoreError::UploadUnknown(id.to_string()))?;
        if upload.repo != repo {
            return Err(StoreError::UploadElsewhere(id.to_string()));
        }
        Ok(upload.data.len() as u64)
    }

    /// Appends `chunk` to an upload; `at` (a Content-Range start) must be its
    /// current length. Ok(new length), or Err(Ok(current length)) when `at` is
    /// not where the upload stands.
    pub fn append(&self, repo: &str, id: &str, at: Option<u64>, chunk: &[u8]) -> Result<Result<u64, u64>, StoreError> {
        let mut inner = self.lock();
        let current = {
            let upload = inner.uploads.get(id).ok_or_else(|| StoreError::UploadUnknown(id.to_string()))?;
            if upload.repo != repo {
                return Err(StoreError::UploadElsewhere(id.to_string()));
            }
            upload.data.len() as u64
        };
        if at.is_some_and(|a| a != current) {
            return Ok(Err(current));
        }
        self.reserve(&inner, chunk.len() as u64)?;
        inner.held += chunk.len() as u64;
        let upload = inner.uploads.get_mut(id).ok_or_else(|| StoreError::UploadUnknown(id.to_string()))?;
        upload.data.extend_from_slice(chunk);
        Ok(Ok(upload.data.len() as u64))
    }

    /// Ends an upload and hands back its bytes (the caller verifies and stores them).
    pub fn take_upload(&self, repo: &str, id: &str) -> Result<Bytes, StoreError> {
        let mut inner = self.lock();
        match inner.uploads.get(id) {
            None => return Err(StoreError::UploadUnknown(id.to_string())),
            Some(u) if u.repo != repo => return Err(StoreError::UploadElsewhere(id.to_string())),
            Some(_) => {}
        }
        let upload = inner.uploads.remove(id).ok_or_else(|| StoreError::UploadUnknown(id.to_string()))?;
        inner.held -= upload.data.len() as u64;
        Ok(upload.data.freeze())
    }

    /// The manifest `digest` of `repo`, with its bytes.
    pub fn manifest(&self, repo: &str, digest: &str) -> Option<(StoredManifest, Bytes)> {
        let inner = self.lock();
        let m = inner.repos.get(repo)?.manifests.get(digest)?.clone();
        let bytes = inner.blobs.get(digest)?.clone();
        Some((m, bytes))
    }

    /// The digest tag `tag` of `repo` points at.
    pub fn tag(&self, repo: &str, tag: &str) -> Option<String> {
        self.lock().repos.get(repo)?.tags.get(tag).cloned()
    }

    /// Stores a manifest into `repo` (and tags it). The caller checked that what it references is there.
    pub fn put_manifest(&self, repo: &str, manifest: StoredManifest, bytes: Bytes, tag: Option<&str>) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let digest = manifest.digest.clone();
        if !inner.blobs.contains_key(&digest) {
            self.reserve(&inner, bytes.len() as u64)?;
            inner.held += bytes.len() as u64;
            inner.blobs.insert(digest.clone(), bytes);
        }
        let r = inner.repos.entry(repo.to_string()).or_default();
        r.manifests.insert(digest.clone(), manifest);
        if let Some(tag) = tag {
            r.tags.insert(tag.to_string(), digest);
        }
        Ok(())
    }

    /// Whether `repo` holds manifest `digest`.
    pub fn has_manifest(&self, repo: &str, digest: &str) -> bool {
        self.lock().repos.get(repo).is_some_and(|r| r.manifests.contains_key(digest))
    }

    /// Deletes manifest `digest` of `repo` and every tag pointing at it; false when absent.
    pub fn delete_manifest(&self, repo: &str, digest: &str) -> bool {
        let mut inner = self.lock();
        let Some(r) = inner.repos.get_mut(repo) else { return false };
        if r.manifests.remove(digest).is_none() {
            return false;
        }
        r.tags.retain(|_, d| d != digest);
        drop_if_unreferenced(&mut inner, digest);
        true
    }

    /// Deletes tag `tag` of `repo` (the manifest stays); false when absent.
    pub fn delete_tag(&self, repo: &str, tag: &str) -> bool {
        self.lock().repos.get_mut(repo).is_some_and(|r| r.tags.remove(tag).is_some())
    }

    /// The tags of `repo` in lexical order, None when the repository is unknown.
    pub fn tags(&self, repo: &str) -> Option<Vec<String>> {
        self.lock().repos.get(repo).map(|r| r.tags.keys().cloned().collect())
    }

    /// Every repository name, in lexical order.
    pub fn repositories(&self) -> Vec<String> {
        self.lock().repos.keys().cloned().collect()
    }

    /// The manifests of `repo` whose subject is `digest`.
    pub fn referrers(&self, repo: &str, digest: &str) -> Vec<StoredManifest> {
        let inner = self.lock();
        let mut found: Vec<StoredManifest> =
            inner.repos.get(repo).map(|r| r.manifests.values().filter(|m| m.subject.as_deref() == Some(digest)).cloned().collect()).unwrap_or_default();
        found.sort_by(|a, b| a.digest.cmp(&b.digest));
        found
    }
}

/// Drops a blob's bytes when no repository links it as a blob or a manifest.
fn drop_if_unreferenced(inner: &mut Inner, digest: &str) {
    let used = inner.repos.values().any(|r| r.blobs.contains(digest) || r.manifests.contains_key(digest));
    if !used {
        if let Some(bytes) = inner.blobs.remove(digest) {
            inner.held -= bytes.len() as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_stored_once_and_dropped_when_no_repository_links_them() {
        let s = Store::new(1000);
        let d = digest_with("sha256", b"abc").unwrap();
        s.put_blob("a", &d, Bytes::from_static(b"abc")).unwrap();
        assert!(s.mount("b", &d, "a"));
        assert!(!s.mount("c", &d, "nowhere"));
        assert_eq!(s.held(), 3);
        assert!(s.delete_blob("a", &d));
        assert_eq!(s.blob("b", &d).as_deref(), Some(&b"abc"[..]));
        assert!(s.delete_blob("b", &d));
        assert_eq!(s.held(), 0);
    }

    #[test]
    fn the_bound_refuses_writes_past_it() {
        let s = Store::new(4);
        s.start_upload("a", "u");
        assert_eq!(s.append("a", "u", Some(0), b"abc").unwrap(), Ok(3));
        assert_eq!(s.append("a", "u", Some(1), b"d").unwrap(), Err(3), "out of order");
        assert!(matches!(s.append("a", "u", None, b"de"), Err(StoreError::Full { max: 4, held: 3, more: 2 })));
        assert!(matches!(s.append("b", "u", None, b"d"), Err(StoreError::UploadElsewhere(_))));
        let data = s.take_upload("a", "u").unwrap();
        assert_eq!(s.held(), 0);
        s.put_blob("a", &digest_with("sha256", &data).unwrap(), data).unwrap();
        assert!(matches!(s.put_blob("a", "sha256:x", Bytes::from_static(b"xy")), Err(StoreError::Full { .. })));
    }

    #[test]
    fn deleting_a_manifest_removes_its_tags() {
        let s = Store::new(1000);
        let m = StoredManifest { digest: "sha256:m".into(), media_type: "t".into(), size: 2, subject: None, artifact_type: None, annotations: None };
        s.put_manifest("a", m, Bytes::from_static(b"{}"), Some("v1")).unwrap();
        assert_eq!(s.tag("a", "v1").as_deref(), Some("sha256:m"));
        assert!(s.delete_manifest("a", "sha256:m"));
        assert_eq!(s.tags("a"), Some(vec![]));
        assert_eq!(s.held(), 0);
    }
}
