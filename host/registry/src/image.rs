//! An image held in memory, ready to push: its manifest, config and layer
//! blobs with their digests computed here, once, from the bytes. Builders
//! (the Docker engine's export, the daemonless builder) produce one; the
//! distribution client pushes one and pulls into one. It must not do I/O.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::spec::{self, Descriptor, ImageConfig, Manifest};

/// `sha256:<hex>` of `data`.
pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A blob and what describes it.
#[derive(Clone, PartialEq, Eq)]
pub struct Blob {
    pub descriptor: Descriptor,
    pub data: Bytes,
}

impl Blob {
    pub fn new(media_type: &str, data: impl Into<Bytes>) -> Blob {
        let data = data.into();
        Blob { descriptor: Descriptor::new(media_type, &digest_of(&data), data.len() as u64), data }
    }

    pub fn digest(&self) -> &str {
        &self.descriptor.digest
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} {} {} bytes)", self.descriptor.media_type, self.descriptor.digest, self.descriptor.size)
    }
}

/// A compressed layer and the digest of its uncompressed tar (the config's `diff_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub blob: Blob,
    pub diff_id: String,
}

/// One single-platform image: manifest bytes, config bytes and layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

impl Image {
    /// An OCI image from its configuration and layers (base first). The
    /// config's `rootfs.diff_ids` are set from the layers; the manifest is
    /// serialised here, so the same inputs give the same digest.
    pub fn assemble(mut config: ImageConfig, layers: Vec<Layer>) -> Image {
        config.rootfs = spec::RootFs { kind: "layers".to_string(), diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect() };
        // Invariant: ImageConfig is plain data (strings, maps, JSON values) and always serialises.
        let config = Blob::new(spec::OCI_CONFIG, serde_json::to_vec(&config).expect("an image config serialises"));
        let layers: Vec<Blob> = layers.into_iter().map(|l| l.blob).collect();
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(spec::OCI_MANIFEST.to_string()),
            artifact_type: None,
            config: config.descriptor.clone(),
            layers: layers.iter().map(|l| l.descriptor.clone()).collect(),
            subject: None,
            annotations: None,
        };
        // Invariant: as above.
        let manifest = Blob::new(spec::OCI_MANIFEST, serde_json::to_vec(&manifest).expect("a manifest serialises"));
        Image { manifest, config, layers }
    }

    /// The manifest digest: the image's identity in every registry.
    pub fn digest(&self) -> &str {
        self.manifest.digest()
    }

    /// The parsed configuration.
    pub fn config(&self) -> Result<ImageConfig, serde_json::Error> {
        serde_json::from_slice(&self.config.data)
    }

    /// Manifest, config and layers together (what a push uploads).
    pub fn size(&self) -> u64 {
        self.manifest.descriptor.size + self.config.descriptor.size + self.layers.iter().map(|l| l.descriptor.size).sum::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_inputs_give_the_same_digest() {
        let config = || ImageConfig { architecture: "amd64".into(), os: "linux".into(), ..Default::default() };
        let layer = || Layer { blob: Blob::new(spec::OCI_LAYER_GZIP, &b"gz"[..]), diff_id: digest_of(b"tar") };
        let a = Image::assemble(config(), vec![layer()]);
        let b = Image::assemble(config(), vec![layer()]);
        assert_eq!(a.digest(), b.digest());
        assert_eq!(a.config().unwrap().rootfs.diff_ids, vec![digest_of(b"tar")]);
        let m: Manifest = serde_json::from_slice(&a.manifest.data).unwrap();
        assert_eq!(m.config.digest, a.config.digest());
        assert_eq!(digest_of(b""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
