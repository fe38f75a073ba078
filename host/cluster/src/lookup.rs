//! Helm's `lookup` against a live cluster: [`ClusterLookup`] is the
//! `gantry_helm::helmfuncs::Lookup` a render is given when it may read the
//! target's cluster (`gantry helm template --dry-run=server`, installs). It
//! answers as Helm 4's lookup (`pkg/engine/lookup_func.go` with client-go's
//! discovery and dynamic client) answers, step by step:
//! 1. apiVersion is split as `schema.ParseGroupVersion` splits it (more than
//!    one `/`: group and version both empty), and the group version's
//!    resources are discovered (`/api/v1` for `v1`, else `/apis/GV`; an
//!    empty group version is `groupVersion shouldn't be empty`; `v1` not
//!    found is an empty list). A discovery error fails the call with
//!    `unable to get apiresource from unstructured: GROUP/VERSION, Kind=KIND: …`.
//! 2. The first resource of that kind that is not a subresource is used. A
//!    kind the group version does not serve is not an error: Helm then asks
//!    the empty resource of the empty group version (`/api/NAME`, or `/api`
//!    for a list) — usually not found, so `{}`; a list answers the server's
//!    `APIVersions` with `items: []`.
//! 3. The namespace is used only for a namespaced kind; an empty one lists
//!    across all namespaces. Namespace and name must be path segments
//!    (`invalid resource name "a/b": [may not contain '/']`).
//! 4. With a name, one object; without, the list. Not found (404) is an
//!    empty map; another error fails the call with the server's Status
//!    message (client-go's generic wording when the body is not a Status).
//! 5. The answer is decoded as client-go's unstructured JSON decodes it:
//!    integers are `int64`, other numbers `float64`; a list is its object
//!    (`apiVersion`, `kind`, `metadata`) and `items`, each item missing both
//!    `apiVersion` and `kind` given the list's apiVersion and its kind
//!    without `List`.
//!
//! Differences from Helm, knowingly: discovery is cached per
//! `ClusterLookup` (create one per render; Helm asks again per call);
//! transport failures (refused, unreachable, a call past its deadline) are
//! worded gantry's way, naming the target, not as Go's `Get "URL": dial tcp …`;
//! an answer larger than 256 MiB is refused; every call is bounded by a deadline (default
//! [`crate::retry::DEFAULT_DEADLINE`]) within which the client stack's
//! retries run (Helm has none and waits as long as the server takes).
//!
//! The render calls `lookup` on its own (non-async) worker thread; each call
//! is spawned on the tokio runtime captured at construction and waited for
//! ([`run_blocking`]): start renders that may look up from a blocking
//! thread (`spawn_blocking`), never inside an async task.
//! This file owns the lookup only; it must not write to the cluster, and its
//! errors never quote credentials. Values are built through `Value`'s
//! constructors only ([`go_value`] is the one place that knows them).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gantry_helm::helmfuncs::{Capabilities, KubeVersion, Lookup};
use gantry_helm::value::Value;
use serde_json::Value as Json;
use tokio::runtime::{Handle, RuntimeFlavor};

/// One resource of a group version, as discovery lists it.
#[derive(Clone, Debug)]
struct Resource {
    name: String,
    kind: String,
    namespaced: bool,
}

struct Inner {
    target: String,
    client: kube::Client,
    timeout: Duration,
    /// Group version → its resources, as discovered (successes only).
    discovery: Mutex<HashMap<String, Arc<Vec<Resource>>>>,
}

/// Helm's `lookup` against one target's cluster. Cheap to clone; create one
/// per render (discovery is cached for its life).
#[derive(Clone)]
pub struct ClusterLookup {
    inner: Arc<Inner>,
    runtime: Handle,
}

impl std::fmt::Debug for ClusterLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterLookup").field("target", &self.inner.target).field("timeout", &self.inner.timeout).finish()
    }
}

