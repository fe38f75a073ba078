//! The `pods/log` subresource: what the simulated containers print and how
//! the API server serves it (`GET /api/v1/namespaces/NS/pods/NAME/log` with
//! `container`, `tailLines`, `sinceSeconds`/`sinceTime`, `timestamps`,
//! `previous`, `limitBytes` and `follow`), with the real server's and
//! kubelet's 400 messages. A container's log is made of its start-up lines
//! (in the style of its image's app, or the pod's `sim.gantry.dev/log-lines`
//! annotation, see `controllers::behavior`), one access-log line per request
//! the service or pod proxy served to the pod (recorded by `podhttp` in a
//! bounded ring per container, [`LogBook`]), and for a crash-looping
//! container the crash that ended its last instance. This file must not
//! parse paths or check tokens (see `api`), nor change objects in the store.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::Response;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::broadcast;

use crate::api::{Api, Call};
use crate::controllers::behavior::LOG_LINES;
use crate::error::{ApiError, GroupResource};
use crate::http::{stream_response, Body};

/// Access-log lines kept per container (older ones are dropped, as a rotated log would).
pub const RING_CAPACITY: usize = 1000;
/// Containers whose access lines are kept; the least recently written is forgotten past this.
pub const MAX_CONTAINERS: usize = 20_000;
/// How often a followed log checks that its container still runs.
const FOLLOW_CHECK: Duration = Duration::from_millis(250);

/// One printed line and when.
#[derive(Debug, Clone)]
struct Line {
    at: OffsetDateTime,
    text: String,
    /// Its place in its ring (0 for lines not recorded there).
    seq: u64,
}

/// (namespace, pod, container)
type Key = (String, String, String);

struct Ring {
    uid: String,
    lines: VecDeque<Line>,
    touched: u64,
}

/// The access lines of one cluster's containers, bounded, and a signal for followers.
pub struct LogBook {
    rings: Mutex<(HashMap<Key, Ring>, u64)>,
    news: broadcast::Sender<Key>,
}

impl Default for LogBook {
    fn default() -> LogBook {
        LogBook { rings: Mutex::new((HashMap::new(), 0)), news: broadcast::channel(256).0 }
    }
}

/// How a container's app writes its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// uvicorn (FastAPI and the like): the default.
    Uvicorn,
    /// nginx, for images named so.
    Nginx,
}

impl Style {
    fn of(image: &str) -> Style {
        let name = image.rsplit('/').next().unwrap_or(image);
        if name.starts_with("nginx") {
            Style::Nginx
        } else {
            Style::Uvicorn
        }
    }

    fn start_up(self, port: i64, at: OffsetDateTime) -> Vec<String> {
        match self {
            Style::Uvicorn => vec![
                "INFO:     Started server process [1]".into(),
                "INFO:     Waiting for application startup.".into(),
                "INFO:     Application startup complete.".into(),
                format!("INFO:     Uvicorn running on http://0.0.0.0:{port} (Press CTRL+C to quit)"),
            ],
            Style::Nginx => {
                let when = nginx_time(at);
                vec![
                    "/docker-entrypoint.sh: Configuration complete; ready for start up".into(),
                    format!("{when} [notice] 1#1: using the \"epoll\" event method"),
                    format!("{when} [notice] 1#1: start worker processes"),
                ]
            }
        }
    }

    fn crash(self, at: OffsetDateTime) -> String {
        match self {
            Style::Uvicorn => "ERROR:    Application startup failed. Exiting.".into(),
            Style::Nginx => format!("{} [emerg] 1#1: host not found in upstream \"backend\"", nginx_time(at)),
        }
    }

    fn access(self, method: &str, path: &str, status: u16, at: OffsetDateTime) -> String {
        let reason = hyper::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        match self {
            Style::Uvicorn => format!("INFO:     {PROXY_CLIENT}:0 - \"{method} {path} HTTP/1.1\" {status} {reason}"),
            Style::Nginx => {
                let f = time::macros::format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
                let when = at.format(&f).unwrap_or_default();
                format!("{PROXY_CLIENT} - - [{when}] \"{method} {path} HTTP/1.1\" {status} 0 \"-\" \"-\"")
            }
        }
    }
}

