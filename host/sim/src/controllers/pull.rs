//! The simulated kubelet's image pulls against real registries, for the
//! images whose registry host the cluster is configured with
//! (`ServerConfig::registries`, `oci::RegistryConfig`). Before a pod's
//! containers start, each such image of its containers and init containers
//! is resolved in its registry in a spawned task (never in the controllers'
//! pass), the result fed back through a shared slot and a wake-up. Resolved:
//! the container's `imageID` is `<repo>@<digest>`, and the image is on the
//! node for `IfNotPresent` pods after it. Not resolved: ErrImagePull, then
//! ImagePullBackOff with the kubelet's messages and events (`Pulling`,
//! `Pulled`, `Failed`, `BackOff`), retried after a doubling back-off so an
//! image pushed later lets the pod start. `Never` without the image:
//! ErrImageNeverPull; a malformed reference: InvalidImageName. The pod's
//! `imagePullSecrets` (dockerconfigjson or dockercfg Secrets) give the
//! credentials for their hosts, over the cluster's configuration, as the
//! kubelet's keyring does. Images of other registries are not checked, as
//! before registries were configured.
//! This file decides what the containers wait on and which events to record;
//! `pods` writes them. It must not speak HTTP itself (`oci` does) nor write
//! to the store.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Notify;

use super::Severity;
use crate::oci::{PullError, Reference, RegistryAuth, RegistryConfig};

/// How long a failed pull shows ErrImagePull before ImagePullBackOff.
const ERR_SHOWN: Duration = Duration::from_secs(1);
/// The back-off before the first retry; it doubles with each failure, up to the cap.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// The outcome of one resolution: the image's digest, or why not.
type Outcome = Result<String, PullError>;

/// The image pulls of one simulated node.
pub(crate) struct Puller {
    registries: Arc<Vec<RegistryConfig>>,
    pods: HashMap<String, PodPull>,
    /// The images on the node: full reference → imageID (what "already present on machine" means).
    present: HashMap<String, String>,
    /// Finished resolutions by pod uid and image index, for the next pass to pick up.
    results: Arc<Mutex<HashMap<(String, usize), Outcome>>>,
    /// Woken when a resolution finishes, so the controllers run a pass.
    pub notify: Arc<Notify>,
}

/// A container whose image the node resolves.
struct Need {
    container: String,
    init: bool,
    image: String,
    reference: Option<Reference>,
    registry: usize,
    /// Credentials from the pod's image pull secrets, over the registry's own.
    auth: Option<RegistryAuth>,
    /// `imagePullPolicy: IfNotPresent`: an image on the node is used as it is, on retries too.
    if_not_present: bool,
    state: NeedState,
}

enum NeedState {
    /// On the node: the imageID; `pulled` when this pod pulled it (else it was already present).
    Ready { image_id: String, pulled: bool },
    /// Cannot ever start (InvalidImageName, ErrImageNeverPull): reason, message.
    Blocked { reason: &'static str, message: String },
    /// A resolution is in flight since then; `last` is the previous failure's message, if any.
    Pulling { since: Instant, last: Option<String>, failures: u32 },
    /// The last resolution failed at `at`.
    Failed { at: Instant, message: String, failures: u32, backoff_shown: bool },
}

struct PodPull {
    needs: Vec<Need>,
}

/// What a pod's containers show while their images are pulled, and their imageIDs once pulled.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct PullView {
    /// Containers (and init containers) waiting: reason and message.
    pub waiting: HashMap<String, (String, String)>,
    /// imageIDs of resolved images, by container.
    pub image_ids: HashMap<String, String>,
    /// Containers whose image this pod pulled (no "already present on machine" event for them).
    pub pulled: HashSet<String>,
    /// Whether an init container's image holds the pod back.
    pub init_blocked: bool,
}

/// One pass's verdict on a pod.
pub(crate) struct Gate {
    /// Whether the containers may start.
    pub open: bool,
    pub view: PullView,
    /// Events to record about the pod: severity, reason, message.
    pub events: Vec<(Severity, &'static str, String)>,
    /// When the gate next changes without a resolution finishing.
    pub wake: Option<Duration>,
}

impl Puller {
    pub fn new(registries: Vec<RegistryConfig>) -> Puller {
        Puller {
            registries: Arc::new(registries),
            pods: HashMap::new(),
            present: HashMap::new(),
            results: Arc::new(Mutex::new(HashMap::new())),
            notify: Arc::new(Notify::new()),
        }
    }

