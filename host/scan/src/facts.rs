//! Facts about an image read from its configuration and manifest alone:
//! user, environment variable NAMES (values never leave the config here —
//! `secrets` matches them), exposed ports, labels, entrypoint, cmd,
//! compressed size, layer count, creation time and base image. It must not
//! read layers.

use gantry_registry::Image;

use crate::model::ImageFacts;

/// The OCI annotation/label naming the image this one was built `FROM`.
pub const BASE_NAME_LABEL: &str = "org.opencontainers.image.base.name";

/// Why facts could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error("image {image}: its config blob {config} is not an image configuration: {source}; the image is not a container image or is corrupt")]
    Config {
        image: String,
        config: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The facts of `image`, known as `reference`.
pub fn facts(reference: &str, image: &Image) -> Result<ImageFacts, FactsError> {
    let config = image.config().map_err(|source| FactsError::Config { image: reference.to_string(), config: image.config.digest().to_string(), source })?;
    let run = config.config.clone().unwrap_or_default();
    let labels: Vec<(String, String)> = run.labels.clone().unwrap_or_default().into_iter().collect();
    // Names only: a value may be a credential.
    let env_names = run.env.unwrap_or_default().iter().map(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n).to_string()).collect();
    let base_image = labels.iter().find(|(k, _)| k == BASE_NAME_LABEL).map(|(_, v)| v.clone()).or_else(|| {
        // Some builders (kaniko, buildah with --identity-label) record the FROM line in the history.
        config.history.iter().filter_map(|h| h.created_by.as_deref()).find_map(|c| {
            let c = c.trim();
            let rest = c.strip_prefix("FROM ").or_else(|| c.strip_prefix("/bin/sh -c #(nop) FROM "))?;
            rest.split_whitespace().next().map(str::to_string)
        })
    });
    Ok(ImageFacts {
        reference: reference.to_string(),
        digest: image.digest().to_string(),
        user: run.user.unwrap_or_default(),
        env_names,
        exposed_ports: run.exposed_ports.unwrap_or_default().into_keys().collect(),
        labels,
        entrypoint: run.entrypoint.unwrap_or_default(),
        cmd: run.cmd.unwrap_or_default(),
        size: image.layers.iter().map(|l| l.descriptor.size).sum::<u64>() + image.config.descriptor.size,
        layers: image.layers.len() as u32,
        base_image,
        created: config.created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_registry::spec::{History, ImageConfig, RunConfig};
    use gantry_registry::{image::digest_of, Blob, Layer};

    #[test]
    fn facts_come_from_the_config_and_env_values_are_left_out() {
        let config = ImageConfig {
            created: Some("2026-01-02T03:04:05Z".into()),
            architecture: "amd64".into(),
            os: "linux".into(),
            config: Some(RunConfig {
                user: Some("app:app".into()),
                env: Some(vec!["PATH=/usr/bin".into(), "API_TOKEN=hunter2-value".into(), "EMPTY".into()]),
                exposed_ports: Some([("8080/tcp".to_string(), Default::default())].into()),
                labels: Some([(BASE_NAME_LABEL.to_string(), "docker.io/library/debian:12".to_string())].into()),
                entrypoint: Some(vec!["/app".into()]),
                cmd: Some(vec!["serve".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let layer = Layer { blob: Blob::new(gantry_registry::spec::OCI_LAYER, &b"0123456789"[..]), diff_id: digest_of(b"0123456789") };
        let image = Image::assemble(config, vec![layer]);
        let f = facts("reg/app:1", &image).unwrap();
        assert_eq!(f.user, "app:app");
        assert_eq!(f.env_names, ["PATH", "API_TOKEN", "EMPTY"]);
        assert!(!format!("{f:?}").contains("hunter2"));
        assert_eq!(f.exposed_ports, ["8080/tcp"]);
        assert_eq!(f.base_image.as_deref(), Some("docker.io/library/debian:12"));
        assert_eq!((f.entrypoint.clone(), f.cmd.clone()), (vec!["/app".to_string()], vec!["serve".to_string()]));
        assert_eq!(f.layers, 1);
        assert_eq!(f.size, 10 + image.config.descriptor.size);
        assert_eq!(f.created.as_deref(), Some("2026-01-02T03:04:05Z"));
        assert_eq!(f.digest, image.digest());
    }

    #[test]
    fn the_base_image_falls_back_to_a_from_line_in_the_history() {
        let config = ImageConfig {
            architecture: "amd64".into(),
            os: "linux".into(),
            history: vec![History { created_by: Some("FROM alpine:3.20 AS build".into()), ..Default::default() }],
            ..Default::default()
        };
        let image = Image::assemble(config, vec![]);
        assert_eq!(facts("x", &image).unwrap().base_image.as_deref(), Some("alpine:3.20"));
        let bad = Image { config: Blob::new(gantry_registry::spec::OCI_CONFIG, &b"{"[..]), ..image };
        let e = facts("x", &bad).unwrap_err().to_string();
        assert!(e.contains("image x") && e.contains(bad.config.digest()), "{e}");
    }
}