/// Where the pods see proxied requests come from (the API server on the pod network).
const PROXY_CLIENT: &str = "10.244.0.1";

fn nginx_time(at: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]/[month]/[day] [hour]:[minute]:[second]");
    at.format(&f).unwrap_or_default()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

fn image_of(pod: &Value, container: &str) -> (String, i64) {
    let all = pod["spec"]["containers"].as_array().into_iter().flatten().chain(pod["spec"]["initContainers"].as_array().into_iter().flatten());
    let found = all.into_iter().find(|c| c["name"] == container);
    let image = found.map_or("", |c| str_of(c, "image")).to_string();
    let port = found.and_then(|c| c["ports"][0]["containerPort"].as_i64()).unwrap_or(8000);
    (image, port)
}

impl LogBook {
    /// Records that `pod` answered `method path` with `status` (its first container serves it).
    pub fn access(&self, pod: &Value, method: &str, path: &str, status: u16) {
        let meta = &pod["metadata"];
        let Some(container) = pod["spec"]["containers"][0]["name"].as_str() else { return };
        let key: Key = (str_of(meta, "namespace").into(), str_of(meta, "name").into(), container.into());
        let (image, _) = image_of(pod, container);
        let now = OffsetDateTime::now_utc();
        let line = Line { at: now, text: Style::of(&image).access(method, path, status, now), seq: 0 };
        {
            let mut guard = self.rings.lock().unwrap_or_else(|p| p.into_inner());
            let (rings, clock) = &mut *guard;
            *clock += 1;
            let tick = *clock;
            if !rings.contains_key(&key) && rings.len() >= MAX_CONTAINERS {
                if let Some(oldest) = rings.iter().min_by_key(|(_, r)| r.touched).map(|(k, _)| k.clone()) {
                    rings.remove(&oldest);
                }
            }
            let uid = str_of(meta, "uid");
            let ring = rings.entry(key.clone()).or_insert_with(|| Ring { uid: uid.to_string(), lines: VecDeque::new(), touched: tick });
            if ring.uid != uid {
                // A new pod of the same name: the old one's log went with it.
                *ring = Ring { uid: uid.to_string(), lines: VecDeque::new(), touched: tick };
            }
            if ring.lines.len() >= RING_CAPACITY {
                ring.lines.pop_front();
            }
            let mut line = line;
            line.seq = ring.lines.back().map_or(1, |l| l.seq + 1);
            ring.lines.push_back(line);
            ring.touched = tick;
        }
        let _ = self.news.send(key);
    }

    /// The lines recorded for `key`'s pod `uid` at or after `since` and after line `after`.
    fn recorded(&self, key: &Key, uid: &str, since: OffsetDateTime, after: u64) -> Vec<Line> {
        let guard = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        match guard.0.get(key) {
            Some(ring) if ring.uid == uid => ring.lines.iter().filter(|l| l.at >= since && l.seq > after).cloned().collect(),
            _ => Vec::new(),
        }
    }
}

/// The `pods/log` query, validated.
#[derive(Debug, Default)]
struct LogOptions {
    container: Option<String>,
    tail: Option<usize>,
    since: Option<OffsetDateTime>,
    timestamps: bool,
    previous: bool,
    limit_bytes: Option<usize>,
    follow: bool,
}

fn flag(call: &Call, key: &str) -> Result<bool, ApiError> {
    match call.param(key) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!("strconv.ParseBool: parsing \"{other}\": invalid syntax"))),
    }
}

fn number(call: &Call, key: &str) -> Result<Option<i64>, ApiError> {
    call.param(key).map(|v| v.parse::<i64>().map_err(|_| ApiError::BadRequest(format!("strconv.ParseInt: parsing \"{v}\": invalid syntax")))).transpose()
}

fn invalid(field: &str, value: impl std::fmt::Display, why: &str) -> ApiError {
    ApiError::BadRequest(format!("PodLogOptions.meta.k8s.io \"\" is invalid: {field}: Invalid value: {value}: {why}"))
}

