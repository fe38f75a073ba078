//! The run lock: one coordination.k8s.io/v1 Lease per release and target
//! (`gantry-lock.<release>` in the release's namespace, labelled
//! `app.kubernetes.io/managed-by: gantry`), taken before a run's first stage,
//! renewed every third of its duration by a background task, and given back
//! (holder cleared) when the run ends. Every write carries the
//! resourceVersion it read, so of two runs racing exactly one wins; the loser
//! sees 409 and reads again. A lease nobody renewed for its duration (a
//! crashed run) is taken over, with `leaseTransitions` incremented, as
//! client-go's leader election does. This file decides who holds a lock; it
//! must not touch any other object than the lease (and the release's
//! namespace when it does not exist yet) and must not stop a run itself: a
//! lost lock is reported through [`RunLock::lost`], the caller cancels.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{Timestamp, Unit};
use kube::api::{Api, PostParams};
/// The connected client a lock is taken with (re-exported for callers).
pub use kube::Client;
use tokio::sync::watch;

/// The label every gantry lease carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "gantry");
/// The default lease duration (seconds).
pub const DEFAULT_DURATION: Duration = Duration::from_secs(30);

/// The lease's name for `release`.
pub fn lease_name(release: &str) -> String {
    format!("gantry-lock.{release}")
}

/// Who holds a lock: `run RUN_ID on host HOST (pid PID)`, written into
/// `holderIdentity` as is, so a second run's error can quote it.
pub fn holder_identity(run_id: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into());
    format!("run {run_id} on host {host} (pid {})", std::process::id())
}

/// How to take a lock.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// `leaseDurationSeconds`; renewed every third of it.
    pub duration: Duration,
    /// How long to wait for another holder to let go (0: fail at once).
    pub timeout: Duration,
    /// How often to read the lease again while waiting.
    pub poll: Duration,
}

impl Default for LockOptions {
    fn default() -> LockOptions {
        LockOptions { duration: DEFAULT_DURATION, timeout: Duration::ZERO, poll: Duration::from_secs(1) }
    }
}

/// Why a lock was not taken, or was lost.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LockError {
    /// Someone else holds it and it has not expired.
    #[error("release {release} on target {target} is locked by {holder} since {since}; it expires unless renewed; wait, or pass --lock-timeout")]
    Locked { release: String, target: String, holder: String, since: String },
    /// The API server refused or could not be reached.
    #[error("release {release} on target {target}: cannot take the run lock (lease {namespace}/{name}): {message}")]
    Api { release: String, target: String, namespace: String, name: String, message: String },
}

/// Where a lock lives and who asks for it.
#[derive(Debug, Clone)]
struct Place {
    target: String,
    release: String,
    namespace: String,
    name: String,
    identity: String,
    duration: Duration,
}

impl Place {
    fn api_error(&self, what: &str, err: kube::Error) -> LockError {
        let message = match err {
            kube::Error::Api(s) => format!("{what}: {} ({})", s.message, s.code),
            other => format!("{what}: {}", crate::target::classify(&self.target, other)),
        };
        LockError::Api { release: self.release.clone(), target: self.target.clone(), namespace: self.namespace.clone(), name: self.name.clone(), message }
    }

    fn duration_secs(&self) -> i32 {
        i32::try_from(self.duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

fn is_code(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == code)
}

/// Whether `lease` is held by someone (not `me`) whose renewal is still in date.
fn live_holder<'a>(lease: &'a Lease, me: &str) -> Option<&'a str> {
    let spec = lease.spec.as_ref()?;
    let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty() && *h != me)?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?;
    let duration_ms = i64::from(spec.lease_duration_seconds.unwrap_or(0).max(0)) * 1000;
    let expires = renewed.0.as_millisecond().saturating_add(duration_ms);
    (expires >= Timestamp::now().as_millisecond()).then_some(holder)
}

fn since(lease: &Lease) -> String {
    let spec = lease.spec.as_ref();
    match spec.and_then(|s| s.acquire_time.as_ref().or(s.renew_time.as_ref())) {
        Some(t) => t.0.round(Unit::Second).map(|t| t.to_string()).unwrap_or_else(|_| t.0.to_string()),
        None => "an unknown time".into(),
    }
}

