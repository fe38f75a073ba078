//! The GKE control plane's read side: simulated cluster registrations
//! (project, location, name, API server endpoint and CA — supplied by whoever
//! runs the API server) and the container API's `projects.locations.clusters`
//! get and list answers in their real JSON shapes, plus Google's error
//! shape. Callers must hold an access token the simulated OAuth endpoint
//! issued with the cloud-platform scope, for a service account of the
//! cluster's project.
//!
//! This file owns the JSON and the access decision; it must not do HTTP
//! plumbing (`http.rs`) nor issue tokens (`oauth.rs`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cloud::oauth::{GcpIam, CLOUD_PLATFORM_SCOPE};

/// One simulated GKE cluster, as clusters.get reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GkeCluster {
    pub project: String,
    /// A region (`europe-west1`) or a zone (`europe-west1-b`).
    pub location: String,
    pub name: String,
    /// The API server as `host[:port]`, no scheme (GKE gives a bare IP).
    pub endpoint: String,
    /// The API server's CA certificate, PEM.
    pub ca_pem: String,
    pub version: String,
    pub created_at: OffsetDateTime,
}

impl GkeCluster {
    /// `endpoint` may be given as a URL; the scheme and any path are dropped.
    pub fn new(project: &str, location: &str, name: &str, endpoint: &str, ca_pem: &str) -> GkeCluster {
        let bare = endpoint.strip_prefix("https://").unwrap_or(endpoint);
        let bare = bare.split('/').next().unwrap_or(bare);
        GkeCluster {
            project: project.to_string(),
            location: location.to_string(),
            name: name.to_string(),
            endpoint: bare.to_string(),
            ca_pem: ca_pem.to_string(),
            version: "1.31.5-gke.1023000".to_string(),
            created_at: OffsetDateTime::now_utc(),
        }
    }

    /// `projects/P/locations/L/clusters/C`
    pub fn resource_name(&self) -> String {
        format!("projects/{}/locations/{}/clusters/{}", self.project, self.location, self.name)
    }

    /// The clusters.get response body.
    pub fn json(&self) -> Value {
        let zonal = self.location.matches('-').count() >= 2;
        let locations: Vec<String> =
            if zonal { vec![self.location.clone()] } else { ["b", "c", "d"].iter().map(|z| format!("{}-{z}", self.location)).collect() };
        let id = &crate::cloud::sigv4::sha256_hex(self.resource_name().as_bytes())[..32];
        json!({
            "name": self.name,
            "nodePools": [{
                "name": "default-pool",
                "config": { "machineType": "e2-medium", "diskSizeGb": 100, "imageType": "COS_CONTAINERD" },
                "initialNodeCount": 1,
                "locations": locations,
                "status": "RUNNING",
                "version": self.version,
                "selfLink": format!("https://container.googleapis.com/v1/{}/nodePools/default-pool", self.resource_name()),
            }],
            "network": "default",
            "subnetwork": "default",
            "clusterIpv4Cidr": "10.4.0.0/14",
            "servicesIpv4Cidr": "34.118.224.0/20",
            "masterAuth": { "clusterCaCertificate": STANDARD.encode(&self.ca_pem) },
            "endpoint": self.endpoint,
            "initialClusterVersion": self.version,
            "currentMasterVersion": self.version,
            "currentNodeVersion": self.version,
            "createTime": self.created_at.format(&Rfc3339).unwrap_or_default(),
            "status": "RUNNING",
            "selfLink": format!("https://container.googleapis.com/v1/{}", self.resource_name()),
            "zone": self.location,
            "location": self.location,
            "locations": locations,
            "id": id,
            "labelFingerprint": "a9dc16a7",
            "releaseChannel": { "channel": "REGULAR" },
            "privateClusterConfig": { "privateEndpoint": "10.0.0.2", "publicEndpoint": self.endpoint },
        })
    }
}