impl LogOptions {
    fn parse(call: &Call) -> Result<LogOptions, ApiError> {
        let tail = number(call, "tailLines")?;
        if let Some(t) = tail.filter(|t| *t < 0) {
            return Err(invalid("tailLines", t, "must be greater than or equal to 0"));
        }
        let since_seconds = number(call, "sinceSeconds")?;
        if let Some(s) = since_seconds.filter(|s| *s < 1) {
            return Err(invalid("sinceSeconds", s, "must be greater than 0"));
        }
        let since_time = match call.param("sinceTime") {
            None => None,
            Some(text) => Some(
                OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| ApiError::BadRequest(format!("parsing time \"{text}\" as RFC3339: cannot parse")))?,
            ),
        };
        if since_seconds.is_some() && since_time.is_some() {
            return Err(ApiError::BadRequest("PodLogOptions.meta.k8s.io \"\" is invalid: sinceSeconds: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified".into()));
        }
        let limit = number(call, "limitBytes")?;
        if let Some(l) = limit.filter(|l| *l < 1) {
            return Err(invalid("limitBytes", l, "must be greater than 0"));
        }
        let since = since_time.or_else(|| since_seconds.map(|s| OffsetDateTime::now_utc() - time::Duration::seconds(s)));
        Ok(LogOptions {
            container: call.param("container").map(String::from),
            tail: tail.map(|t| t as usize),
            since,
            timestamps: flag(call, "timestamps")?,
            previous: flag(call, "previous")?,
            limit_bytes: limit.map(|l| l as usize),
            follow: flag(call, "follow")?,
        })
    }

    fn render(&self, line: &Line) -> String {
        if self.timestamps {
            let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");
            format!("{} {}\n", line.at.format(&f).unwrap_or_default(), line.text)
        } else {
            format!("{}\n", line.text)
        }
    }
}

fn names(list: &Value) -> String {
    list.as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect::<Vec<_>>().join(" ")
}

/// The container a log request is about, with the API server's 400s.
fn container_of(pod: &Value, name: &str, asked: Option<&str>) -> Result<String, ApiError> {
    let spec = &pod["spec"];
    let containers = spec["containers"].as_array().cloned().unwrap_or_default();
    match asked {
        Some(c) => {
            let known = containers.iter().chain(spec["initContainers"].as_array().into_iter().flatten()).any(|x| x["name"] == c);
            if known {
                Ok(c.to_string())
            } else {
                Err(ApiError::BadRequest(format!("container {c} is not valid for pod {name}")))
            }
        }
        None if containers.len() == 1 => Ok(str_of(&containers[0], "name").to_string()),
        None if containers.is_empty() => Err(ApiError::BadRequest(format!("a container name must be specified for pod {name}"))),
        None => {
            let mut message = format!("a container name must be specified for pod {name}, choose one of: [{}]", names(&spec["containers"]));
            let inits = names(&spec["initContainers"]);
            if !inits.is_empty() {
                message.push_str(&format!(" or one of the init containers: [{inits}]"));
            }
            Err(ApiError::BadRequest(message))
        }
    }
}

fn parse_time(v: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(v.as_str()?, &time::format_description::well_known::Rfc3339).ok()
}

/// What one container instance printed, and whether it still runs.
struct Instance {
    lines: Vec<Line>,
    running: bool,
    /// When it started (its access lines are the ones recorded since).
    started: OffsetDateTime,
}

