//! One image layer as a stream of tar entries: the blob's compression
//! (gzip, zstd or none) told from its media type and its first bytes, the
//! decompressor chosen accordingly, and the sources layers are opened from
//! (an in-memory `gantry_registry::Image`, or one `Read` per layer as a
//! registry's blob stream gives it). It streams: nothing is extracted to
//! disk and no layer is held whole in memory. It must not apply whiteouts
//! or decide which files matter; `fs` does that.

use std::io::{self, BufRead, BufReader, Read};

use gantry_registry::spec;
use gantry_registry::Image;
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

const IN_BUFFER: usize = 128 * 1024;
const OUT_BUFFER: usize = 256 * 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

impl Compression {
    /// What a layer media type declares; `None` when the type is not a
    /// layer type Gantry reads (encrypted layers, non-tar artifacts).
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        match media_type {
            spec::OCI_LAYER | "application/vnd.oci.image.layer.nondistributable.v1.tar" | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::None),
            spec::OCI_LAYER_GZIP | spec::DOCKER_LAYER_GZIP | spec::DOCKER_FOREIGN_LAYER_GZIP | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" => Some(Compression::Gzip),
            spec::OCI_LAYER_ZSTD | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// What the blob's first bytes are: gzip and zstd have magic numbers; anything else is read as tar.
    pub fn from_magic(head: &[u8]) -> Compression {
        if head.starts_with(&GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Why a layer could not be read. Each names the layer digest.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer {layer}: media type {media_type} is not a layer Gantry reads (tar, tar+gzip, tar+zstd, docker rootfs.diff); encrypted or artifact layers cannot be scanned — scan the image before encrypting it")]
    UnsupportedMediaType { layer: String, media_type: String },
    #[error("layer {layer}: media type {media_type} says {declared:?} but the blob starts like {found:?}; the blob is mislabelled or corrupt — pull it again or fix the manifest")]
    Mislabelled { layer: String, media_type: String, declared: Compression, found: Compression },
    #[error("layer {layer}: reading {what}: {source}; the blob is truncated or corrupt — pull it again")]
    Read {
        layer: String,
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("layer {layer}: could not be opened: {source}")]
    Open {
        layer: String,
        #[source]
        source: io::Error,
    },
    #[error("layer {layer}: this source streams each layer once and it was read already; resolving a link needs a second read — use a source that can reopen layers")]
    Consumed { layer: String },
}

/// The decompressed tar stream of one layer blob. The compression is told
/// by the magic bytes; a media type that declares a different compression
/// is an error, except Docker's gzip type on a plain tar (`docker save`
/// writes those) and plain types on compressed blobs, which are read as
/// their bytes say with a warning.
pub fn decompress<'a>(layer: &str, media_type: &str, mut blob: impl Read + 'a) -> Result<(Compression, Box<dyn Read + 'a>), LayerError> {
    let declared = Compression::from_media_type(media_type).ok_or_else(|| LayerError::UnsupportedMediaType { layer: layer.to_string(), media_type: media_type.to_string() })?;
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match blob.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Err(LayerError::Read { layer: layer.to_string(), what: "the first bytes".into(), source }),
        }
    }
    let found = Compression::from_magic(&head[..n]);
    if found != declared {
        let tolerated = declared == Compression::None || (declared == Compression::Gzip && found == Compression::None && media_type.starts_with("application/vnd.docker."));
        if !tolerated {
            return Err(LayerError::Mislabelled { layer: layer.to_string(), media_type: media_type.to_string(), declared, found });
        }
        tracing::warn!(layer, media_type, ?found, "layer media type disagrees with its bytes; reading it as its bytes say");
    }
    let stream = io::Cursor::new(head).take(n as u64).chain(blob);
    // The tar reader reads 512-byte headers; a buffer over the decoder keeps those reads cheap.
    let reader: Box<dyn Read + 'a> = match found {
        Compression::None => Box::new(BufReader::with_capacity(OUT_BUFFER, stream)),
        Compression::Gzip => Box::new(BufReader::with_capacity(OUT_BUFFER, flate2::read::MultiGzDecoder::new(BufReader::with_capacity(IN_BUFFER, stream)))),
        Compression::Zstd => Box::new(BufReader::with_capacity(OUT_BUFFER, Zstd::new(BufReader::with_capacity(IN_BUFFER, stream)))),
    };
    Ok((found, reader))
}

/// A zstd stream of any number of frames (skippable frames skipped), as
/// `ruzstd`'s streaming decoder reads one frame only.
struct Zstd<R: BufRead> {
    source: R,
    decoder: FrameDecoder,
    in_frame: bool,
}

impl<R: BufRead> Zstd<R> {
    fn new(source: R) -> Zstd<R> {
        Zstd { source, decoder: FrameDecoder::new(), in_frame: false }
    }

    /// Starts the next frame; `false` at the end of the stream.
    fn next_frame(&mut self) -> io::Result<bool> {
        loop {
            if self.source.fill_buf()?.is_empty() {
                return Ok(false);
            }
            match self.decoder.reset(&mut self.source) {
                Ok(()) => {
                    self.in_frame = true;
                    return Ok(true);
                }
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame { length, .. })) => {
                    io::copy(&mut (&mut self.source).take(length as u64), &mut io::sink())?;
                }
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("zstd frame header: {e}"))),
            }
        }
    }
}

impl<R: BufRead> Read for Zstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_frame {
                while self.decoder.can_collect() == 0 && !self.decoder.is_finished() {
                    self.decoder.decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1)).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("zstd block: {e}")))?;
                }
                let n = self.decoder.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.in_frame = false;
            }
            if !self.next_frame()? {
                return Ok(0);
            }
        }
    }
}

