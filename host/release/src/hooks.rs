//! Helm's hooks, run (`execHook`): [`KubeHooks`] takes a release's hooks
//! of one event, sorted by weight then name, and for each deletes the
//! previous object under `before-hook-creation` (the policy a hook without
//! one gets, as Helm 3.2+ gives it, and recorded so), applies it, waits
//! until a Job completes or a Pod succeeds (other kinds: once created)
//! within the timeout, and records `last_run` (started_at, completed_at,
//! phase Running → Succeeded/Failed) in the release's `hooks`. A failure
//! stops the event (the hook deleted under `hook-failed`); when all
//! succeed, those under `hook-succeeded` are deleted, last first. Test
//! hooks are recorded, never run here. This file must not touch the
//! release's own objects nor its storage: the caller stores the record.

use std::sync::Arc;
use std::time::Duration;

use gantry_runtime::cluster::{ApplyOptions, BackendErrorKind, ClusterBackend, Propagation};
use serde_json::{json, Value};

use crate::action::{HookEvent, Hooks};
use crate::record::{self, Release};
use crate::wait::{describe, hook_done, key_of, not_ready, Readiness, DEFAULT_TIMEOUT};

pub const BEFORE_HOOK_CREATION: &str = "before-hook-creation";
pub const HOOK_SUCCEEDED: &str = "hook-succeeded";
pub const HOOK_FAILED: &str = "hook-failed";
const POLL: Duration = Duration::from_millis(250);

/// Kinds Helm's hooks commonly use that are not namespaced (others get
/// the release's namespace when the manifest gives none).
const CLUSTER_SCOPED: &[&str] = &["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume", "StorageClass", "PriorityClass", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService"];

/// Runs hooks in the cluster (Helm's default; `--no-hooks` is [`crate::action::NoHooks`]).
pub struct KubeHooks {
    objects: Arc<dyn ClusterBackend>,
    namespace: String,
    timeout: Duration,
}

impl KubeHooks {
    /// Hooks applied through `objects` (as Helm's field manager), namespaced
    /// ones without a namespace put in `namespace`, each waited for at most `timeout`.
    pub fn new(objects: Arc<dyn ClusterBackend>, namespace: &str, timeout: Duration) -> KubeHooks {
        KubeHooks { objects, namespace: namespace.to_string(), timeout }
    }

    pub fn with_default_timeout(objects: Arc<dyn ClusterBackend>, namespace: &str) -> KubeHooks {
        KubeHooks::new(objects, namespace, DEFAULT_TIMEOUT)
    }

    fn object(&self, hook: &Value) -> Result<Value, String> {
        let text = hook["manifest"].as_str().unwrap_or_default();
        let mut o = crate::manifest::yaml_to_json(text).map_err(|e| format!("unable to build kubernetes object for hook {}: {e}", hook["path"].as_str().unwrap_or_default()))?;
        let kind = o["kind"].as_str().unwrap_or_default().to_string();
        if !CLUSTER_SCOPED.contains(&kind.as_str()) && o["metadata"]["namespace"].as_str().is_none_or(|n| n.is_empty()) {
            o["metadata"]["namespace"] = json!(self.namespace);
        }
        Ok(o)
    }

    /// Deletes the hook's object and waits until it is gone (Helm's `deleteHookByPolicy`).
    async fn delete(&self, o: &Value) -> Result<(), String> {
        let key = key_of(o);
        match self.objects.delete(&key, Propagation::Background).await {
            Ok(()) => {}
            Err(e) if e.kind == BackendErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("unable to delete hook {}: {}", describe(o), e.message)),
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            match self.objects.get(&key).await {
                Err(e) if e.kind == BackendErrorKind::NotFound => return Ok(()),
                _ if tokio::time::Instant::now() >= deadline => return Err(format!("context deadline exceeded (--timeout {:?}): hook {} is not deleted yet", self.timeout, describe(o))),
                _ => tokio::time::sleep(POLL).await,
            }
        }
    }

    async fn wait_done(&self, o: &Value) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            match hook_done(self.objects.as_ref(), o).await {
                Readiness::Ready => return Ok(()),
                Readiness::Failed(why) => return Err(why),
                Readiness::Waiting(why) if tokio::time::Instant::now() >= deadline => {
                    return Err(format!("{}\ncontext deadline exceeded", not_ready(o, &why)));
                }
                Readiness::Waiting(_) => tokio::time::sleep(POLL).await,
            }
        }
    }
}

fn has_policy(hook: &Value, policy: &str) -> bool {
    hook["delete_policies"].as_array().is_some_and(|p| p.iter().any(|p| p == policy))
}

/// The indexes of `hooks` that run on `event`, by weight then name (Helm's `hookByWeight`).
pub fn ordered(hooks: &[Value], event: HookEvent) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..hooks.len()).filter(|i| hooks[*i]["events"].as_array().is_some_and(|e| e.iter().any(|e| e == event.as_str()))).collect();
    idx.sort_by(|a, b| {
        let key = |i: &usize| (hooks[*i]["weight"].as_i64().unwrap_or(0), hooks[*i]["name"].as_str().unwrap_or_default().to_string());
        key(a).cmp(&key(b))
    });
    idx
}

#[async_trait::async_trait]
impl Hooks for KubeHooks {
    async fn run(&self, release: &mut Release, event: HookEvent) -> Result<(), String> {
        let order = ordered(&release.hooks, event);
        for &i in &order {
            let hook = &mut release.hooks[i];
            if hook["delete_policies"].as_array().is_none_or(|p| p.is_empty()) {
                hook["delete_policies"] = json!([BEFORE_HOOK_CREATION]);
            }
            let o = self.object(hook)?;
            if has_policy(hook, BEFORE_HOOK_CREATION) {
                self.delete(&o).await?;
            }
            hook["last_run"] = json!({"started_at": record::now(), "phase": "Running"});
            tracing::debug!(hook = %describe(&o), event = event.as_str(), "running hook");
            if let Err(e) = self.objects.apply(&o, ApplyOptions { force: false, dry_run: false }).await {
                hook["last_run"]["completed_at"] = json!(record::now());
                hook["last_run"]["phase"] = json!("Failed");
                return Err(format!("warning: Hook {} {} failed: {}", event.as_str(), hook["path"].as_str().unwrap_or_default(), e.message));
            }
            let outcome = self.wait_done(&o).await;
            hook["last_run"]["completed_at"] = json!(record::now());
            if let Err(e) = outcome {
                hook["last_run"]["phase"] = json!("Failed");
                if has_policy(hook, HOOK_FAILED) {
                    self.delete(&o).await?;
                }
                return Err(e);
            }
            hook["last_run"]["phase"] = json!("Succeeded");
        }
        for &i in order.iter().rev() {
            if has_policy(&release.hooks[i], HOOK_SUCCEEDED) {
                let o = self.object(&release.hooks[i])?;
                self.delete(&o).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_run_by_weight_then_name_and_only_for_their_event() {
        let hooks = vec![
            json!({"name": "b", "events": ["pre-install"], "weight": 1}),
            json!({"name": "z", "events": ["pre-install"]}),
            json!({"name": "a", "events": ["pre-install", "post-upgrade"], "weight": 1}),
            json!({"name": "m", "events": ["pre-install"], "weight": -3}),
            json!({"name": "t", "events": ["test"]}),
        ];
        assert_eq!(ordered(&hooks, HookEvent::PreInstall), vec![3, 1, 2, 0]);
        assert_eq!(ordered(&hooks, HookEvent::PostUpgrade), vec![2]);
    }
}
