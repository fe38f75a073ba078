//! Certificates for one simulated cluster: its own CA (generated with rcgen)
//! and a server certificate signed by it for `127.0.0.1`, `localhost` and the
//! cluster's name, turned into a rustls server configuration offering HTTP/2
//! and HTTP/1.1. The CA's PEM goes into the kubeconfig so clients verify the
//! server exactly as they verify a real one. This file must not disable
//! verification anywhere, and never writes keys to disk.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("generating the cluster's certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("configuring TLS: {0}")]
    Config(#[from] rustls::Error),
}

/// A cluster's CA and serving configuration.
#[derive(Clone)]
pub struct ClusterTls {
    /// The CA certificate, PEM: what clients trust (kubeconfig `certificate-authority-data`).
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

impl ClusterTls {
    /// A fresh CA and a server certificate for `cluster` on loopback.
    pub fn generate(cluster: &str) -> Result<ClusterTls, TlsError> {
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params(cluster)?.self_signed(&ca_key)?;
        let server_key = KeyPair::generate()?;
        let server_cert = server_params(cluster)?.signed_by(&server_key, &ca_cert, &ca_key)?;
        let chain = vec![CertificateDer::from(server_cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ClusterTls { ca_pem: ca_cert.pem(), server_config: Arc::new(config) })
    }
}

fn ca_params(cluster: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, format!("gantry-sim-ca-{cluster}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(params)
}

fn server_params(cluster: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut names = vec!["localhost".to_string(), "kubernetes".to_string()];
    if !names.iter().any(|n| n == cluster) {
        names.push(cluster.to_string());
    }
    let mut params = CertificateParams::new(names)?;
    params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_pem_ca_and_offers_h2() {
        let tls = ClusterTls::generate("demo").unwrap();
        assert!(tls.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(tls.server_config.alpn_protocols[0], b"h2");
    }
}
