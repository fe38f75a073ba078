//! Release operations as Helm 4's `pkg/action` runs them: install, upgrade
//! (`--install`, the values policies, `--history-max`), rollback (0: the
//! previous revision), uninstall (`--keep-history`), status, history and
//! `get values`/`get manifest`. Each writes its `pending-*` record before it
//! touches the cluster and its final state after; a release found pending
//! is refused with Helm's words; failures are recorded as `failed` with
//! Helm's description. Objects are applied with server-side apply as field
//! manager [`FIELD_MANAGER`] (the Helm 4 CLI's), each carrying Helm's
//! ownership label and annotations, in install order; objects a new
//! revision drops are deleted (unless `helm.sh/resource-policy: keep`);
//! uninstall deletes in Helm's uninstall order. Kinds are mapped by
//! discovery before anything is stored (Helm's `Build`); a chart's `crds/`
//! are installed first on install; templates' `lookup` reads the cluster;
//! fields Helm owned client-side (Helm 3) are moved to its apply entry
//! before applying, as Helm 4 does.
//!
//! Hooks and `--wait` slot in through [`Hooks`] and [`Waiter`], called where
//! Helm runs its hooks and its waiter; by default hooks run in the cluster
//! (`crate::hooks`; [`Releases::without_hooks`] is `--no-hooks`) and
//! nothing waits unless [`Releases::with_wait`] (`crate::wait`);
//! `rollback_on_failure` uninstalls a failed install or rolls a failed
//! upgrade back, with Helm 4's words. This
//! file renders through the engine's public entry points only and must not
//! parse templates or know the engine's value model.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use gantry_cluster::ClusterLookup;
use gantry_runtime::cluster::{ApplyOptions, BackendErrorKind, ClusterBackend, ObjectKey, Propagation};
use serde_json::{json, Map, Value};

use crate::manifest::{self, Manifest, KEEP_POLICY, RESOURCE_POLICY_ANNOTATION};
use crate::record::{self, ChartRecord, Info, Release, Status};
use crate::storage::{valid_release_name, Driver, Storage, StorageError};
use crate::values::{coalesce_tables, upgrade_values, ValuesPolicy};

/// The field manager of Helm 4's CLI (`kube.ManagedFieldsManager = "helm"`):
/// applying under it, gantry and `helm` share field ownership, so neither
/// meets the other's fields as a conflict.
pub const FIELD_MANAGER: &str = "helm";
/// Helm's ownership label and annotations on every object it applies.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_HELM: &str = "Helm";
pub const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";
/// Helm's `errPending`.
pub const PENDING_MESSAGE: &str = "another operation (install/upgrade/rollback) is in progress";
/// The CLI's `--history-max` default (`HELM_MAX_HISTORY`).
pub const DEFAULT_MAX_HISTORY: usize = 10;

/// A point of an operation where Helm runs hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookEvent {
    PreInstall,
    PostInstall,
    PreUpgrade,
    PostUpgrade,
    PreRollback,
    PostRollback,
    PreDelete,
    PostDelete,
}

impl HookEvent {
    /// The event's name in `helm.sh/hook`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
        }
    }
}

/// Runs a release's hooks of one event (`release.hooks`), recording their
/// runs in the release; an Err fails the operation as Helm's hook errors do.
#[async_trait::async_trait]
pub trait Hooks: Send + Sync {
    async fn run(&self, release: &mut Release, event: HookEvent) -> Result<(), String>;
}

/// No hooks run (Helm's `--no-hooks`); they stay recorded in the release.
pub struct NoHooks;

#[async_trait::async_trait]
impl Hooks for NoHooks {
    async fn run(&self, release: &mut Release, event: HookEvent) -> Result<(), String> {
        let wanted = release.hooks.iter().filter(|h| h["events"].as_array().is_some_and(|e| e.iter().any(|e| e == event.as_str()))).count();
        if wanted > 0 {
            tracing::warn!(release = %release.name, event = event.as_str(), hooks = wanted, "hooks are not run (--no-hooks)");
        }
        Ok(())
    }
}

/// Waits for applied objects to be ready (Helm's `--wait`); Err fails the operation.
#[async_trait::async_trait]
pub trait Waiter: Send + Sync {
    async fn wait(&self, release: &Release, objects: &[Value]) -> Result<(), String>;
}

/// Does not wait (Helm's default wait strategy, `hookOnly`, with no hooks).
pub struct NoWait;

#[async_trait::async_trait]
impl Waiter for NoWait {
    async fn wait(&self, _release: &Release, _objects: &[Value]) -> Result<(), String> {
        Ok(())
    }
}