/// A held run lock. Drop it only through [`RunLock::release`]; dropped
/// without it, the renewals stop and the lease expires after its duration.
pub struct RunLock {
    place: Arc<Place>,
    api: Api<Lease>,
    stop: watch::Sender<bool>,
    lost: watch::Receiver<Option<String>>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

impl RunLock {
    /// Take the lock on `release` (in `namespace`) on `target`, waiting up
    /// to `options.timeout` for another holder to let go or expire.
    pub async fn acquire(client: Client, target: &str, release: &str, namespace: &str, identity: &str, options: &LockOptions) -> Result<RunLock, LockError> {
        let place = Arc::new(Place {
            target: target.to_string(),
            release: release.to_string(),
            namespace: namespace.to_string(),
            name: lease_name(release),
            identity: identity.to_string(),
            duration: options.duration,
        });
        let api: Api<Lease> = Api::namespaced(client.clone(), namespace);
        let deadline = tokio::time::Instant::now() + options.timeout;
        let mut created_namespace = false;
        loop {
            match try_take(&place, &api).await {
                Ok(Taken::Yes) => break,
                Ok(Taken::Raced) => continue,
                Ok(Taken::HeldBy(lease)) => {
                    let now = tokio::time::Instant::now();
                    if now >= deadline {
                        let holder = lease.spec.as_ref().and_then(|s| s.holder_identity.clone()).unwrap_or_default();
                        return Err(LockError::Locked { release: place.release.clone(), target: place.target.clone(), holder, since: since(&lease) });
                    }
                    tokio::time::sleep(options.poll.min(deadline - now)).await;
                }
                Err(e) if is_code(&e, 404) && !created_namespace => {
                    // The release's namespace does not exist yet (the deploy would create it).
                    created_namespace = true;
                    create_namespace(&place, client.clone()).await?;
                }
                Err(e) => return Err(place.api_error("taking the lease", e)),
            }
        }
        tracing::info!(target = %place.target, release = %place.release, lease = %place.name, "run lock taken");
        let (stop, stop_rx) = watch::channel(false);
        let (lost_tx, lost) = watch::channel(None);
        let renewer = tokio::spawn(renew(place.clone(), api.clone(), stop_rx, lost_tx));
        Ok(RunLock { place, api, stop, lost, renewer: Some(renewer) })
    }

    /// The lease's name.
    pub fn name(&self) -> &str {
        &self.place.name
    }

    /// Resolves when the lock is lost (a renewal failed for the lease's
    /// whole duration, or someone else took it), with why; never while held.
    pub async fn lost(&self) -> String {
        self.lost_signal().await
    }

    /// [`RunLock::lost`] as a future that outlives the borrow (to spawn).
    pub fn lost_signal(&self) -> impl std::future::Future<Output = String> + Send + 'static {
        let lost = self.lost.clone();
        wait_lost(lost)
    }
}

async fn wait_lost(mut lost: watch::Receiver<Option<String>>) -> String {
    loop {
        if let Some(why) = lost.borrow_and_update().clone() {
            return why;
        }
        if lost.changed().await.is_err() {
            // The renewer ended without losing the lock: it was released.
            std::future::pending::<()>().await;
        }
    }
}

impl RunLock {