/// What the walker knows about a layer before opening it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// The blob digest (`sha256:…`): the layer a file is reported in.
    pub digest: String,
    pub media_type: String,
    /// Compressed size in bytes.
    pub size: u64,
}

/// Where layer blobs come from, base layer first. A source that can open a
/// layer more than once lets links to files in already-read layers be
/// resolved with a second, narrow read.
pub trait LayerSource {
    fn layers(&self) -> &[LayerInfo];
    /// The compressed blob of layer `index`.
    fn open(&mut self, index: usize) -> Result<Box<dyn Read + '_>, LayerError>;
    fn reopenable(&self) -> bool;
}

/// The layers of an image held in memory.
pub struct ImageLayers<'a> {
    image: &'a Image,
    infos: Vec<LayerInfo>,
}

impl<'a> ImageLayers<'a> {
    pub fn new(image: &'a Image) -> ImageLayers<'a> {
        let infos = image.layers.iter().map(|b| LayerInfo { digest: b.descriptor.digest.clone(), media_type: b.descriptor.media_type.clone(), size: b.descriptor.size }).collect();
        ImageLayers { image, infos }
    }
}

impl LayerSource for ImageLayers<'_> {
    fn layers(&self) -> &[LayerInfo] {
        &self.infos
    }

    fn open(&mut self, index: usize) -> Result<Box<dyn Read + '_>, LayerError> {
        Ok(Box::new(&self.image.layers[index].data[..]))
    }

    fn reopenable(&self) -> bool {
        true
    }
}

/// Layers given as one stream each (a registry's blob streams), each read at most once.
pub struct StreamLayers<R: Read> {
    infos: Vec<LayerInfo>,
    streams: Vec<Option<R>>,
}

impl<R: Read> StreamLayers<R> {
    /// `layers` base first, each with its descriptor's facts.
    pub fn new(layers: Vec<(LayerInfo, R)>) -> StreamLayers<R> {
        let (infos, streams) = layers.into_iter().map(|(i, r)| (i, Some(r))).unzip();
        StreamLayers { infos, streams }
    }
}

impl<R: Read> LayerSource for StreamLayers<R> {
    fn layers(&self) -> &[LayerInfo] {
        &self.infos
    }

    fn open(&mut self, index: usize) -> Result<Box<dyn Read + '_>, LayerError> {
        match self.streams[index].take() {
            Some(r) => Ok(Box::new(r)),
            None => Err(LayerError::Consumed { layer: self.infos[index].digest.clone() }),
        }
    }

    fn reopenable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(media_type: &str, blob: &[u8]) -> Result<(Compression, Vec<u8>), LayerError> {
        let (c, mut r) = decompress("sha256:l", media_type, blob)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        Ok((c, out))
    }

    #[test]
    fn compression_is_told_by_magic_and_checked_against_the_media_type() {
        let data = b"hello tar".repeat(1000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &data).unwrap();
        let gz = gz.finish().unwrap();
        let zst = ruzstd::encoding::compress_to_vec(&data[..], ruzstd::encoding::CompressionLevel::Fastest);
        assert_eq!(read_all(spec::OCI_LAYER_GZIP, &gz).unwrap(), (Compression::Gzip, data.clone()));
        assert_eq!(read_all(spec::OCI_LAYER_ZSTD, &zst).unwrap(), (Compression::Zstd, data.clone()));
        assert_eq!(read_all(spec::OCI_LAYER, &data).unwrap(), (Compression::None, data.clone()));
        // docker save writes plain tars under the gzip type
        assert_eq!(read_all(spec::DOCKER_LAYER_GZIP, &data).unwrap(), (Compression::None, data.clone()));
        assert!(matches!(read_all(spec::OCI_LAYER_ZSTD, &gz), Err(LayerError::Mislabelled { .. })));
        assert!(matches!(read_all(spec::OCI_LAYER_GZIP, &data), Err(LayerError::Mislabelled { .. })));
        let e = read_all("application/vnd.oci.image.layer.v1.tar+encrypted", &data).unwrap_err();
        assert!(e.to_string().contains("sha256:l") && e.to_string().contains("encrypted"), "{e}");
        // empty and tiny blobs
        assert_eq!(read_all(spec::OCI_LAYER, b"").unwrap(), (Compression::None, vec![]));
        assert_eq!(read_all(spec::OCI_LAYER, b"ab").unwrap(), (Compression::None, b"ab".to_vec()));
    }

    #[test]
    fn zstd_streams_of_several_frames_and_skippable_frames_are_read_whole() {
        let a = ruzstd::encoding::compress_to_vec(&b"first frame "[..], ruzstd::encoding::CompressionLevel::Fastest);
        let b = ruzstd::encoding::compress_to_vec(&b"second frame"[..], ruzstd::encoding::CompressionLevel::Fastest);
        let mut blob = a.clone();
        // a skippable frame: magic 0x184D2A50, length 3, payload
        blob.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        blob.extend_from_slice(&b);
        assert_eq!(read_all(spec::OCI_LAYER_ZSTD, &blob).unwrap().1, b"first frame second frame");
    }

    #[test]
    fn a_stream_source_opens_each_layer_once() {
        let info = LayerInfo { digest: "sha256:a".into(), media_type: spec::OCI_LAYER.into(), size: 1 };
        let mut s = StreamLayers::new(vec![(info, &b"x"[..])]);
        assert!(s.open(0).is_ok());
        assert!(matches!(s.open(0), Err(LayerError::Consumed { .. })));
        assert!(!s.reopenable());
    }
}