/// Why an operation failed. Texts are Helm's where Helm has one.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("release name is invalid: {0}")]
    InvalidName(String),
    #[error("release name check failed: cannot reuse a name that is still in use")]
    NameInUse,
    #[error("{}", PENDING_MESSAGE)]
    Pending,
    #[error("release has no {0} version")]
    NoRevision(i64),
    #[error("the release named {0:?} is already deleted")]
    AlreadyDeleted(String),
    #[error("{0:?} has no deployed releases")]
    NoDeployed(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The chart did not load or render (nothing was stored).
    #[error("{0}")]
    Render(String),
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    /// An object exists that the release does not own (nothing was stored).
    #[error("unable to continue with {operation}: {message}")]
    Ownership { operation: &'static str, message: String },
    /// The operation failed after its record was written; the record now
    /// says `failed` with `release.info.description`.
    #[error("{message}")]
    Failed { release: Box<Release>, message: String },
    /// A manifest names a kind the cluster does not serve (nothing was stored).
    #[error("unable to build kubernetes objects from {manifest} manifest: {message}")]
    Build { manifest: &'static str, message: String },
    #[error("failed to delete release: {0}")]
    Delete(String),
    #[error("cluster: {0}")]
    Cluster(String),
}

pub type Result<T, E = ReleaseError> = std::result::Result<T, E>;

/// `helm install`'s options.
#[derive(Clone, Debug, Default)]
pub struct InstallOptions {
    /// User-supplied values (`-f`, `--set` merged), stored as the release's config.
    pub values: Map<String, Value>,
    pub description: Option<String>,
    /// Custom labels of the storage objects (`--labels`).
    pub labels: BTreeMap<String, String>,
    /// `--replace` (set by `upgrade --install` over an uninstalled release).
    pub replace: bool,
    /// `--force-conflicts`: take fields other managers own.
    pub force_conflicts: bool,
    /// `--rollback-on-failure` (Helm 3's `--atomic`): a failed install is uninstalled.
    pub rollback_on_failure: bool,
}

/// `helm upgrade`'s options.
#[derive(Clone, Debug)]
pub struct UpgradeOptions {
    pub values: Map<String, Value>,
    /// `--install`: install when the release does not exist or was uninstalled.
    pub install: bool,
    pub values_policy: ValuesPolicy,
    /// `--history-max`; 0 keeps every revision.
    pub max_history: usize,
    pub description: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub force_conflicts: bool,
    /// `--rollback-on-failure` (Helm 3's `--atomic`): a failed upgrade is
    /// rolled back to the last successful revision (a failed install uninstalled).
    pub rollback_on_failure: bool,
}

impl Default for UpgradeOptions {
    fn default() -> UpgradeOptions {
        UpgradeOptions {
            values: Map::new(),
            install: false,
            values_policy: ValuesPolicy::Default,
            max_history: DEFAULT_MAX_HISTORY,
            description: None,
            labels: BTreeMap::new(),
            force_conflicts: false,
            rollback_on_failure: false,
        }
    }
}

/// `helm rollback`'s options.
#[derive(Clone, Debug)]
pub struct RollbackOptions {
    /// The revision to return to; 0 is the one before the last.
    pub revision: i64,
    pub max_history: usize,
    pub force_conflicts: bool,
}

impl Default for RollbackOptions {
    fn default() -> RollbackOptions {
        RollbackOptions { revision: 0, max_history: DEFAULT_MAX_HISTORY, force_conflicts: false }
    }
}

/// `helm uninstall`'s options.
#[derive(Clone, Debug, Default)]
pub struct UninstallOptions {
    pub keep_history: bool,
    pub description: Option<String>,
}

/// What uninstall did.
#[derive(Clone, Debug)]
pub struct Uninstalled {
    pub release: Release,
    /// Helm's "These resources were kept due to the resource policy:" list, or empty.
    pub kept: String,
}

/// The releases of one namespace of one cluster.
pub struct Releases {
    /// The cluster's name in errors (and `lookup`'s).
    target: String,
    storage: Storage,
    objects: Arc<dyn ClusterBackend>,
    namespace: String,
    kube_version: Option<String>,
    /// The cluster's own `.Capabilities`, once asked ([`Releases::with_cluster_version`]).
    capabilities: Option<gantry_helm::helmfuncs::Capabilities>,
    /// Set by [`Releases::with_hooks`]; else hooks run in the cluster unless `--no-hooks`.
    hooks: Option<Arc<dyn Hooks>>,
    /// Set by [`Releases::with_waiter`]; else `--wait` decides.
    waiter: Option<Arc<dyn Waiter>>,
    /// `--no-hooks` when false.
    run_hooks: bool,
    /// `--wait` (with `--wait-for-jobs` when true).
    wait: Option<bool>,
    /// `--timeout`: each hook's and the whole wait's.
    timeout: std::time::Duration,
}

/// An object's identity as Helm's `ResourceList.Difference` compares them:
/// group, kind, namespace, name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Identity {
    group: String,
    kind: String,
    namespace: String,
    name: String,
}

/// One object ready to apply: its JSON (ownership metadata set) and identity.
struct Object {
    json: Value,
    id: Identity,
    api_version: String,
}

impl Object {
    fn key(&self) -> ObjectKey {
        let namespace = Some(self.id.namespace.clone()).filter(|n| !n.is_empty());
        ObjectKey { api_version: self.api_version.clone(), kind: self.id.kind.clone(), namespace, name: self.id.name.clone() }
    }

    /// Helm's `resourceString`.
    fn describe(&self) -> String {
        format!("{} {:?} in namespace {:?}", self.id.kind, self.id.name, self.id.namespace)
    }
}

fn now() -> String {
    record::now()
}

impl Releases {
    /// Releases in `namespace`, stored by `driver`, objects applied through
    /// `client` as Helm's field manager. `target` names the cluster in errors.
    pub fn new(target: &str, client: kube::Client, namespace: &str, driver: Driver) -> Releases {
        let objects = gantry_cluster::KubeBackend::new(target, client.clone()).with_field_manager(FIELD_MANAGER);
        Releases::with_backend(target, Storage::new(client, namespace, driver), Arc::new(objects))
    }

    /// Releases kept in `storage`, objects through `objects` (whose writes
    /// must use [`FIELD_MANAGER`]). `target` names the cluster in errors.
    pub fn with_backend(target: &str, storage: Storage, objects: Arc<dyn ClusterBackend>) -> Releases {
        let namespace = storage.namespace().to_string();
        Releases { target: target.to_string(), storage, objects, namespace, kube_version: None, capabilities: None,
            hooks: None,
            waiter: None,
            run_hooks: true,
            wait: None,
            timeout: crate::wait::DEFAULT_TIMEOUT,
        }
    }

    /// The cluster's version as `.Capabilities.KubeVersion` (else the engine's default).
    pub fn with_kube_version(mut self, version: &str) -> Releases {
        self.kube_version = Some(version.to_string());
        self
    }

    /// The cluster's own `.Capabilities`, asked as Helm's server-side
    /// operations ask (`/version`'s gitVersion, major and minor; the API
    /// versions and kinds it serves, without Helm's default set).
    pub async fn with_cluster_version(mut self) -> Result<Releases> {
        let ask = ClusterLookup::new(&self.target, self.storage.client().clone(), tokio::runtime::Handle::current());
        self.capabilities = Some(ask.capabilities().await.map_err(ReleaseError::Cluster)?);
        Ok(self)
    }

    /// Hooks run by `hooks` instead of in the cluster ([`NoHooks`]: recorded only).
    pub fn with_hooks(mut self, hooks: Arc<dyn Hooks>) -> Releases {
        self.hooks = Some(hooks);
        self
    }

    /// Waits by `waiter` instead of as `--wait` says.
    pub fn with_waiter(mut self, waiter: Arc<dyn Waiter>) -> Releases {
        self.waiter = Some(waiter);
        self
    }

    /// `--no-hooks`: hooks are recorded in the release, not run.
    pub fn without_hooks(mut self) -> Releases {
        self.run_hooks = false;
        self
    }

    /// `--wait` (Helm 4's `--wait=legacy`): applied objects must be ready as
    /// Helm judges them ([`crate::wait::KubeWaiter`]); Jobs must complete too
    /// when `wait_for_jobs` (`--wait-for-jobs`).
    pub fn with_wait(mut self, wait_for_jobs: bool) -> Releases {
        self.wait = Some(wait_for_jobs);
        self
    }

    /// `--timeout` (default 5m): for each hook and for the wait.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Releases {
        self.timeout = timeout;
        self
    }

    fn hooks(&self) -> Arc<dyn Hooks> {
        match (&self.hooks, self.run_hooks) {
            (Some(h), _) => h.clone(),
            (None, false) => Arc::new(NoHooks),
            (None, true) => Arc::new(crate::hooks::KubeHooks::new(self.objects.clone(), &self.namespace, self.timeout)),
        }
    }

    fn waiter(&self) -> Arc<dyn Waiter> {
        match (&self.waiter, self.wait) {
            (Some(w), _) => w.clone(),
            (None, None) => Arc::new(NoWait),
            (None, Some(jobs)) => Arc::new(crate::wait::KubeWaiter::new(self.objects.clone(), self.timeout).wait_for_jobs(jobs)),
        }
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Renders `chart` as a revision of `name`: the stored chart, the
    /// manifest, hooks and notes. `defaults`: chart values to put under the
    /// config (`--reuse-values`).
    /// Loading and rendering read files and run templates: on a blocking
    /// thread, where `lookup` may wait on the cluster.
    async fn render(&self, name: &str, chart: &Path, config: &Map<String, Value>, defaults: Option<&Map<String, Value>>, revision: i64, is_install: bool) -> Result<Rendered> {
        let lookup: Arc<dyn gantry_helm::helmfuncs::Lookup> = Arc::new(ClusterLookup::new(&self.target, self.storage.client().clone(), tokio::runtime::Handle::current()));
        let (name, chart, config, defaults) = (name.to_string(), chart.to_path_buf(), config.clone(), defaults.cloned());
        let (namespace, kube_version, capabilities) = (self.namespace.clone(), self.kube_version.clone(), self.capabilities.clone());
        let job = move || render_release(&name, &chart, &config, defaults.as_ref(), revision, is_install, &namespace, (kube_version, capabilities), lookup);
        tokio::task::spawn_blocking(job).await.map_err(|e| ReleaseError::Render(format!("the render stopped: {e}")))?
    }

    /// Helm's `installCRDs` (install only): each file of `crds/` applied in
    /// the order read, before the release is stored, then waited for until
    /// the cluster serves its kinds (Helm gives them 60 s). CRDs are not part
    /// of the release: upgrades leave them, uninstall keeps them.
    async fn install_crds(&self, crds: &[(String, String)], force: bool) -> Result<()> {
        let mut kinds = Vec::new();
        for (name, text) in crds {
            let failed = |m: String| ReleaseError::Cluster(format!("failed to install CRD {name}: {m}"));
            let docs = manifest::split_manifests(text);
            if docs.is_empty() {
                return Err(failed("resources are empty".into()));
            }
            for doc in docs {
                let crd = manifest::yaml_to_json(&doc).map_err(&failed)?;
                self.objects.apply(&crd, ApplyOptions { force, dry_run: false }).await.map_err(|e| failed(e.message))?;
                let spec = &crd["spec"];
                let kind = spec["names"]["kind"].as_str().unwrap_or_default().to_string();
                let group = spec["group"].as_str().unwrap_or_default().to_string();
                for v in spec["versions"].as_array().into_iter().flatten().filter(|v| v["served"] != false) {
                    kinds.push((name.clone(), format!("{group}/{}", v["name"].as_str().unwrap_or_default()), kind.clone()));
                }
            }
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        for (name, api_version, kind) in kinds {
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version.as_str()));
            let gvk = kube::core::GroupVersionKind::gvk(group, version, &kind);
            while kube::discovery::pinned_kind(self.storage.client(), &gvk).await.is_err() {
                if tokio::time::Instant::now() >= deadline {
                    return Err(ReleaseError::Cluster(format!("failed to install CRD {name}: {kind} in {api_version} is not served after 60s")));
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// The objects of `manifests` as Helm's kube `Build` makes them: each
    /// kind mapped to a resource the cluster serves (else Helm's error,
    /// naming `manifest`), namespaced ones in the release's namespace where
    /// none is given, cluster-scoped ones without one; Helm's ownership
    /// metadata on each.
    async fn objects(&self, release: &str, manifests: &[Manifest], manifest: &'static str) -> Result<Vec<Object>> {
        let mut scopes: HashMap<(String, String), bool> = HashMap::new();
        let mut out = Vec::new();
        for m in manifests {
            let mut json = manifest::yaml_to_json(&m.content).map_err(|e| manifest::ManifestError(format!("YAML parse error on {}: {e}", m.name)))?;
            if !json.is_object() {
                continue;
            }
            let written_namespace = json["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
            let namespaced = match scopes.get(&(m.api_version.clone(), m.kind.clone())) {
                Some(n) => *n,
                None => {
                    let n = self.namespaced(m, &written_namespace, manifest).await?;
                    scopes.insert((m.api_version.clone(), m.kind.clone()), n);
                    n
                }
            };
            let meta = &mut json["metadata"];
            if !namespaced {
                if let Some(meta) = meta.as_object_mut() {
                    meta.remove("namespace");
                }
            } else if written_namespace.is_empty() {
                meta["namespace"] = json!(self.namespace);
            }
            if !meta["labels"].is_object() {
                meta["labels"] = json!({});
            }
            meta["labels"][MANAGED_BY_LABEL] = json!(MANAGED_BY_HELM);
            if !meta["annotations"].is_object() {
                meta["annotations"] = json!({});
            }
            meta["annotations"][RELEASE_NAME_ANNOTATION] = json!(release);
            meta["annotations"][RELEASE_NAMESPACE_ANNOTATION] = json!(self.namespace);
            let group = m.api_version.rsplit_once('/').map(|(g, _)| g.to_string()).unwrap_or_default();
            let id = Identity { group, kind: m.kind.clone(), namespace: json["metadata"]["namespace"].as_str().unwrap_or_default().to_string(), name: m.object_name.clone() };
            out.push(Object { json, id, api_version: m.api_version.clone() });
        }
        Ok(out)
    }

    /// Whether `m`'s kind is namespaced, by discovery; Helm's `Build` error
    /// when the cluster does not serve it.
    async fn namespaced(&self, m: &Manifest, written_namespace: &str, manifest: &'static str) -> Result<bool> {
        let (group, version) = m.api_version.rsplit_once('/').unwrap_or(("", m.api_version.as_str()));
        let gvk = kube::core::GroupVersionKind::gvk(group, version, &m.kind);
        match kube::discovery::pinned_kind(self.storage.client(), &gvk).await {
            Ok((_, caps)) => Ok(caps.scope == kube::discovery::Scope::Namespaced),
            Err(e) if matches!(&e, kube::Error::Discovery(_)) || matches!(&e, kube::Error::Api(s) if s.code == 404) => Err(ReleaseError::Build {
                manifest,
                message: format!(
                    "resource mapping not found for name: {:?} namespace: {written_namespace:?} from \"\": no matches for kind {:?} in version {:?}\nensure CRDs are installed first",
                    m.object_name, m.kind, m.api_version
                ),
            }),
            Err(e) => Err(ReleaseError::Cluster(format!("discovery of {} {}: {e}", m.api_version, m.kind))),
        }
    }

    /// Helm's `existingResourceConflict`: objects about to be created that
    /// exist already must carry this release's ownership metadata.
    async fn check_ownership(&self, release: &str, objects: &[&Object], operation: &'static str) -> Result<()> {
        for o in objects {
            let live = match self.objects.get(&o.key()).await {
                Ok(live) => live,
                Err(e) if e.kind == BackendErrorKind::NotFound => continue,
                Err(e) => return Err(ReleaseError::Ownership { operation, message: format!("could not get information about the resource {}: {}", o.describe(), e.message) }),
            };
            let require = |map: &Value, k: &str, v: &str| -> Option<String> {
                match map[k].as_str() {
                    None => Some(format!("missing key {k:?}: must be set to {v:?}")),
                    Some(actual) if actual != v => Some(format!("key {k:?} must equal {v:?}: current value is {actual:?}")),
                    Some(_) => None,
                }
            };
            let meta = &live["metadata"];
            let mut errors = Vec::new();
            if let Some(e) = require(&meta["labels"], MANAGED_BY_LABEL, MANAGED_BY_HELM) {
                errors.push(format!("label validation error: {e}"));
            }
            for (k, v) in [(RELEASE_NAME_ANNOTATION, release), (RELEASE_NAMESPACE_ANNOTATION, self.namespace.as_str())] {
                if let Some(e) = require(&meta["annotations"], k, v) {
                    errors.push(format!("annotation validation error: {e}"));
                }
            }
            if !errors.is_empty() {
                return Err(ReleaseError::Ownership {
                    operation,
                    message: format!("{} exists and cannot be imported into the current release: invalid ownership metadata; {}", o.describe(), errors.join("; ")),
                });
            }
        }
        Ok(())
    }

    /// Helm 4's `upgradeClientSideFieldManager` (client-go's `csaupgrade`):
    /// the fields an object's client-side `helm` manager (operation Update,
    /// as Helm 3 and `--server-side=false` wrote them) owns are moved into
    /// the `helm` Apply entry, so that applying server-side as `helm` meets
    /// no conflict with Helm's own earlier writes. Nothing to do when the
    /// object is missing or has no such entry.
    async fn upgrade_csa_manager(&self, o: &Object) -> Result<(), String> {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
        let (group, version) = o.api_version.rsplit_once('/').unwrap_or(("", o.api_version.as_str()));
        let gvk = kube::core::GroupVersionKind::gvk(group, version, &o.id.kind);
        let client = self.storage.client().clone();
        let (resource, caps) = kube::discovery::pinned_kind(&client, &gvk).await.map_err(|e| format!("discovery of {} {}: {e}", o.api_version, o.id.kind))?;
        let api: kube::Api<kube::api::DynamicObject> = if caps.scope == kube::discovery::Scope::Namespaced {
            kube::Api::namespaced_with(client, &o.id.namespace, &resource)
        } else {
            kube::Api::all_with(client, &resource)
        };
        let fail = |e: kube::Error| format!("failed to patch object to upgrade CSA field manager {}/{} {}: {e}", o.id.namespace, o.id.name, o.api_version);
        // Helm retries on a conflicting write (`retry.RetryOnConflict`).
        for _ in 0..5 {
            let Some(live) = api.get_opt(&o.id.name).await.map_err(fail)? else { return Ok(()) };
            let entries = live.metadata.managed_fields.clone().unwrap_or_default();
            let ours = |e: &ManagedFieldsEntry, op: &str| e.manager.as_deref() == Some(FIELD_MANAGER) && e.operation.as_deref() == Some(op) && e.subresource.as_deref().unwrap_or_default().is_empty();
            if !entries.iter().any(|e| ours(e, "Update")) {
                return Ok(());
            }
            let mut fields = Value::Object(Map::new());
            let mut apply: Option<ManagedFieldsEntry> = None;
            let mut kept = Vec::new();
            for e in entries {
                if ours(&e, "Update") {
                    merge_fields(&mut fields, e.fields_v1.as_ref().map(|f| &f.0));
                    apply.get_or_insert_with(|| ManagedFieldsEntry { operation: Some("Apply".into()), fields_v1: None, ..e.clone() });
                } else if ours(&e, "Apply") {
                    merge_fields(&mut fields, e.fields_v1.as_ref().map(|f| &f.0));
                    apply = Some(e);
                } else {
                    kept.push(e);
                }
            }
            if let Some(mut entry) = apply {
                entry.fields_type = Some("FieldsV1".into());
                entry.fields_v1 = Some(FieldsV1(fields));
                kept.push(entry);
            }
            let patch = json!({"metadata": {"managedFields": kept, "resourceVersion": live.metadata.resource_version}});
            let params = kube::api::PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
            match api.patch(&o.id.name, &params, &kube::api::Patch::Merge(&patch)).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(fail(e)),
            }
        }
        Err(format!("failed to patch object to upgrade CSA field manager {}/{} {}: it kept changing", o.id.namespace, o.id.name, o.api_version))
    }

    /// Helm's kube `Update` (and `Create`, with no current objects): every
    /// target applied in order, then the current objects the targets no
    /// longer have deleted unless kept by policy.
    /// `migrate_csa`: first move fields Helm owns client-side into its
    /// server-side entry (a release last applied client-side, a rollback).
    async fn update_objects(&self, current: &[Object], target: &[Object], force: bool, migrate_csa: bool) -> Result<(), String> {
        let options = ApplyOptions { force, dry_run: false };
        let mut errors = Vec::new();
        for o in target {
            if migrate_csa {
                if let Err(e) = self.upgrade_csa_manager(o).await {
                    errors.push(e);
                    continue;
                }
            }
            if let Err(e) = self.objects.apply(&o.json, options).await {
                // Helm's words around the cause (`patchResourceServerSide`); it
                // keeps going through the other objects and joins the errors.
                let gvk = format!("{}, Kind={}", if o.api_version.contains('/') { o.api_version.clone() } else { format!("/{}", o.api_version) }, o.id.kind);
                let what = if e.kind == BackendErrorKind::Conflict { "conflict occurred while applying object" } else { "server-side apply failed for object" };
                errors.push(format!("{what} {}/{} {gvk}: {}", o.id.namespace, o.id.name, e.message));
            }
        }
        if !errors.is_empty() {
            return Err(errors.join(" && "));
        }
        let wanted: HashSet<&Identity> = target.iter().map(|o| &o.id).collect();
        for o in current.iter().filter(|o| !wanted.contains(&o.id)) {
            let live = match self.objects.get(&o.key()).await {
                Ok(live) => live,
                Err(e) => {
                    tracing::debug!(object = %o.describe(), error = %e.message, "unable to get object");
                    continue;
                }
            };
            if live["metadata"]["annotations"][RESOURCE_POLICY_ANNOTATION] == KEEP_POLICY {
                tracing::debug!(object = %o.describe(), "skipping delete due to annotation");
                continue;
            }
            match self.objects.delete(&o.key(), Propagation::Background).await {
                Ok(()) => {}
                Err(e) if e.kind == BackendErrorKind::NotFound => {}
                Err(e) => errors.push(format!("failed to delete resource namespace={}, name={}, kind={}: {}", o.id.namespace, o.id.name, o.id.kind, e.message)),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join(" && "))
        }
    }

    async fn fail(&self, mut release: Release, description: String, error: String) -> ReleaseError {
        release.set_status(Status::Failed, description);
        if let Err(e) = self.storage.update(&release).await {
            tracing::warn!(release = %release.name, error = %e, "failed to record the failed release");
        }
        ReleaseError::Failed { release: Box::new(release), message: error }
    }

    /// `helm install NAME CHART`.
    pub async fn install(&self, name: &str, chart: &Path, options: &InstallOptions) -> Result<Release> {
        if !valid_release_name(name) {
            return Err(ReleaseError::InvalidName(name.to_string()));
        }
        // availableName: the name is free unless a revision exists, or
        // (--replace) its last revision was uninstalled or failed.
        let last = match self.storage.history(name).await {
            Ok(h) => h.into_iter().last(),
            Err(StorageError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(last) = &last {
            if !(options.replace && matches!(last.status(), Status::Uninstalled | Status::Failed)) {
                return Err(ReleaseError::NameInUse);
            }
        }
        let version = last.as_ref().map_or(1, |l| l.version + 1);
        let Rendered { chart: chart_record, sorted, manifest: text, notes, crds } = self.render(name, chart, &options.values, None, version, true).await?;
        self.install_crds(&crds, options.force_conflicts).await?;
        let stamp = now();
        let mut release = Release {
            name: name.to_string(),
            namespace: self.namespace.clone(),
            chart: Some(chart_record),
            config: options.values.clone(),
            info: Some(Info { first_deployed: Some(stamp.clone()), last_deployed: Some(stamp), notes, ..Info::default() }),
            version,
            manifest: text,
            hooks: sorted.hooks,
            labels: options.labels.clone(),
            apply_method: "ssa".into(),
            ..Release::default()
        };
        release.set_status(Status::PendingInstall, "Initial install underway");
        let objects = self.objects(name, &sorted.manifests, "release").await?;
        self.check_ownership(name, &objects.iter().collect::<Vec<_>>(), "install").await?;
        if let Some(mut last) = last {
            // replaceRelease: a failed last revision keeps its status.
            if last.status() != Status::Failed {
                last.set_status(Status::Superseded, "superseded by new release");
                self.storage.update(&last).await?;
            }
        }
        self.storage.create(&release).await?;
        let outcome = async {
            self.hooks().run(&mut release, HookEvent::PreInstall).await.map_err(|e| format!("failed pre-install: {e}"))?;
            self.update_objects(&[], &objects, options.force_conflicts, false).await?;
            self.waiter().wait(&release, &objects.iter().map(|o| o.json.clone()).collect::<Vec<_>>()).await?;
            self.hooks().run(&mut release, HookEvent::PostInstall).await.map_err(|e| format!("failed post-install: {e}"))
        }
        .await;
        if let Err(e) = outcome {
            let failed = self.fail(release, format!("Release {name:?} failed: {e}"), e.clone()).await;
            if !options.rollback_on_failure {
                return Err(failed);
            }
            // Helm's install with rollback-on-failure: uninstall, history purged.
            tracing::debug!(release = name, "install failed and rollback-on-failure is set, uninstalling release");
            let ReleaseError::Failed { release, .. } = failed else { return Err(failed) };
            let message = match self.uninstall(name, &UninstallOptions::default()).await {
                Ok(_) => format!("release {name} failed, and has been uninstalled due to rollback-on-failure being set: {e}"),
                Err(ue) => format!("an error occurred while uninstalling the release. original install error: {e}: {ue}"),
            };
            return Err(ReleaseError::Failed { release, message });
        }
        release.set_status(Status::Deployed, options.description.clone().unwrap_or_else(|| "Install complete".into()));
        if let Err(e) = self.storage.update(&release).await {
            tracing::error!(release = name, error = %e, "failed to record the release");
        }
        Ok(release)
    }

    /// `helm upgrade [--install] NAME CHART`.
    pub async fn upgrade(&self, name: &str, chart: &Path, options: &UpgradeOptions) -> Result<Release> {
        if !valid_release_name(name) {
            return Err(ReleaseError::InvalidName(name.to_string()));
        }
        let history = match self.storage.history(name).await {
            Ok(h) => h,
            Err(StorageError::NotFound) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        if options.install && history.last().is_none_or(|l| l.status() == Status::Uninstalled) {
            let install = InstallOptions {
                values: options.values.clone(),
                description: options.description.clone(),
                labels: options.labels.clone(),
                replace: !history.is_empty(),
                force_conflicts: options.force_conflicts,
                rollback_on_failure: options.rollback_on_failure,
            };
            return self.install(name, chart, &install).await;
        }
        let last = history.last().cloned().ok_or_else(|| ReleaseError::NoDeployed(name.to_string()))?;
        if last.status().is_pending() {
            return Err(ReleaseError::Pending);
        }
        let current = if last.status() == Status::Deployed {
            last.clone()
        } else {
            match self.storage.deployed(name).await {
                Ok(r) => r,
                Err(StorageError::NoDeployed(_)) if matches!(last.status(), Status::Failed | Status::Superseded) => last.clone(),
                Err(StorageError::NoDeployed(n)) => return Err(ReleaseError::NoDeployed(n)),
                Err(e) => return Err(e.into()),
            }
        };
        let last_chart_values = current.chart.as_ref().and_then(|c| c.values.as_ref());
        let (config, defaults) = upgrade_values(options.values_policy, options.values.clone(), &current.config, last_chart_values);
        let revision = last.version + 1;
        let Rendered { chart: chart_record, sorted, manifest: text, notes, .. } = self.render(name, chart, &config, defaults.as_ref(), revision, false).await?;
        let mut labels = last.labels.clone();
        for (k, v) in &options.labels {
            labels.insert(k.clone(), v.clone());
        }
        labels.retain(|_, v| v != "null");
        let mut upgraded = Release {
            name: name.to_string(),
            namespace: current.namespace.clone(),
            chart: Some(chart_record),
            config,
            info: Some(Info { first_deployed: current.info.as_ref().and_then(|i| i.first_deployed.clone()), last_deployed: Some(now()), notes, ..Info::default() }),
            version: revision,
            manifest: text,
            hooks: sorted.hooks,
            labels,
            apply_method: "ssa".into(),
            ..Release::default()
        };
        upgraded.set_status(Status::PendingUpgrade, "Preparing upgrade");
        let current_objects = self.objects(name, &manifest::read(&current.manifest)?, "current release").await?;
        let target = self.objects(name, &sorted.manifests, "new release").await?;
        let existing: HashSet<&Identity> = current_objects.iter().map(|o| &o.id).collect();
        let to_create: Vec<&Object> = target.iter().filter(|o| !existing.contains(&o.id)).collect();
        self.check_ownership(name, &to_create, "update").await?;
        let mut storage = self.storage.clone();
        storage.max_history = options.max_history;
        storage.create(&upgraded).await?;
        let outcome = async {
            self.hooks().run(&mut upgraded, HookEvent::PreUpgrade).await.map_err(|e| format!("pre-upgrade hooks failed: {e}"))?;
            // Helm upgrades the field manager when the last release was applied client-side.
            let from_csa = matches!(current.apply_method.as_str(), "" | "csa");
            self.update_objects(&current_objects, &target, options.force_conflicts, from_csa).await?;
            self.waiter().wait(&upgraded, &target.iter().map(|o| o.json.clone()).collect::<Vec<_>>()).await?;
            self.hooks().run(&mut upgraded, HookEvent::PostUpgrade).await.map_err(|e| format!("post-upgrade hooks failed: {e}"))
        }
        .await;
        if let Err(e) = outcome {
            let failed = self.fail(upgraded, format!("Upgrade {name:?} failed: {e}"), e.clone()).await;
            if !options.rollback_on_failure {
                return Err(failed);
            }
            return Err(self.roll_back_failed_upgrade(name, failed, e, options).await);
        }
        let mut original = current;
        original.info_mut().status = Status::Superseded;
        if let Err(e) = self.storage.update(&original).await {
            tracing::warn!(release = name, error = %e, "failed to record the superseded release");
        }
        upgraded.set_status(Status::Deployed, options.description.clone().unwrap_or_else(|| "Upgrade complete".into()));
        self.storage.update(&upgraded).await?;
        Ok(upgraded)
    }

    /// Helm's upgrade with rollback-on-failure: back to the newest
    /// deployed or superseded revision, and the error says which happened.
    async fn roll_back_failed_upgrade(&self, name: &str, failed: ReleaseError, error: String, options: &UpgradeOptions) -> ReleaseError {
        let ReleaseError::Failed { release, .. } = failed else { return failed };
        let history = match self.storage.history(name).await {
            Ok(h) => h,
            Err(he) => return ReleaseError::Failed { release, message: format!("{error}: {he}") },
        };
        let Some(good) = history.iter().filter(|r| matches!(r.status(), Status::Superseded | Status::Deployed)).max_by_key(|r| r.version) else {
            return ReleaseError::Failed { release, message: format!("unable to find a previously successful release when attempting to rollback the failed release: {error}") };
        };
        tracing::debug!(release = name, revision = good.version, "upgrade failed and rollback-on-failure is set, rolling back to previous successful release");
        let rollback = RollbackOptions { revision: good.version, max_history: options.max_history, force_conflicts: options.force_conflicts };
        let message = match self.rollback(name, &rollback).await {
            Ok(_) => format!("release {name} failed, and has been rolled back due to rollback-on-failure being set: {error}"),
            Err(re) => format!("an error occurred while rolling back the release. original upgrade error: {error}: {re}"),
        };
        ReleaseError::Failed { release, message }
    }

    /// `helm rollback NAME [REVISION]`: a new revision with an earlier one's
    /// chart, values and manifest. (Helm does not refuse a pending release here.)
    pub async fn rollback(&self, name: &str, options: &RollbackOptions) -> Result<Release> {
        if !valid_release_name(name) {
            return Err(ReleaseError::InvalidName(name.to_string()));
        }
        if options.revision < 0 {
            return Err(ReleaseError::Render("negative version numbers are invalid".into()));
        }
        let history = self.storage.history(name).await?;
        let current = history.last().cloned().ok_or(ReleaseError::Storage(StorageError::NotFound))?;
        let previous_version = if options.revision == 0 { current.version - 1 } else { options.revision };
        if !history.iter().any(|r| r.version == previous_version) {
            return Err(ReleaseError::NoRevision(previous_version));
        }
        let previous = self.storage.get(name, previous_version).await?;
        let mut target = Release {
            name: name.to_string(),
            namespace: current.namespace.clone(),
            chart: previous.chart.clone(),
            config: previous.config.clone(),
            info: Some(Info {
                first_deployed: current.info.as_ref().and_then(|i| i.first_deployed.clone()),
                last_deployed: Some(now()),
                notes: previous.info.as_ref().map(|i| i.notes.clone()).unwrap_or_default(),
                ..Info::default()
            }),
            version: current.version + 1,
            labels: previous.labels.clone(),
            manifest: previous.manifest.clone(),
            hooks: previous.hooks.clone(),
            apply_method: "ssa".into(),
            ..Release::default()
        };
        target.set_status(Status::PendingRollback, format!("Rollback to {previous_version}"));
        let mut storage = self.storage.clone();
        storage.max_history = options.max_history;
        storage.create(&target).await?;
        let current_objects = self.objects(name, &manifest::read(&current.manifest)?, "current release").await?;
        let target_objects = self.objects(name, &manifest::read(&target.manifest)?, "new release").await?;
        if let Err(e) = self.hooks().run(&mut target, HookEvent::PreRollback).await {
            return Err(ReleaseError::Failed { release: Box::new(target), message: e });
        }
        if let Err(e) = self.update_objects(&current_objects, &target_objects, options.force_conflicts, true).await {
            let mut current = current;
            current.info_mut().status = Status::Superseded;
            if let Err(se) = self.storage.update(&current).await {
                tracing::warn!(release = name, error = %se, "failed to record the superseded release");
            }
            return Err(self.fail(target, format!("Rollback {name:?} failed: {e}"), e).await);
        }
        if let Err(e) = self.waiter().wait(&target, &target_objects.iter().map(|o| o.json.clone()).collect::<Vec<_>>()).await {
            return Err(self.fail(target, format!("Release {name:?} failed: {e}"), format!("release {name} failed: {e}")).await);
        }
        if let Err(e) = self.hooks().run(&mut target, HookEvent::PostRollback).await {
            return Err(ReleaseError::Failed { release: Box::new(target), message: e });
        }
        // Supersede every deployed revision (Helm issue #2941).
        match self.storage.deployed_all(name).await {
            Ok(deployed) => {
                for mut r in deployed {
                    r.info_mut().status = Status::Superseded;
                    self.storage.update(&r).await?;
                }
            }
            Err(StorageError::NoDeployed(_)) => {}
            Err(e) => return Err(e.into()),
        }
        target.info_mut().status = Status::Deployed;
        self.storage.update(&target).await?;
        Ok(target)
    }

    /// `helm uninstall NAME [--keep-history]`.
    pub async fn uninstall(&self, name: &str, options: &UninstallOptions) -> Result<Uninstalled> {
        if !valid_release_name(name) {
            return Err(ReleaseError::InvalidName(name.to_string()));
        }
        let history = self.storage.history(name).await.map_err(|e| match e {
            StorageError::NotFound => ReleaseError::Cluster(format!("uninstall: Release not loaded: {name}: release: not found")),
            other => other.into(),
        })?;
        let Some(mut release) = history.last().cloned() else {
            return Err(ReleaseError::Storage(StorageError::NotFound));
        };
        if release.status() == Status::Uninstalled {
            if !options.keep_history {
                self.purge(&history).await?;
                return Ok(Uninstalled { release, kept: String::new() });
            }
            return Err(ReleaseError::AlreadyDeleted(name.to_string()));
        }
        release.set_status(Status::Uninstalling, "Deletion in progress (or silently failed)");
        release.info_mut().deleted = Some(now());
        self.hooks().run(&mut release, HookEvent::PreDelete).await.map_err(|e| ReleaseError::Failed { release: Box::new(release.clone()), message: e })?;
        if let Err(e) = self.storage.update(&release).await {
            tracing::debug!(release = name, error = %e, "uninstall: Failed to store updated release");
        }
        let manifests = manifest::read_for_uninstall(&release.manifest).map_err(|e| ReleaseError::Delete(format!("{name}: corrupted release record. You must manually delete the resources: {e}")))?;
        let (keep, delete): (Vec<Manifest>, Vec<Manifest>) = manifests.into_iter().partition(|m| m.annotations.get(RESOURCE_POLICY_ANNOTATION).is_some_and(|p| p == KEEP_POLICY));
        let mut kept = String::new();
        for m in &keep {
            kept.push_str(&format!("[{}] {}\n", m.kind, m.object_name));
        }
        if !kept.is_empty() {
            kept = format!("These resources were kept due to the resource policy:\n{kept}");
        }
        let mut failed = false;
        for o in self.objects(name, &delete, "release").await.map_err(|e| ReleaseError::Delete(format!("{name}: {e}")))? {
            match self.objects.delete(&o.key(), Propagation::Background).await {
                Ok(()) => {}
                Err(e) if e.kind == BackendErrorKind::NotFound => {}
                Err(e) => {
                    tracing::debug!(object = %o.describe(), error = %e.message, "uninstall: failed to delete");
                    failed = true;
                }
            }
        }
        if failed {
            return Err(ReleaseError::Delete(name.to_string()));
        }
        let mut errors = Vec::new();
        if let Err(e) = self.waiter().wait(&release, &[]).await {
            errors.push(e);
        }
        if let Err(e) = self.hooks().run(&mut release, HookEvent::PostDelete).await {
            errors.push(e);
        }
        release.set_status(Status::Uninstalled, options.description.clone().unwrap_or_else(|| "Uninstallation complete".into()));
        if !options.keep_history {
            if let Err(e) = self.purge(&history).await {
                errors.push(format!("uninstall: Failed to purge the release: {e}"));
            }
        } else {
            if let Err(e) = self.storage.update(&release).await {
                tracing::debug!(release = name, error = %e, "uninstall: Failed to store updated release");
            }
            match self.storage.deployed_all(name).await {
                Ok(deployed) => {
                    for mut r in deployed {
                        r.info_mut().status = Status::Superseded;
                        if let Err(e) = self.storage.update(&r).await {
                            tracing::debug!(release = name, error = %e, "uninstall: Failed to store updated release");
                        }
                    }
                }
                Err(StorageError::NoDeployed(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !errors.is_empty() {
            let message = format!("uninstallation completed with {} error(s): {}", errors.len(), errors.join("; "));
            return Err(ReleaseError::Failed { release: Box::new(release), message });
        }
        Ok(Uninstalled { release, kept })
    }

    async fn purge(&self, history: &[Release]) -> Result<()> {
        for r in history {
            self.storage.delete(&r.name, r.version).await?;
        }
        Ok(())
    }

    /// A revision (None or 0: the last), as `helm status` and `helm get` read it.
    pub async fn get(&self, name: &str, revision: Option<i64>) -> Result<Release> {
        match revision.filter(|r| *r > 0) {
            Some(v) => Ok(self.storage.get(name, v).await?),
            None => Ok(self.storage.last(name).await?),
        }
    }

    /// `helm status NAME [--revision N]`.
    pub async fn status(&self, name: &str, revision: Option<i64>) -> Result<Release> {
        self.get(name, revision).await
    }

    /// `helm history NAME [--max N]`: oldest first, at most `max` (the newest) when given.
    pub async fn history(&self, name: &str, max: Option<usize>) -> Result<Vec<Release>> {
        let mut h = self.storage.history(name).await?;
        if let Some(max) = max.filter(|m| *m > 0 && *m < h.len()) {
            h.drain(..h.len() - max);
        }
        Ok(h)
    }

    /// `helm get values NAME [--all] [--revision N]`: the user-supplied values,
    /// or (`all`) those coalesced with the stored chart's.
    pub async fn get_values(&self, name: &str, revision: Option<i64>, all: bool) -> Result<Map<String, Value>> {
        let r = self.get(name, revision).await?;
        if !all {
            return Ok(r.config);
        }
        let chart_values = r.chart.as_ref().and_then(|c| c.values.clone()).unwrap_or_default();
        Ok(coalesce_tables(r.config, &chart_values))
    }

    /// `helm get manifest NAME [--revision N]`.
    pub async fn get_manifest(&self, name: &str, revision: Option<i64>) -> Result<String> {
        Ok(self.get(name, revision).await?.manifest)
    }
}

/// Loads and renders `chart` as revision `revision` of `name` (blocking).
#[allow(clippy::too_many_arguments)]
fn render_release(
    name: &str,
    chart: &Path,
    config: &Map<String, Value>,
    defaults: Option<&Map<String, Value>>,
    revision: i64,
    is_install: bool,
    namespace: &str,
    (kube_version, capabilities): (Option<String>, Option<gantry_helm::helmfuncs::Capabilities>),
    lookup: Arc<dyn gantry_helm::helmfuncs::Lookup>,
) -> Result<Rendered> {
    let loaded = gantry_helm::chart::load(chart).map_err(|e| ReleaseError::Render(e.message))?;
    let mut record = record::chart_record(&loaded, chart.is_dir().then_some(chart));
    let user = match defaults {
        Some(d) => {
            record.values = Some(d.clone());
            coalesce_tables(config.clone(), d)
        }
        None => config.clone(),
    };
    let options = gantry_helm::engine::RenderOptions {
        release_name: name.to_string(),
        namespace: namespace.to_string(),
        revision,
        is_install,
        is_upgrade: !is_install,
        kube_version,
        capabilities,
        install_checks: true,
        lookup: Some(lookup),
        ..gantry_helm::engine::RenderOptions::default()
    };
    let values = gantry_helm::value::Value::from(&Value::Object(user));
    let files = gantry_helm::engine::render_chart(chart, &values, &options).map_err(|e| ReleaseError::Render(e.message))?;
    let (sorted, text, notes) = manifest::build(files, loaded.name())?;
    let crds = loaded.crd_objects().into_iter().map(|c| (c.name, c.file.text())).collect();
    Ok(Rendered { chart: record, sorted, manifest: text, notes, crds })
}

/// A chart rendered as a revision.
struct Rendered {
    chart: ChartRecord,
    sorted: manifest::Sorted,
    manifest: String,
    notes: String,
    /// The files of `crds/` (subcharts' included): name, text.
    crds: Vec<(String, String)>,
}

/// The union of two managed-fields sets (`fieldsV1` tries of objects).
fn merge_fields(into: &mut Value, from: Option<&Value>) {
    let (Value::Object(into), Some(Value::Object(from))) = (into, from) else { return };
    for (k, v) in from {
        match into.get_mut(k) {
            Some(existing) => merge_fields(existing, Some(v)),
            None => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_field_sets_merge_as_a_union() {
        let mut a = json!({"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {"f:x": {}}}});
        merge_fields(&mut a, Some(&json!({"f:data": {"f:b": {}}, "f:spec": {"f:replicas": {}}})));
        assert_eq!(a, json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:x": {}}}, "f:spec": {"f:replicas": {}}}));
    }
}