impl ClusterLookup {
    /// A lookup through `client` (a gantry-cluster client of target
    /// `target`, named in errors), its calls run on `runtime`.
    pub fn new(target: &str, client: kube::Client, runtime: Handle) -> ClusterLookup {
        ClusterLookup {
            inner: Arc::new(Inner { target: target.to_string(), client, timeout: crate::retry::DEFAULT_DEADLINE, discovery: Mutex::new(HashMap::new()) }),
            runtime,
        }
    }

    /// The most one `lookup` call may take, retries included.
    pub fn with_timeout(self, timeout: Duration) -> ClusterLookup {
        let inner = Inner { target: self.inner.target.clone(), client: self.inner.client.clone(), timeout, discovery: Mutex::new(HashMap::new()) };
        ClusterLookup { inner: Arc::new(inner), runtime: self.runtime }
    }

    /// What Helm's server-side capabilities (`Configuration.getCapabilities`)
    /// read from the cluster: the server's version (`gitVersion` whole, major, minor), and every group
    /// version it serves with each `GROUP/VERSION/KIND` of its resources
    /// (`GetVersionSet`), in discovery order. Bounded by the lookup's timeout.
    pub async fn capabilities(&self) -> Result<Capabilities, String> {
        let inner = self.inner.clone();
        let deadline = Instant::now() + inner.timeout;
        let target = inner.target.clone();
        let ask = async move {
            let version = inner.json("/version").await?;
            let field = |k: &str| version.get(k).and_then(Json::as_str).unwrap_or_default().to_string();
            let kube_version = KubeVersion::from_server(&field("gitVersion"), &field("major"), &field("minor"));
            let mut gvs: Vec<String> = Vec::new();
            let core = inner.json("/api").await?;
            gvs.extend(core.get("versions").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str).map(str::to_string));
            let groups = inner.json("/apis").await?;
            for g in groups.get("groups").and_then(Json::as_array).into_iter().flatten() {
                gvs.extend(g.get("versions").and_then(Json::as_array).into_iter().flatten().filter_map(|v| v.get("groupVersion").and_then(Json::as_str)).map(str::to_string));
            }
            let mut set: Vec<String> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for gv in &gvs {
                if seen.insert(gv.clone()) {
                    set.push(gv.clone());
                }
            }
            for gv in &gvs {
                for r in inner.resources(gv).await?.iter() {
                    let id = format!("{gv}/{}", r.kind);
                    if seen.insert(id.clone()) {
                        set.push(id);
                    }
                }
            }
            Ok(Capabilities::from_cluster(kube_version, set))
        };
        match crate::retry::with_deadline(deadline, tokio::time::timeout_at(deadline.into(), ask)).await {
            Ok(answer) => answer.map_err(|e: String| format!("could not get the capabilities of the cluster of target `{target}`: {e}")),
            Err(_) => Err(format!("the API server of target `{target}` did not answer its discovery within {}s", self.inner.timeout.as_secs_f64())),
        }
    }

    /// The lookup, async (what [`Lookup::lookup`] runs on the runtime).
    pub async fn lookup_async(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Result<Value, String> {
        let inner = self.inner.clone();
        let deadline = Instant::now() + inner.timeout;
        let call = inner.lookup(api_version, kind, namespace, name);
        match crate::retry::with_deadline(deadline, tokio::time::timeout_at(deadline.into(), call)).await {
            Ok(answer) => answer,
            Err(_) => Err(format!(
                "the API server of target `{}` did not answer within {}s (lookup of {api_version} {kind} {}); is the cluster overloaded or the connection stalled?",
                inner.target,
                inner.timeout.as_secs_f64(),
                describe(namespace, name)
            )),
        }
    }
}

fn describe(namespace: &str, name: &str) -> String {
    match (namespace, name) {
        ("", "") => "in all namespaces".into(),
        (ns, "") => format!("in namespace {ns}"),
        ("", n) => n.to_string(),
        (ns, n) => format!("{ns}/{n}"),
    }
}

/// How much longer than its own deadline a lookup is waited for before the
/// runtime is judged unable to run it.
const RUNTIME_GRACE: Duration = Duration::from_secs(5);

