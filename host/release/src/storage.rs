//! Where release records live, as Helm's storage keeps them
//! (`pkg/storage/storage.go`, `driver/secrets.go`, `driver/cfgmaps.go`):
//! one object per revision named `sh.helm.release.v1.NAME.vN` in the
//! release's namespace — a Secret of type `helm.sh/release.v1` (the default
//! driver) or a ConfigMap (`HELM_DRIVER=configmap`) — whose `release` key
//! holds the encoded record and whose labels are `name`, `owner=helm`,
//! `status`, `version`, plus `createdAt` when created and `modifiedAt` when
//! updated (an update rewrites the labels, so `createdAt` goes, as in Helm),
//! plus the release's custom labels. Queries are label selectors; history,
//! last and deployed revisions and `--history-max` pruning follow Helm's
//! storage word for word. This file must not touch the release's objects.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::Client;

use crate::codec;
use crate::record::Release;
#[cfg(test)]
use crate::record::Status;

/// The labels Helm owns on a storage object; a user's labels may not use them.
pub const SYSTEM_LABELS: [&str; 6] = ["name", "owner", "status", "version", "createdAt", "modifiedAt"];

/// The Secret type Helm 3 and 4 give release Secrets.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";

/// Helm's storage key of a revision.
pub fn key(name: &str, version: i64) -> String {
    format!("sh.helm.release.v1.{name}.v{version}")
}

/// Which kind of object keeps the records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Driver {
    #[default]
    Secret,
    ConfigMap,
}

impl Driver {
    /// `HELM_DRIVER`'s values for these two drivers (`secret`/`secrets`/empty,
    /// `configmap`/`configmaps`); None for the others (memory, sql).
    pub fn from_helm_driver(value: &str) -> Option<Driver> {
        match value {
            "" | "secret" | "secrets" => Some(Driver::Secret),
            "configmap" | "configmaps" => Some(Driver::ConfigMap),
            _ => None,
        }
    }

    /// Helm's driver name (`Secret`, `ConfigMap`).
    pub fn name(self) -> &'static str {
        match self {
            Driver::Secret => "Secret",
            Driver::ConfigMap => "ConfigMap",
        }
    }
}

/// Why storage failed; the texts of the first three are Helm's.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// `driver.ErrReleaseNotFound`.
    #[error("release: not found")]
    NotFound,
    /// `driver.ErrReleaseExists`.
    #[error("release: already exists")]
    Exists,
    /// `driver.NewErrNoDeployedReleases`.
    #[error("{0:?} has no deployed releases")]
    NoDeployed(String),
    #[error("invalid label value: {0:?}")]
    InvalidLabel(String),
    #[error("{what} {key}: {source}")]
    Api { what: &'static str, key: String, source: kube::Error },
    #[error("{key}: {source}")]
    Codec { key: String, source: codec::CodecError },
}

/// One stored object, whichever kind.
struct Stored {
    name: String,
    labels: BTreeMap<String, String>,
    data: Option<String>,
}

/// The release records of one namespace.
#[derive(Clone)]
pub struct Storage {
    client: Client,
    namespace: String,
    driver: Driver,
    /// `--history-max`: revisions kept per release when creating one; 0 keeps all.
    pub max_history: usize,
}

fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

fn exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}

/// Kubernetes' label value rule (`validation.IsValidLabelValue`).
fn valid_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            && v.as_bytes()[0].is_ascii_alphanumeric()
            && v.as_bytes()[v.len() - 1].is_ascii_alphanumeric())
}

impl Storage {
    pub fn new(client: Client, namespace: &str, driver: Driver) -> Storage {
        Storage { client, namespace: namespace.to_string(), driver, max_history: 0 }
    }

    /// The client the records are read and written with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn driver(&self) -> Driver {
        self.driver
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn config_maps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn from_secret(s: Secret) -> Stored {
        let data = s.data.and_then(|mut d| d.remove("release")).map(|b| String::from_utf8_lossy(&b.0).into_owned());
        Stored { name: s.metadata.name.unwrap_or_default(), labels: s.metadata.labels.unwrap_or_default(), data }
    }

    fn from_config_map(c: ConfigMap) -> Stored {
        let data = c.data.and_then(|mut d| d.remove("release"));
        Stored { name: c.metadata.name.unwrap_or_default(), labels: c.metadata.labels.unwrap_or_default(), data }
    }

    async fn raw_get(&self, key: &str) -> Result<Option<Stored>, kube::Error> {
        let found = match self.driver {
            Driver::Secret => self.secrets().get_opt(key).await?.map(Self::from_secret),
            Driver::ConfigMap => self.config_maps().get_opt(key).await?.map(Self::from_config_map),
        };
        Ok(found)
    }