    /// Forgets pods that are gone.
    pub fn retain(&mut self, live: &HashSet<String>) {
        if self.registries.is_empty() {
            return;
        }
        self.pods.retain(|uid, _| live.contains(uid));
        self.results.lock().unwrap_or_else(|e| e.into_inner()).retain(|(uid, _), _| live.contains(uid));
    }

    /// The pulls of `pod` this pass; None when none of its images is checked
    /// (no registry configured for them): it lives as before. `secret`
    /// finds a Secret of the pod's namespace by name (its image pull secrets).
    pub fn gate(&mut self, pod: &Value, secret: impl Fn(&str) -> Option<Value>) -> Option<Gate> {
        if self.registries.is_empty() {
            return None;
        }
        let uid = pod["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let first_sight = !self.pods.contains_key(&uid);
        let mut gate = Gate { open: true, view: PullView::default(), events: Vec::new(), wake: None };
        if first_sight {
            let mut needs = self.needs_of(pod);
            if needs.is_empty() {
                return None;
            }
            if let Some(missing) = pull_secrets(pod, &secret, &mut needs) {
                let message = format!("Unable to retrieve some image pull secrets ({missing}); attempting to pull the image may not succeed.");
                gate.events.push((Severity::Warning, "FailedToRetrieveImagePullSecret", message));
            }
            self.pods.insert(uid.clone(), PodPull { needs });
        }
        let now = Instant::now();
        let wake = |gate: &mut Gate, after: Duration| gate.wake = Some(gate.wake.map_or(after, |w| w.min(after)));
        let mut done = {
            let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
            let mine: Vec<(String, usize)> = results.keys().filter(|(u, _)| *u == uid).cloned().collect();
            mine.into_iter().filter_map(|k| results.remove(&k).map(|r| (k.1, r))).collect::<HashMap<usize, Outcome>>()
        };
        let mut to_spawn = Vec::new();
        let pull = self.pods.get_mut(&uid)?;
        for (index, need) in pull.needs.iter_mut().enumerate() {
            let image = need.image.clone();
            // Advance the state.
            match &mut need.state {
                NeedState::Pulling { since, failures, .. } => {
                    if let Some(outcome) = done.remove(&index) {
                        let (since, failures) = (*since, *failures);
                        let reference = need.reference.as_ref()?;
                        match outcome {
                            Ok(digest) => {
                                let image_id = reference.image_id(&digest);
                                self.present.insert(reference.to_string(), image_id.clone());
                                let took = format!("{:?}", since.elapsed());
                                gate.events.push((Severity::Normal, "Pulled", format!("Successfully pulled image \"{image}\" in {took} ({took} including waiting)")));
                                need.state = NeedState::Ready { image_id, pulled: true };
                            }
                            Err(e) => {
                                let message = e.kubelet_message(reference);
                                tracing::debug!(image = %image, error = %e, "simulated image pull failed");
                                gate.events.push((Severity::Warning, "Failed", format!("Failed to pull image \"{image}\": {message}")));
                                gate.events.push((Severity::Warning, "Failed", "Error: ErrImagePull".to_string()));
                                need.state = NeedState::Failed { at: now, message, failures: failures + 1, backoff_shown: false };
                            }
                        }
                    }
                }
                NeedState::Failed { at, message, failures, backoff_shown } => {
                    let retry_at = *at + backoff(*failures);
                    let present = need.reference.as_ref().filter(|_| need.if_not_present).and_then(|r| self.present.get(&r.to_string()));
                    if let (true, Some(image_id)) = (now >= retry_at, present) {
                        // Another pod pulled it meanwhile: the kubelet's next sync finds it on the node.
                        need.state = NeedState::Ready { image_id: image_id.clone(), pulled: false };
                    } else if now >= retry_at {
                        gate.events.push((Severity::Normal, "Pulling", format!("Pulling image \"{image}\"")));
                        let last = Some(message.clone());
                        need.state = NeedState::Pulling { since: now, last, failures: *failures };
                        to_spawn.push(index);
                    } else if now >= *at + ERR_SHOWN && !*backoff_shown {
                        *backoff_shown = true;
                        gate.events.push((Severity::Normal, "BackOff", format!("Back-off pulling image \"{image}\"")));
                        gate.events.push((Severity::Warning, "Failed", "Error: ImagePullBackOff".to_string()));
                    }
                }
                NeedState::Blocked { reason: "ErrImageNeverPull", .. } => {
                    // Another pod pulled it meanwhile: the kubelet's next sync finds it on the node.
                    if let Some(image_id) = need.reference.as_ref().and_then(|r| self.present.get(&r.to_string())) {
                        need.state = NeedState::Ready { image_id: image_id.clone(), pulled: false };
                    }
                }
                NeedState::Ready { .. } | NeedState::Blocked { .. } => {}
            }
            // Show it.
            let waiting = match &need.state {
                NeedState::Ready { image_id, pulled } => {
                    gate.view.image_ids.insert(need.container.clone(), image_id.clone());
                    if *pulled {
                        gate.view.pulled.insert(need.container.clone());
                    }
                    None
                }
                NeedState::Blocked { reason, message } => Some((reason.to_string(), message.clone())),
                NeedState::Pulling { last: None, .. } => Some(("ContainerCreating".to_string(), String::new())),
                NeedState::Pulling { last: Some(m), .. } => Some(("ImagePullBackOff".to_string(), back_off_message(&image, m))),
                NeedState::Failed { at, message, failures, backoff_shown } => {
                    let retry_at = *at + backoff(*failures);
                    if *backoff_shown {
                        wake(&mut gate, retry_at.saturating_duration_since(now));
                        Some(("ImagePullBackOff".to_string(), back_off_message(&image, message)))
                    } else {
                        wake(&mut gate, (*at + ERR_SHOWN).min(retry_at).saturating_duration_since(now));
                        Some(("ErrImagePull".to_string(), message.clone()))
                    }
                }
            };
            if let Some(w) = waiting {
                gate.open = false;
                gate.view.init_blocked |= need.init;
                gate.view.waiting.insert(need.container.clone(), w);
            }
        }
        // First sight: every image to pull starts now; images that cannot be pulled say why.
        for (index, need) in pull.needs.iter().enumerate().filter(|_| first_sight) {
            match &need.state {
                NeedState::Pulling { .. } => {
                    gate.events.push((Severity::Normal, "Pulling", format!("Pulling image \"{}\"", need.image)));
                    to_spawn.push(index);
                }
                NeedState::Blocked { reason, message } => {
                    let event = if *reason == "InvalidImageName" { "InspectFailed" } else { reason };
                    gate.events.push((Severity::Warning, event, message.clone()));
                    gate.events.push((Severity::Warning, "Failed", format!("Error: {reason}")));
                }
                NeedState::Ready { .. } | NeedState::Failed { .. } => {}
            }
        }
        let jobs: Vec<(usize, Reference, usize, Option<RegistryAuth>)> = to_spawn
            .into_iter()
            .filter_map(|i| pull.needs[i].reference.clone().map(|r| (i, r, pull.needs[i].registry, pull.needs[i].auth.clone())))
            .collect();
        for (index, reference, registry, auth) in jobs {
            if let Some(registry) = self.registries.get(registry).cloned() {
                let registry = match auth {
                    Some(auth) => registry.with_auth(auth),
                    None => registry,
                };
                self.spawn(&uid, index, registry, reference);
            }
        }
        Some(gate)
    }

    /// The containers of `pod` whose image this node checks, in their first state.
    fn needs_of(&self, pod: &Value) -> Vec<Need> {
        let now = Instant::now();
        let mut needs = Vec::new();
        for (list, init) in [("initContainers", true), ("containers", false)] {
            for c in pod["spec"][list].as_array().into_iter().flatten() {
                let container = c["name"].as_str().unwrap_or("").to_string();
                let image = c["image"].as_str().unwrap_or("").to_string();
                let reference = match Reference::parse(&image) {
                    Ok(r) => r,
                    Err(e) => {
                        let message = format!("Failed to apply default image tag \"{image}\": couldn't parse image name \"{image}\": {e}");
                        let state = NeedState::Blocked { reason: "InvalidImageName", message };
                        needs.push(Need { container, init, image, reference: None, registry: 0, auth: None, if_not_present: false, state });
                        continue;
                    }
                };
                let Some(registry) = self.registries.iter().position(|r| r.host() == reference.domain) else { continue };
                let present = self.present.get(&reference.to_string()).cloned();
                let policy = c["imagePullPolicy"].as_str().unwrap_or("IfNotPresent");
                let if_not_present = policy == "IfNotPresent";
                let state = match (policy, present) {
                    ("Never" | "IfNotPresent", Some(image_id)) => NeedState::Ready { image_id, pulled: false },
                    ("Never", None) => {
                        NeedState::Blocked { reason: "ErrImageNeverPull", message: format!("Container image \"{image}\" is not present with pull policy of Never") }
                    }
                    _ => NeedState::Pulling { since: now, last: None, failures: 0 },
                };
                needs.push(Need { container, init, image, reference: Some(reference), registry, auth: None, if_not_present, state });
            }
        }
        needs
    }

    fn spawn(&self, uid: &str, index: usize, registry: RegistryConfig, reference: Reference) {
        let (results, notify, key) = (self.results.clone(), self.notify.clone(), (uid.to_string(), index));
        let deliver = move |outcome: Outcome| {
            results.lock().unwrap_or_else(|e| e.into_inner()).insert(key, outcome);
            notify.notify_one();
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { deliver(registry.resolve(&reference).await) });
            }
            Err(e) => deliver(Err(PullError::Request { detail: format!("no async runtime to reach {}: {e}", registry.endpoint()) })),
        }
    }
}

