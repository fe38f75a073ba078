//! Waiting on one object by watching it, as client-go's `UntilWithSync`
//! does: list it (for its state and a resourceVersion), then watch from that
//! version; a stream that is cut or ends is resumed from the last
//! resourceVersion seen (an event's or a bookmark's), never relisted; only a
//! 410 Gone (the version is too old) relists. Bounded by a deadline. The
//! retry layer (`retry.rs`) retries a watch's first response but never a
//! stream mid-way: that is this file's. It must not change objects.

use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};

/// The longest single watch request (the server ends it; it is resumed).
const WATCH_TIMEOUT: u32 = 290;

/// How a wait went: streams resumed, and relists after 410 Gone.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WatchStats {
    pub resumes: u32,
    pub relists: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0}")]
    Kube(#[from] kube::Error),
    #[error("the deadline passed while waiting for {what}")]
    Deadline { what: String, stats: WatchStats },
    #[error("{what} was deleted while waiting for it")]
    Deleted { what: String },
}

fn rv(o: &DynamicObject) -> Option<String> {
    o.metadata.resource_version.clone()
}

/// Wait until object `name` of `api` satisfies `done` (also checked on the
/// state listed first), or `until` passes. Returns the object and how many
/// times the watch was resumed or relisted.
pub async fn watch_until(api: &Api<DynamicObject>, name: &str, until: Instant, mut done: impl FnMut(&DynamicObject) -> bool) -> Result<(DynamicObject, WatchStats), WatchError> {
    let what = format!("`{name}`");
    let fields = format!("metadata.name={name}");
    let mut stats = WatchStats::default();
    'relist: loop {
        let list = crate::retry::with_deadline(until, api.list(&ListParams::default().fields(&fields))).await?;
        let mut version = list.metadata.resource_version.clone().unwrap_or_default();
        if let Some(o) = list.items.into_iter().next() {
            if done(&o) {
                return Ok((o, stats));
            }
        }
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WatchError::Deadline { what, stats });
            }
            let params = WatchParams::default().fields(&fields).timeout(left.as_secs().clamp(1, WATCH_TIMEOUT as u64) as u32);
            let stream = match crate::retry::with_deadline(until, api.watch(&params, &version)).await {
                Ok(s) => s,
                Err(kube::Error::Api(s)) if s.code == 410 => {
                    stats.relists += 1;
                    tracing::debug!(target: "gantry_cluster::watch", object = %name, %version, "410 Gone: relisting");
                    continue 'relist;
                }
                Err(e) => return Err(e.into()),
            };
            let mut stream = std::pin::pin!(stream);
            loop {
                let next = match tokio::time::timeout_at(until.into(), stream.next()).await {
                    Ok(n) => n,
                    Err(_) => return Err(WatchError::Deadline { what, stats }),
                };
                match next {
                    Some(Ok(WatchEvent::Added(o) | WatchEvent::Modified(o))) => {
                        if let Some(v) = rv(&o) {
                            version = v;
                        }
                        if done(&o) {
                            return Ok((o, stats));
                        }
                    }
                    Some(Ok(WatchEvent::Deleted(_))) => return Err(WatchError::Deleted { what }),
                    Some(Ok(WatchEvent::Bookmark(b))) => version = b.metadata.resource_version,
                    Some(Ok(WatchEvent::Error(s))) if s.code == 410 => {
                        stats.relists += 1;
                        tracing::debug!(target: "gantry_cluster::watch", object = %name, %version, "410 Gone in the stream: relisting");
                        continue 'relist;
                    }
                    Some(Ok(WatchEvent::Error(s))) => return Err(kube::Error::Api(s).into()),
                    // Cut mid-way (an error) or ended: resume below.
                    Some(Err(e)) => {
                        tracing::debug!(target: "gantry_cluster::watch", object = %name, %version, error = %e, "the watch stream broke");
                        break;
                    }
                    None => break,
                }
            }
            stats.resumes += 1;
            tracing::debug!(target: "gantry_cluster::watch", object = %name, %version, resumes = stats.resumes, "resuming the watch");
            // A server that ends streams at once must not make this spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl crate::KubeBackend {
    /// Wait, by watching, until `object` (a Deployment, StatefulSet or
    /// DaemonSet) has rolled out (`kubectl rollout status` done) or its
    /// progress deadline is exceeded, or `until` passes.
    pub async fn wait_rollout(
        &self,
        object: &gantry_runtime::cluster::ObjectKey,
        until: Instant,
    ) -> Result<(gantry_runtime::cluster::Rollout, WatchStats), WatchError> {
        let (group, version) = object.api_version.split_once('/').unwrap_or(("", &object.api_version));
        let gvk = kube::core::GroupVersionKind::gvk(group, version, &object.kind);
        let (resource, _) = crate::retry::with_deadline(until, kube::discovery::pinned_kind(self.client(), &gvk)).await?;
        let api: Api<DynamicObject> = match &object.namespace {
            Some(ns) => Api::namespaced_with(self.client().clone(), ns, &resource),
            None => Api::all_with(self.client().clone(), &resource),
        };
        let judge = |o: &DynamicObject| serde_json::to_value(o).ok().and_then(|v| crate::access::rollout_status(&object.kind, &v).ok());
        let (o, stats) = watch_until(&api, &object.name, until, |o| judge(o).is_some_and(|r| r.done || r.deadline_exceeded)).await?;
        let rollout = judge(&o).unwrap_or_default();
        Ok((rollout, stats))
    }
}