    async fn raw_list(&self, selector: &str) -> Result<Vec<Stored>, kube::Error> {
        let params = ListParams::default().labels(selector);
        Ok(match self.driver {
            Driver::Secret => self.secrets().list(&params).await?.items.into_iter().map(Self::from_secret).collect(),
            Driver::ConfigMap => self.config_maps().list(&params).await?.items.into_iter().map(Self::from_config_map).collect(),
        })
    }

    fn decode(stored: &Stored) -> Result<Release, StorageError> {
        let data = stored.data.as_deref().unwrap_or_default();
        codec::decode(data).map_err(|source| StorageError::Codec { key: stored.name.clone(), source })
    }

    /// The object Helm writes for `release`: labels from the custom ones, then
    /// `extra` (createdAt/modifiedAt), then the system labels.
    fn labels(release: &Release, stamp: (&str, String)) -> BTreeMap<String, String> {
        let mut labels = release.labels.clone();
        labels.insert(stamp.0.to_string(), stamp.1);
        labels.insert("name".into(), release.name.clone());
        labels.insert("owner".into(), "helm".into());
        labels.insert("status".into(), release.status().to_string());
        labels.insert("version".into(), release.version.to_string());
        labels
    }

    async fn write(&self, release: &Release, create: bool) -> Result<(), StorageError> {
        let key = key(&release.name, release.version);
        let data = codec::encode(release).map_err(|source| StorageError::Codec { key: key.clone(), source })?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
        let labels = Self::labels(release, (if create { "createdAt" } else { "modifiedAt" }, now));
        let metadata = ObjectMeta { name: Some(key.clone()), labels: Some(labels), ..ObjectMeta::default() };
        let pp = PostParams::default();
        let result = match self.driver {
            Driver::Secret => {
                let obj = Secret {
                    metadata,
                    type_: Some(SECRET_TYPE.into()),
                    data: Some(BTreeMap::from([("release".to_string(), ByteString(data.into_bytes()))])),
                    ..Secret::default()
                };
                if create {
                    self.secrets().create(&pp, &obj).await.map(drop)
                } else {
                    self.secrets().replace(&key, &pp, &obj).await.map(drop)
                }
            }
            Driver::ConfigMap => {
                let obj = ConfigMap { metadata, data: Some(BTreeMap::from([("release".to_string(), data)])), ..ConfigMap::default() };
                if create {
                    self.config_maps().create(&pp, &obj).await.map(drop)
                } else {
                    self.config_maps().replace(&key, &pp, &obj).await.map(drop)
                }
            }
        };
        result.map_err(|source| if create && exists(&source) { StorageError::Exists } else { StorageError::Api { what: if create { "create" } else { "update" }, key, source } })
    }