/// The instance `opts` asks for, as the kubelet picks it, with its 400s.
fn instance(pod: &Value, container: &str, previous: bool) -> Result<Instance, ApiError> {
    let name = str_of(&pod["metadata"], "name");
    let statuses = pod["status"]["containerStatuses"].as_array().into_iter().flatten().chain(pod["status"]["initContainerStatuses"].as_array().into_iter().flatten());
    let status = statuses.into_iter().find(|s| s["name"] == container);
    let Some(status) = status else {
        let message = if pod["spec"]["nodeName"].is_null() {
            format!("pod {name} does not have a host assigned")
        } else {
            format!("container \"{container}\" in pod \"{name}\" is not available")
        };
        return Err(ApiError::BadRequest(message));
    };
    let (image, port) = image_of(pod, container);
    let style = Style::of(&image);
    let configured: Option<Vec<String>> = pod["metadata"]["annotations"][LOG_LINES].as_str().map(|t| t.lines().map(String::from).collect());
    let start_up = |at: OffsetDateTime| -> Vec<Line> {
        let texts = configured.clone().unwrap_or_else(|| style.start_up(port, at));
        texts.into_iter().map(|text| Line { at, text, seq: 0 }).collect()
    };
    let crashed = |term: &Value| -> Instance {
        let started = parse_time(&term["startedAt"]).unwrap_or_else(OffsetDateTime::now_utc);
        let finished = parse_time(&term["finishedAt"]).unwrap_or(started);
        let mut lines = start_up(started);
        if term["exitCode"].as_i64().unwrap_or(0) != 0 {
            lines.push(Line { at: finished, text: style.crash(finished), seq: 0 });
        }
        Instance { lines, running: false, started }
    };
    let (state, last) = (&status["state"], &status["lastState"]["terminated"]);
    if previous {
        if !last.is_object() {
            return Err(ApiError::BadRequest(format!("previous terminated container \"{container}\" in pod \"{name}\" not found")));
        }
        return Ok(crashed(last));
    }
    if let Some(at) = state["running"].is_object().then(|| parse_time(&state["running"]["startedAt"])) {
        let started = at.unwrap_or_else(OffsetDateTime::now_utc);
        return Ok(Instance { lines: start_up(started), running: true, started });
    }
    if state["terminated"].is_object() {
        return Ok(crashed(&state["terminated"]));
    }
    if last.is_object() {
        return Ok(crashed(last));
    }
    let reason = str_of(&state["waiting"], "reason");
    let why = match reason {
        "ErrImagePull" => "image can't be pulled",
        "ImagePullBackOff" => "trying and failing to pull image",
        other => other,
    };
    Err(ApiError::BadRequest(format!("container \"{container}\" in pod \"{name}\" is waiting to start: {why}")))
}