impl Lookup for ClusterLookup {
    fn lookup(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Result<Value, String> {
        let fut = {
            let me = self.clone();
            let (a, k, ns, n) = (api_version.to_string(), kind.to_string(), namespace.to_string(), name.to_string());
            async move { me.lookup_async(&a, &k, &ns, &n).await }
        };
        run_blocking(&self.runtime, fut, self.inner.timeout + RUNTIME_GRACE)?
    }
}

/// Runs `fut` on `runtime` and waits for it, at most `limit`, on this
/// (non-async) thread. Call it from a plain or `spawn_blocking` thread: on a
/// runtime's worker the wait may hold the very thread that must run `fut`
/// (refused outright on a single-threaded runtime's own thread; on a
/// multi-threaded one whose workers are all waiting, `limit` ends the wait
/// with an error instead of a hang).
pub fn run_blocking<T: Send + 'static>(runtime: &Handle, fut: impl std::future::Future<Output = T> + Send + 'static, limit: Duration) -> Result<T, String> {
    if Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::CurrentThread) {
        return Err("a cluster call was made on a single-threaded async runtime's own thread, where it cannot be waited for".into());
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv_timeout(limit).map_err(|e| match e {
        std::sync::mpsc::RecvTimeoutError::Timeout => format!(
            "the async runtime did not run the cluster call within {}s: are all its workers blocked (render from a blocking thread, not an async task)?",
            limit.as_secs_f64()
        ),
        std::sync::mpsc::RecvTimeoutError::Disconnected => "the async runtime stopped before the cluster answered".to_string(),
    })
}

/// client-go's `ParseGroupVersion` as `FromAPIVersionAndKind` uses it: an
/// apiVersion it cannot parse gives an empty group and version.
fn group_version(api_version: &str) -> (&str, &str) {
    if api_version.is_empty() || api_version == "/" {
        return ("", "");
    }
    match api_version.matches('/').count() {
        0 => ("", api_version),
        1 => api_version.split_once('/').unwrap_or(("", api_version)),
        _ => ("", ""),
    }
}

/// client-go's `rest.IsValidPathSegmentName`, as `%v` prints the list.
fn path_segment_problems(name: &str) -> Option<String> {
    if name == "." || name == ".." {
        return Some(format!("[may not be '{name}']"));
    }
    let found: Vec<String> = ["/", "%"].iter().filter(|c| name.contains(**c)).map(|c| format!("may not contain '{c}'")).collect();
    (!found.is_empty()).then(|| format!("[{}]", found.join(" ")))
}