    /// One revision (Helm's `Get`): custom labels only.
    pub async fn get(&self, name: &str, version: i64) -> Result<Release, StorageError> {
        let key = key(name, version);
        let stored = self.raw_get(&key).await.map_err(|source| StorageError::Api { what: "get", key: key.clone(), source })?.ok_or(StorageError::NotFound)?;
        let mut release = Self::decode(&stored)?;
        release.labels = stored.labels.into_iter().filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str())).collect();
        Ok(release)
    }

    /// Every record whose labels match (Helm's `Query`): NotFound when none;
    /// records that do not decode are skipped, as Helm skips them.
    pub async fn query(&self, labels: &[(&str, &str)]) -> Result<Vec<Release>, StorageError> {
        if let Some((_, v)) = labels.iter().find(|(_, v)| !valid_label_value(v)) {
            return Err(StorageError::InvalidLabel(v.to_string()));
        }
        let selector = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let items = self.raw_list(&selector).await.map_err(|source| StorageError::Api { what: "query", key: selector.clone(), source })?;
        if items.is_empty() {
            return Err(StorageError::NotFound);
        }
        let mut out = Vec::new();
        for item in items {
            match Self::decode(&item) {
                Ok(mut r) => {
                    r.labels = item.labels;
                    out.push(r);
                }
                Err(e) => tracing::debug!(key = %item.name, error = %e, "failed to decode release"),
            }
        }
        Ok(out)
    }

    /// Every record of every release in the namespace (`owner=helm`).
    pub async fn list(&self) -> Result<Vec<Release>, StorageError> {
        match self.query(&[("owner", "helm")]).await {
            Err(StorageError::NotFound) => Ok(Vec::new()),
            other => other,
        }
    }

    /// Every revision of `name`, oldest first (Helm's `History`, sorted).
    pub async fn history(&self, name: &str) -> Result<Vec<Release>, StorageError> {
        let mut h = self.query(&[("name", name), ("owner", "helm")]).await?;
        h.sort_by_key(|r| r.version);
        Ok(h)
    }

    /// The highest revision (Helm's `Last`).
    pub async fn last(&self, name: &str) -> Result<Release, StorageError> {
        self.history(name).await?.pop().ok_or(StorageError::NotFound)
    }

    /// Every revision with status `deployed` (Helm's `DeployedAll`).
    pub async fn deployed_all(&self, name: &str) -> Result<Vec<Release>, StorageError> {
        match self.query(&[("name", name), ("owner", "helm"), ("status", "deployed")]).await {
            Err(StorageError::NotFound) => Err(StorageError::NoDeployed(name.to_string())),
            other => other,
        }
    }

    /// The highest deployed revision (Helm's `Deployed`).
    pub async fn deployed(&self, name: &str) -> Result<Release, StorageError> {
        let mut all = self.deployed_all(name).await?;
        all.sort_by_key(|r| r.version);
        all.pop().ok_or_else(|| StorageError::NoDeployed(name.to_string()))
    }

    /// Stores a new revision (Helm's `Create`): first prunes to
    /// `max_history - 1` revisions when a maximum is set.
    pub async fn create(&self, release: &Release) -> Result<(), StorageError> {
        if self.max_history > 0 {
            match self.remove_least_recent(&release.name, self.max_history - 1).await {
                Ok(()) | Err(StorageError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        self.write(release, true).await
    }

    /// Rewrites a revision (Helm's `Update`).
    pub async fn update(&self, release: &Release) -> Result<(), StorageError> {
        self.write(release, false).await
    }

    /// Deletes a revision's record (Helm's `Delete`), returning it.
    pub async fn delete(&self, name: &str, version: i64) -> Result<Release, StorageError> {
        let release = self.get(name, version).await?;
        let key = key(name, version);
        let dp = DeleteParams::default();
        let result = match self.driver {
            Driver::Secret => self.secrets().delete(&key, &dp).await.map(drop),
            Driver::ConfigMap => self.config_maps().delete(&key, &dp).await.map(drop),
        };
        result.map_err(|source| if not_found(&source) { StorageError::NotFound } else { StorageError::Api { what: "delete", key, source } })?;
        Ok(release)
    }

    /// Helm's `removeLeastRecent`: deletes the oldest revisions until `maximum`
    /// remain, never the latest deployed one.
    async fn remove_least_recent(&self, name: &str, maximum: usize) -> Result<(), StorageError> {
        let history = self.history(name).await?;
        if history.len() <= maximum {
            return Ok(());
        }
        let last_deployed = match self.deployed(name).await {
            Ok(r) => Some(r.version),
            Err(StorageError::NoDeployed(_)) => None,
            Err(e) => return Err(e),
        };
        let mut to_delete = Vec::new();
        for r in &history {
            if history.len() - to_delete.len() == maximum {
                break;
            }
            if last_deployed != Some(r.version) {
                to_delete.push(r.version);
            }
        }
        let mut first_error = None;
        let mut errors = 0;
        for version in to_delete {
            if let Err(e) = self.delete(name, version).await {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
        tracing::debug!(release = name, errors, "pruned records");
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// Helm's `ValidateReleaseName`: a DNS-1123 subdomain of at most 53 characters.
pub fn valid_release_name(name: &str) -> bool {
    let ok_part = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') && !p.starts_with('-') && !p.ends_with('-')
    };
    !name.is_empty() && name.len() <= 53 && name.split('.').all(ok_part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_names_are_helms() {
        assert_eq!(key("fa", 3), "sh.helm.release.v1.fa.v3");
        assert!(valid_release_name("fastapi-app-canary"));
        assert!(!valid_release_name("Bad_Name"));
        assert!(!valid_release_name(&"a".repeat(54)));
        assert_eq!(Driver::from_helm_driver("configmap"), Some(Driver::ConfigMap));
        assert_eq!(Driver::from_helm_driver(""), Some(Driver::Secret));
        assert_eq!(Driver::from_helm_driver("sql"), None);
    }

    #[test]
    fn labels_are_helms_with_the_stamp() {
        let mut r = Release { name: "fa".into(), version: 2, ..Release::default() };
        r.set_status(Status::Deployed, "Upgrade complete");
        r.labels.insert("team".into(), "web".into());
        let labels = Storage::labels(&r, ("modifiedAt", "17".into()));
        let want: BTreeMap<String, String> =
            [("modifiedAt", "17"), ("name", "fa"), ("owner", "helm"), ("status", "deployed"), ("team", "web"), ("version", "2")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(labels, want);
        assert!(valid_label_value("pending-install") && !valid_label_value("a b"));
    }
}