    /// Stop renewing and give the lock back (holder cleared, so the next run
    /// takes it at once). A lease someone else holds by now is left alone.
    pub async fn release(mut self) -> Result<(), LockError> {
        let _ = self.stop.send(true);
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.await;
        }
        let place = &self.place;
        for _ in 0..5 {
            let mut lease = match self.api.get(&place.name).await {
                Ok(l) => l,
                Err(e) if is_code(&e, 404) => return Ok(()),
                Err(e) => return Err(place.api_error("releasing the lease", e)),
            };
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            if spec.holder_identity.as_deref() != Some(place.identity.as_str()) {
                return Ok(());
            }
            spec.holder_identity = None;
            spec.renew_time = Some(now());
            match self.api.replace(&place.name, &PostParams::default(), &lease).await {
                Ok(_) => {
                    tracing::info!(target = %place.target, release = %place.release, "run lock released");
                    return Ok(());
                }
                Err(e) if is_code(&e, 409) => continue,
                Err(e) => return Err(place.api_error("releasing the lease", e)),
            }
        }
        Err(LockError::Api {
            release: place.release.clone(),
            target: place.target.clone(),
            namespace: place.namespace.clone(),
            name: place.name.clone(),
            message: "releasing the lease: it kept changing under us (409 five times)".into(),
        })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

enum Taken {
    Yes,
    /// Our write lost a race (409): read again.
    Raced,
    HeldBy(Box<Lease>),
}

/// One read-and-write attempt.
async fn try_take(place: &Place, api: &Api<Lease>) -> Result<Taken, kube::Error> {
    let current = match api.get(&place.name).await {
        Ok(l) => Some(l),
        Err(e) if is_code(&e, 404) => None,
        Err(e) => return Err(e),
    };
    let Some(mut lease) = current else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(place.name.clone()),
                namespace: Some(place.namespace.clone()),
                labels: Some(BTreeMap::from([(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())])),
                annotations: Some(BTreeMap::from([
                    ("gantry.dev/release".to_string(), place.release.clone()),
                    ("gantry.dev/target".to_string(), place.target.clone()),
                ])),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(place.identity.clone()),
                lease_duration_seconds: Some(place.duration_secs()),
                acquire_time: Some(now()),
                renew_time: Some(now()),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(Taken::Yes),
            Err(e) if is_code(&e, 409) => Ok(Taken::Raced),
            Err(e) => Err(e),
        };
    };
    if live_holder(&lease, &place.identity).is_some() {
        return Ok(Taken::HeldBy(Box::new(lease)));
    }
    // Free, expired, or already ours: write ourselves in over the version we read.
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if spec.holder_identity.as_deref() != Some(place.identity.as_str()) {
        if spec.holder_identity.as_deref().is_some_and(|h| !h.is_empty()) {
            tracing::warn!(target = %place.target, release = %place.release, holder = ?spec.holder_identity, "taking over an expired run lock");
        }
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        spec.acquire_time = Some(now());
    }
    spec.holder_identity = Some(place.identity.clone());
    spec.lease_duration_seconds = Some(place.duration_secs());
    spec.renew_time = Some(now());
    lease.metadata.labels.get_or_insert_with(BTreeMap::new).insert(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string());
    match api.replace(&place.name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(Taken::Yes),
        Err(e) if is_code(&e, 409) => Ok(Taken::Raced),
        Err(e) => Err(e),
    }
}

async fn create_namespace(place: &Place, client: Client) -> Result<(), LockError> {
    let api: Api<Namespace> = Api::all(client);
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(place.namespace.clone()),
            labels: Some(BTreeMap::from([(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 409) => Ok(()),
        Err(e) => Err(place.api_error(&format!("creating namespace {}", place.namespace), e)),
    }
}

/// Renew every third of the duration until stopped; report a loss once.
async fn renew(place: Arc<Place>, api: Api<Lease>, mut stop: watch::Receiver<bool>, lost: watch::Sender<Option<String>>) {
    let every = (place.duration / 3).max(Duration::from_millis(100));
    let mut last_renewed = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if *stop.borrow() {
            return;
        }
        match renew_once(&place, &api).await {
            Ok(()) => last_renewed = tokio::time::Instant::now(),
            Err(Renewal::TakenBy(holder)) => {
                let _ = lost.send(Some(format!(
                    "release {} on target {}: the run lock was lost: lease {}/{} is now held by {holder}",
                    place.release, place.target, place.namespace, place.name
                )));
                return;
            }
            Err(Renewal::Failed(why)) => {
                tracing::warn!(target = %place.target, release = %place.release, error = %why, "renewing the run lock failed");
                if last_renewed.elapsed() >= place.duration {
                    let _ = lost.send(Some(format!(
                        "release {} on target {}: the run lock was lost: it could not be renewed for {}s ({why})",
                        place.release,
                        place.target,
                        place.duration.as_secs()
                    )));
                    return;
                }
            }
        }
    }
}

enum Renewal {
    TakenBy(String),
    Failed(String),
}

async fn renew_once(place: &Place, api: &Api<Lease>) -> Result<(), Renewal> {
    for _ in 0..3 {
        let mut lease = match api.get(&place.name).await {
            Ok(l) => l,
            Err(e) if is_code(&e, 404) => return Err(Renewal::TakenBy("nobody (it was deleted)".into())),
            Err(e) => return Err(Renewal::Failed(e.to_string())),
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(place.identity.as_str()) {
            return Err(Renewal::TakenBy(spec.holder_identity.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| "nobody (its holder was cleared)".into())));
        }
        spec.renew_time = Some(now());
        match api.replace(&place.name, &PostParams::default(), &lease).await {
            Ok(_) => return Ok(()),
            Err(e) if is_code(&e, 409) => continue,
            Err(e) => return Err(Renewal::Failed(e.to_string())),
        }
    }
    Err(Renewal::Failed("the lease kept changing (409)".into()))
}