/// Cuts `text` to at most `limit` bytes (on a character boundary).
fn cut(text: &mut String, limit: usize) {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

fn pods() -> GroupResource {
    GroupResource { group: String::new(), resource: "pods".into() }
}

/// `GET .../pods/NAME/log`.
pub async fn serve(api: &Arc<Api>, call: Call) -> Result<Response<Body>, ApiError> {
    let opts = LogOptions::parse(&call)?;
    let ns = call.target.ns().to_string();
    let name = call.target.name.clone().unwrap_or_default();
    let pod = api.store.get(&pods(), &ns, &name)?;
    let container = container_of(&pod, &name, opts.container.as_deref())?;
    let book = &api.proxy.pods.logs;
    let found = instance(&pod, &container, opts.previous)?;
    let uid = str_of(&pod["metadata"], "uid").to_string();
    let key: Key = (ns.clone(), name.clone(), container.clone());
    let mut lines = found.lines;
    // Subscribe before reading the ring: nothing written in between is missed.
    let mut news = book.news.subscribe();
    let mut seen = 0u64;
    if found.running {
        let recorded = book.recorded(&key, &uid, found.started, 0);
        seen = recorded.last().map_or(0, |l| l.seq);
        lines.extend(recorded);
    }
    let since = opts.since;
    let lines: Vec<&Line> = lines.iter().filter(|l| since.is_none_or(|s| l.at >= s)).collect();
    let skip = opts.tail.map_or(0, |t| lines.len().saturating_sub(t));
    let mut text: String = lines[skip..].iter().map(|l| opts.render(l)).collect();
    let mut budget = opts.limit_bytes.unwrap_or(usize::MAX);
    cut(&mut text, budget);
    budget -= text.len();
    if !opts.follow || !found.running || budget == 0 {
        let mut resp = Response::new(http_body_util::BodyExt::boxed(http_body_util::Full::new(Bytes::from(text))));
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain"));
        return Ok(resp);
    }
    let (tx, mut resp) = stream_response();
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain"));
    let api = api.clone();
    tokio::spawn(async move {
        if !text.is_empty() && tx.send(Bytes::from(text)).await.is_err() {
            return;
        }
        let mut check = tokio::time::interval(FOLLOW_CHECK);
        loop {
            tokio::select! {
                _ = api.shutdown.cancelled() => return,
                _ = tx.closed() => return,
                _ = check.tick() => {
                    let still = api.store.get_shared(&pods(), &key.0, &key.1).ok().filter(|p| p["metadata"]["uid"] == uid.as_str());
                    let running = still.as_deref().is_some_and(|p| {
                        p["metadata"]["deletionTimestamp"].is_null()
                            && p["status"]["containerStatuses"].as_array().into_iter().flatten().any(|s| s["name"] == key.2.as_str() && s["state"]["running"].is_object())
                    });
                    if !running {
                        return;
                    }
                }
                got = news.recv() => {
                    match got {
                        Ok(k) if k != key => continue,
                        Err(broadcast::error::RecvError::Closed) => return,
                        _ => {}
                    }
                    let new_lines = api.proxy.pods.logs.recorded(&key, &uid, found.started, seen);
                    seen = new_lines.last().map_or(seen, |l| l.seq);
                    let mut chunk: String = new_lines.iter().filter(|l| since.is_none_or(|s| l.at >= s)).map(|l| opts.render(l)).collect();
                    cut(&mut chunk, budget);
                    budget -= chunk.len();
                    if !chunk.is_empty() && tx.send(Bytes::from(chunk)).await.is_err() {
                        return;
                    }
                    if budget == 0 {
                        return;
                    }
                }
            }
        }
    });
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_container_is_required_when_the_pod_has_several() {
        let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}], "initContainers": [{"name": "init"}]}});
        let err = container_of(&pod, "p", None).unwrap_err();
        assert_eq!(err.to_string(), ApiError::BadRequest("a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [init]".into()).to_string());
        assert_eq!(container_of(&pod, "p", Some("b")).unwrap(), "b");
        assert!(container_of(&pod, "p", Some("c")).unwrap_err().to_string().contains("container c is not valid for pod p"));
    }

    #[test]
    fn the_ring_keeps_the_newest_lines_and_forgets_a_replaced_pod() {
        let book = LogBook::default();
        let pod = |uid: &str| json!({"metadata": {"namespace": "n", "name": "p", "uid": uid}, "spec": {"containers": [{"name": "c", "image": "api:1"}]}});
        for i in 0..RING_CAPACITY + 5 {
            book.access(&pod("1"), "GET", &format!("/{i}"), 200);
        }
        let key: Key = ("n".into(), "p".into(), "c".into());
        let lines = book.recorded(&key, "1", OffsetDateTime::UNIX_EPOCH, 0);
        assert_eq!(lines.len(), RING_CAPACITY);
        assert_eq!(lines[0].text, "INFO:     10.244.0.1:0 - \"GET /5 HTTP/1.1\" 200 OK");
        book.access(&pod("2"), "GET", "/new", 404);
        assert!(book.recorded(&key, "1", OffsetDateTime::UNIX_EPOCH, 0).is_empty());
        assert_eq!(book.recorded(&key, "2", OffsetDateTime::UNIX_EPOCH, 0)[0].text, "INFO:     10.244.0.1:0 - \"GET /new HTTP/1.1\" 404 Not Found");
    }

    #[test]
    fn waiting_containers_refuse_with_the_kubelets_words() {
        let pod = |waiting: &str| json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "api:1"}]},
            "status": {"containerStatuses": [{"name": "c", "state": {"waiting": {"reason": waiting}}}]}});
        let message = |waiting: &str| instance(&pod(waiting), "c", false).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message("ContainerCreating").contains("container \"c\" in pod \"p\" is waiting to start: ContainerCreating"));
        assert!(message("ImagePullBackOff").contains("is waiting to start: trying and failing to pull image"));
        assert!(message("ErrImagePull").contains("is waiting to start: image can't be pulled"));
        let previous = instance(&pod("ContainerCreating"), "c", true).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(previous.contains("previous terminated container \"c\" in pod \"p\" not found"), "{previous}");
    }
}