/// Gives each need the credentials of the first of the pod's image pull
/// secrets that has its host; returns the names of the secrets not found.
fn pull_secrets(pod: &Value, secret: &impl Fn(&str) -> Option<Value>, needs: &mut [Need]) -> Option<String> {
    let names: Vec<&str> = pod["spec"]["imagePullSecrets"].as_array().into_iter().flatten().filter_map(|r| r["name"].as_str()).filter(|n| !n.is_empty()).collect();
    if names.is_empty() {
        return None;
    }
    let mut missing = Vec::new();
    let mut configs = Vec::new();
    for name in names {
        match secret(name) {
            Some(s) => configs.extend(docker_config(&s)),
            None => missing.push(name),
        }
    }
    for need in needs.iter_mut() {
        if let Some(domain) = need.reference.as_ref().map(|r| r.domain.clone()) {
            need.auth = configs.iter().find_map(|c| crate::oci::docker_config_auth(c, &domain));
        }
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// The Docker config in an image pull Secret (`.dockerconfigjson` or `.dockercfg`, base64 in `data`).
fn docker_config(secret: &Value) -> Option<Value> {
    use base64::Engine;
    let data = &secret["data"];
    let encoded = data[".dockerconfigjson"].as_str().or(data[".dockercfg"].as_str())?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The back-off after `failures` failed pulls.
fn backoff(failures: u32) -> Duration {
    FIRST_BACKOFF.saturating_mul(1 << failures.saturating_sub(1).min(16)).min(MAX_BACKOFF)
}

/// The kubelet's ImagePullBackOff message.
fn back_off_message(image: &str, error: &str) -> String {
    format!("Back-off pulling image \"{image}\": ErrImagePull: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(uid: &str, containers: Value) -> Value {
        json!({"metadata": {"uid": uid, "name": uid}, "spec": {"containers": containers}})
    }

    #[test]
    fn back_off_doubles_up_to_its_cap() {
        let secs: Vec<u64> = (1..=6).map(|f| backoff(f).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 16, 20, 20]);
    }

    #[test]
    fn pods_of_unconfigured_registries_are_not_checked() {
        let mut none = Puller::new(Vec::new());
        assert!(none.gate(&pod("a", json!([{"name": "c", "image": "Bad Image"}])), |_| None).is_none(), "no registries: nothing is checked");
        let mut puller = Puller::new(vec![RegistryConfig::new("127.0.0.1:5000", "http://127.0.0.1:5000").unwrap()]);
        assert!(puller.gate(&pod("b", json!([{"name": "c", "image": "nginx:1.27"}, {"name": "d", "image": "localhost:5000/x"}])), |_| None).is_none());
    }

    #[test]
    fn malformed_references_and_never_pulled_images_block_the_pod() {
        let mut puller = Puller::new(vec![RegistryConfig::new("127.0.0.1:5000", "http://127.0.0.1:5000").unwrap()]);
        let gate = puller.gate(&pod("a", json!([{"name": "c", "image": "Nginx"}])), |_| None).unwrap();
        assert!(!gate.open);
        let (reason, message) = &gate.view.waiting["c"];
        assert_eq!(reason, "InvalidImageName");
        assert!(message.contains("couldn't parse image name \"Nginx\": invalid reference format: repository name (library/Nginx) must be lowercase"), "{message}");
        let gate = puller.gate(&pod("b", json!([{"name": "c", "image": "127.0.0.1:5000/app:1", "imagePullPolicy": "Never"}])), |_| None).unwrap();
        assert_eq!(gate.view.waiting["c"], ("ErrImageNeverPull".to_string(), "Container image \"127.0.0.1:5000/app:1\" is not present with pull policy of Never".to_string()));
    }
}