/// A Google API error: `{"error": {"code", "message", "status"}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} ({code}): {message}")]
pub struct GoogleError {
    pub code: u16,
    pub status: &'static str,
    pub message: String,
}

impl GoogleError {
    pub fn unauthenticated() -> GoogleError {
        GoogleError {
            code: 401,
            status: "UNAUTHENTICATED",
            message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.".into(),
        }
    }

    pub fn insufficient_scopes() -> GoogleError {
        GoogleError { code: 403, status: "PERMISSION_DENIED", message: "Request had insufficient authentication scopes.".into() }
    }

    pub fn permission_denied(permission: &str, resource: &str) -> GoogleError {
        GoogleError {
            code: 403,
            status: "PERMISSION_DENIED",
            message: format!("Permission '{permission}' denied on '{resource}' (or it may not exist)."),
        }
    }

    pub fn not_found(resource: &str) -> GoogleError {
        GoogleError { code: 404, status: "NOT_FOUND", message: format!("Not found: {resource}.") }
    }

    pub fn body(&self) -> Value {
        json!({ "error": { "code": self.code, "message": self.message, "status": self.status } })
    }
}

/// Checks an `Authorization` header value for a call on `project`: an issued,
/// unexpired token with the cloud-platform scope, of an account of that project.
pub fn authorize(gcp: &GcpIam, authorization: Option<&str>, project: &str, permission: &str, resource: &str, now: OffsetDateTime) -> Result<String, GoogleError> {
    let token = authorization
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(GoogleError::unauthenticated)?;
    let issued = gcp.token(token, now).ok_or_else(GoogleError::unauthenticated)?;
    if !issued.scopes.iter().any(|s| s == CLOUD_PLATFORM_SCOPE) {
        return Err(GoogleError::insufficient_scopes());
    }
    let account = gcp.account(&issued.email).ok_or_else(GoogleError::unauthenticated)?;
    if account.project_id != project {
        return Err(GoogleError::permission_denied(permission, resource));
    }
    Ok(issued.email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_get_has_the_container_api_shape() {
        let c = GkeCluster::new("demo", "europe-west1", "prod", "https://127.0.0.1:6444", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        let v = c.json();
        assert_eq!(v["name"], "prod");
        assert_eq!(v["location"], "europe-west1");
        assert_eq!(v["endpoint"], "127.0.0.1:6444");
        assert_eq!(v["status"], "RUNNING");
        assert_eq!(v["selfLink"], "https://container.googleapis.com/v1/projects/demo/locations/europe-west1/clusters/prod");
        assert_eq!(v["locations"].as_array().unwrap().len(), 3);
        let ca = STANDARD.decode(v["masterAuth"]["clusterCaCertificate"].as_str().unwrap()).unwrap();
        assert_eq!(String::from_utf8(ca).unwrap(), c.ca_pem);
        let created = v["createTime"].as_str().unwrap();
        assert!(created.len() >= 20 && created.as_bytes()[10] == b'T' && created.ends_with('Z'), "{created}");
        let zonal = GkeCluster::new("demo", "europe-west1-b", "z", "127.0.0.1:1", "").json();
        assert_eq!(zonal["locations"], json!(["europe-west1-b"]));
    }

    #[test]
    fn errors_have_google_shape() {
        let e = GoogleError::not_found("projects/p/locations/l/clusters/c");
        assert_eq!(e.body(), json!({"error": {"code": 404, "message": "Not found: projects/p/locations/l/clusters/c.", "status": "NOT_FOUND"}}));
    }

    #[test]
    fn only_issued_tokens_are_authorized() {
        let gcp = GcpIam::default();
        let now = OffsetDateTime::now_utc();
        for bad in [None, Some("Bearer"), Some("Basic abc"), Some("Bearer ya29.unknown")] {
            assert_eq!(authorize(&gcp, bad, "demo", "container.clusters.get", "x", now).unwrap_err().code, 401, "{bad:?}");
        }
    }
}
