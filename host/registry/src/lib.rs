//! Images, from the source to every target's registry: image references
//! ([`reference`]), the OCI formats ([`spec`]) and an image in memory
//! ([`image`]), credentials ([`credential`]), an OCI distribution client with
//! the registries' ways of authenticating, Docker builds through the
//! engine's API and Gantry's own daemonless builds for Dockerfiles without
//! `RUN`.
//!
//! One image is built once and pushed by digest to every target's registry;
//! promotion never rebuilds. Credentials reach a registry only in request
//! headers: nothing here prints them.

pub mod auth;
pub mod client;
pub mod context;
pub mod credential;
pub mod daemonless;
#[cfg(feature = "docker")]
pub mod docker;
pub mod dockerfile;
pub mod image;
pub mod reference;
pub mod spec;
pub mod transport;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use client::{BlobStream, Client, RegistryError};
pub use credential::{Credential, CredentialError, CredentialSource, Secret, StaticCredentials};
pub use image::{Blob, Image, Layer};
pub use reference::{Reference, ReferenceError};
pub use transport::ClientOptions;