/// A path segment as Go's `url.URL.EscapedPath` writes it.
fn escape_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The largest answer read (a list of every object of a kind can be big;
/// this keeps a runaway one from exhausting memory).
const ANSWER_LIMIT: usize = 256 << 20;

/// An answer of the API server: its status and body.
struct Answer {
    status: u16,
    body: hyper::body::Bytes,
}

impl Inner {
    async fn get(&self, path: &str) -> Result<Answer, String> {
        let request = http::Request::get(path).body(kube::client::Body::empty()).map_err(|e| format!("cannot build the request for {path}: {e}"))?;
        let response = self.client.send(request).await.map_err(|e| self.failure(e))?;
        let status = response.status().as_u16();
        let body = http_body_util::BodyExt::collect(http_body_util::Limited::new(response.into_body(), ANSWER_LIMIT)).await.map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                format!("the API server of target `{}` answered {path} with more than {} MiB", self.target, ANSWER_LIMIT >> 20)
            } else {
                match e.downcast::<kube::Error>() {
                    Ok(e) => self.failure(*e),
                    Err(e) => format!("reading the answer of the API server of target `{}` to {path}: {e}", self.target),
                }
            }
        })?;
        Ok(Answer { status, body: body.to_bytes() })
    }

    /// What went wrong reaching the cluster, in words naming the target.
    fn failure(&self, err: kube::Error) -> String {
        use crate::ClusterError::*;
        match crate::target::classify(&self.target, err) {
            Credentials { message, .. } | UnknownCluster { message, .. } | Unreachable { message, .. } | Config { message, .. } | Api { message, .. } => message,
        }
    }

    /// A discovery document; an error answer is its message.
    async fn json(&self, path: &str) -> Result<Json, String> {
        let answer = self.get(path).await?;
        if !(200..=299).contains(&answer.status) {
            return Err(status_message(answer.status, &answer.body));
        }
        serde_json::from_slice(&answer.body).map_err(|e| format!("the answer of {path} is not JSON: {e}"))
    }

    /// The resources of `gv` (client-go's `ServerResourcesForGroupVersion`).
    async fn resources(&self, gv: &str) -> Result<Arc<Vec<Resource>>, String> {
        if gv.is_empty() {
            return Err("groupVersion shouldn't be empty".into());
        }
        if let Some(found) = self.discovery.lock().unwrap_or_else(|p| p.into_inner()).get(gv) {
            return Ok(found.clone());
        }
        let path = if gv == "v1" { "/api/v1".to_string() } else { format!("/apis/{gv}") };
        let answer = self.get(&path).await?;
        let list = match answer.status {
            200..=299 => {
                let doc: Json = serde_json::from_slice(&answer.body).map_err(|e| format!("the discovery answer of {path} is not JSON: {e}"))?;
                doc.get("resources")
                    .and_then(Json::as_array)
                    .map(|rs| {
                        rs.iter()
                            .map(|r| Resource {
                                name: r.get("name").and_then(Json::as_str).unwrap_or_default().to_string(),
                                kind: r.get("kind").and_then(Json::as_str).unwrap_or_default().to_string(),
                                namespaced: r.get("namespaced").and_then(Json::as_bool).unwrap_or(false),
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
            // client-go tolerates core/v1 not being found: no resources.
            404 if gv == "v1" => Vec::new(),
            status => return Err(status_message(status, &answer.body)),
        };
        let list = Arc::new(list);
        self.discovery.lock().unwrap_or_else(|p| p.into_inner()).insert(gv.to_string(), list.clone());
        Ok(list)
    }

    async fn lookup(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Result<Value, String> {
        let (group, version) = group_version(api_version);
        let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
        let resources = self.resources(&gv).await.map_err(|e| format!("unable to get apiresource from unstructured: {group}/{version}, Kind={kind}: {e}"))?;
        // A kind the group version does not serve: Helm's empty APIResource,
        // whose group and version are empty too.
        let (group, version, resource, namespaced) = match resources.iter().find(|r| r.kind == kind && !r.name.contains('/')) {
            Some(r) => (group, version, r.name.as_str(), r.namespaced),
            None => ("", "", "", false),
        };
        let namespace = if namespaced { namespace } else { "" };
        if let Some(problems) = path_segment_problems(namespace) {
            return Err(format!("invalid namespace {}: {problems}", go_quote(namespace)));
        }
        if !name.is_empty() {
            if let Some(problems) = path_segment_problems(name) {
                return Err(format!("invalid resource name {}: {problems}", go_quote(name)));
            }
        }
        // The dynamic client's URL segments, joined as path.Join joins them (empty ones dropped).
        let mut segments: Vec<&str> = if group.is_empty() { vec!["api"] } else { vec!["apis", group] };
        segments.push(version);
        if !namespace.is_empty() {
            segments.extend(["namespaces", namespace]);
        }
        segments.push(resource);
        segments.push(name);
        let path: String = segments.iter().filter(|s| !s.is_empty()).map(|s| format!("/{}", escape_segment(s))).collect();
        let answer = self.get(&path).await?;
        match answer.status {
            200..=299 => decode(&answer.body, !name.is_empty()),
            404 => Ok(Value::empty_map()),
            status => Err(status_message(status, &answer.body)),
        }
    }
}

/// Go's `%q` for the names quoted here.
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The message of an error answer: the Status body's, else client-go's
/// generic wording for the code (`NewGenericServerResponse`).
fn status_message(status: u16, body: &[u8]) -> String {
    if let Ok(doc) = serde_json::from_slice::<Json>(body) {
        if doc.get("kind").and_then(Json::as_str) == Some("Status") {
            if let Some(m) = doc.get("message").and_then(Json::as_str).filter(|m| !m.is_empty()) {
                return m.to_string();
            }
        }
    }
    match status {
        400 => "the server rejected our request for an unknown reason".into(),
        401 => "the server has asked for the client to provide credentials".into(),
        403 => "the server does not allow access to the requested resource".into(),
        404 => "the server could not find the requested resource".into(),
        405 => "the server does not allow this method on the requested resource".into(),
        409 => "the server reported a conflict".into(),
        422 => "the server rejected our request due to an error in our request".into(),
        429 => "the server has received too many requests and has asked us to try again later".into(),
        500 => format!("an error on the server ({}) has prevented the request from succeeding", go_quote(&String::from_utf8_lossy(body))),
        503 => "the server is currently unable to handle the request".into(),
        504 => "the server was unable to return a response in the time allotted, but may still be processing the request".into(),
        code => format!("the server responded with the status code {code} but did not return more information"),
    }
}

/// An answer decoded as client-go's `UnstructuredJSONScheme` decodes it:
/// a list (it has `items`) or an object; a kind is required. `single`: a
/// Get, whose answer must be an object.
fn decode(body: &[u8], single: bool) -> Result<Value, String> {
    let doc: Json = serde_json::from_slice(body).map_err(|e| format!("the API server's answer is not JSON: {e}"))?;
    let Json::Object(mut object) = doc else {
        return Err("json: cannot unmarshal the API server's answer into Go value of type map[string]interface {}".into());
    };
    let missing_kind = || format!("Object 'Kind' is missing in '{}'", String::from_utf8_lossy(body));
    let kind_of = |o: &serde_json::Map<String, Json>, key: &str| o.get(key).and_then(Json::as_str).unwrap_or_default().to_string();
    let Some(items) = object.remove("items") else {
        if kind_of(&object, "kind").is_empty() {
            return Err(missing_kind());
        }
        let mut content = to_map(&object);
        if !single {
            // Unstructured.ToList of an object that is not a list: the object, no items.
            content.insert("items".into(), Value::list(Vec::new()));
        }
        return Ok(Value::map(content));
    };
    let list_kind = kind_of(&object, "kind");
    if list_kind.is_empty() {
        return Err(missing_kind());
    }
    if single {
        return Err("interface conversion: runtime.Object is *unstructured.UnstructuredList, not *unstructured.Unstructured".into());
    }
    let list_api_version = kind_of(&object, "apiVersion");
    let item_kind = list_kind.strip_suffix("List").unwrap_or(&list_kind);
    let items = match items {
        Json::Null => Vec::new(),
        Json::Array(items) => items,
        _ => return Err("json: cannot unmarshal the list's items into Go struct field .items of type []json.RawMessage".into()),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Json::Object(mut item) = item else {
            return Err("json: cannot unmarshal a list item into Go value of type map[string]interface {}".into());
        };
        if kind_of(&item, "kind").is_empty() && kind_of(&item, "apiVersion").is_empty() {
            item.insert("kind".into(), Json::String(item_kind.to_string()));
            item.insert("apiVersion".into(), Json::String(list_api_version.clone()));
        }
        out.push(Value::map(to_map(&item)));
    }
    let mut content = to_map(&object);
    content.insert("items".into(), Value::list(out));
    Ok(Value::map(content))
}

fn to_map(object: &serde_json::Map<String, Json>) -> BTreeMap<String, Value> {
    object.iter().map(|(k, v)| (k.clone(), go_value(v))).collect()
}

/// A JSON value as k8s.io/apimachinery's `util/json` decodes it into
/// `interface{}`: a number that parses as an int64 is an `int64`, any
/// other a `float64`; objects `map[string]interface{}`, arrays `[]interface{}`.
pub fn go_value(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::int64(i),
            None => Value::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(a) => Value::list(a.iter().map(go_value).collect()),
        Json::Object(o) => Value::map(to_map(o)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn group_versions_split_as_client_go_splits_them() {
        assert_eq!(group_version("v1"), ("", "v1"));
        assert_eq!(group_version("apps/v1"), ("apps", "v1"));
        assert_eq!(group_version("/v1"), ("", "v1"));
        assert_eq!(group_version("a/b/c"), ("", ""));
        assert_eq!(group_version(""), ("", ""));
        assert_eq!(group_version("/"), ("", ""));
    }

    #[test]
    fn names_must_be_path_segments() {
        assert_eq!(path_segment_problems("web"), None);
        assert_eq!(path_segment_problems("").as_deref(), None);
        assert_eq!(path_segment_problems("..").as_deref(), Some("[may not be '..']"));
        assert_eq!(path_segment_problems("a/b%").as_deref(), Some("[may not contain '/' may not contain '%']"));
        assert_eq!(escape_segment("a b?#"), "a%20b%3F%23");
    }

    #[test]
    fn integers_are_int64_and_other_numbers_float64() {
        let v = go_value(&json!({"i": 3, "neg": -2, "f": 1.5, "whole": 1.0, "big": 18446744073709551615u64}));
        assert_eq!(v.get("i").map(|x| x.type_name()).as_deref(), Some("int64"));
        assert_eq!(v.get("neg").map(|x| x.type_name()).as_deref(), Some("int64"));
        assert_eq!(v.get("f").map(|x| x.type_name()).as_deref(), Some("float64"));
        assert_eq!(v.get("whole").map(|x| x.type_name()).as_deref(), Some("float64"));
        assert_eq!(v.get("big").map(|x| x.type_name()).as_deref(), Some("float64"));
    }

    #[test]
    fn list_items_get_the_lists_kind_when_they_have_neither() {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"resourceVersion": "7"}, "items": [
            {"metadata": {"name": "a"}},
            {"kind": "Other", "metadata": {"name": "b"}},
        ]});
        let v = decode(body.to_string().as_bytes(), false).unwrap();
        let items = v.get("items").and_then(|x| x.as_list()).unwrap();
        assert_eq!(items[0].get("kind").as_ref().and_then(Value::as_str), Some("ConfigMap"));
        assert_eq!(items[0].get("apiVersion").as_ref().and_then(Value::as_str), Some("v1"));
        assert_eq!(items[1].get("kind").as_ref().and_then(Value::as_str), Some("Other"));
        assert!(items[1].get("apiVersion").is_none());
        assert_eq!(v.get("kind").as_ref().and_then(Value::as_str), Some("ConfigMapList"));
    }

    #[test]
    fn an_object_listed_is_itself_with_no_items_and_a_kind_is_required() {
        let v = decode(br#"{"kind":"APIVersions","versions":["v1"]}"#, false).unwrap();
        assert_eq!(v.get("items").and_then(|x| x.as_list()).map(|l| l.len()), Some(0));
        let err = decode(br#"{"metadata":{}}"#, true).unwrap_err();
        assert_eq!(err, r#"Object 'Kind' is missing in '{"metadata":{}}'"#);
        assert!(decode(br#"{"kind":"X","items":[]}"#, true).is_err());
    }

    #[test]
    fn run_blocking_waits_on_a_plain_thread_and_gives_up_when_no_worker_is_free() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let h = rt.handle().clone();
        assert_eq!(run_blocking(&h, async { 7 }, Duration::from_secs(60)), Ok(7));
        // On the runtime's only worker, the call cannot run while we wait: an error, not a hang.
        let inner = h.clone();
        let answer = rt.block_on(async move { tokio::spawn(async move { run_blocking(&inner, async { 7 }, Duration::from_millis(200)) }).await.unwrap() });
        assert!(answer.unwrap_err().contains("did not run the cluster call"));
        let single = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let err = single.block_on(async { run_blocking(&h, async { 7 }, Duration::from_secs(60)) }).unwrap_err();
        assert!(err.contains("single-threaded"), "{err}");
    }

    #[test]
    fn generic_messages_when_the_body_is_not_a_status() {
        assert_eq!(status_message(403, b"nope"), "the server does not allow access to the requested resource");
        assert_eq!(status_message(403, br#"{"kind":"Status","message":"x is forbidden"}"#), "x is forbidden");
    }
}
