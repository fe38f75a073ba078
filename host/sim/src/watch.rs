//! Watches: `?watch=true` streams newline-delimited JSON WatchEvents
//! (ADDED, MODIFIED, DELETED) from a resourceVersion (replayed from the
//! store's history) or from now (synthetic ADDED events first), with
//! BOOKMARK events when `allowWatchBookmarks` is set, an ERROR event carrying
//! a 410 Expired Status when the version is older than the kept history,
//! selector transitions as the real watch cache reports them (an object
//! leaving the selection is DELETED, one entering it ADDED), and
//! an end after `timeoutSeconds` or at server shutdown, and the faults that
//! cut or expire a stream (`faults`). This file must not
//! change objects; it only reads the store's feed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Response;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use crate::api::{Api, Call};
use crate::error::ApiError;
use crate::http::{stream_response, Body};
use crate::resources::ResourceType;
use crate::store::{Event, EventType, Since};
use crate::verbs::selectors;

/// One open watch: what it shows and where it writes.
struct Watcher<F> {
    rt: ResourceType,
    namespace: Option<String>,
    filter: F,
    bookmarks: bool,
    /// `as=Table`, with this includeObject: events carry one-row Tables.
    table: Option<String>,
    out: mpsc::Sender<Bytes>,
    last_rv: u64,
    /// A fault that cuts the stream after some events (`faults`).
    reset: Option<crate::faults::WatchReset>,
}

impl Api {
    pub fn watch(self: &Arc<Self>, call: &Call) -> Result<Response<Body>, ApiError> {
        let since = match call.param("resourceVersion") {
            None | Some("0") => Since::Now,
            Some(v) => Since::Version(v.parse().map_err(|_| ApiError::BadRequest(format!("invalid resource version: {v}")))?),
        };
        let timeout = call.param("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs);
        let initial_end = call.param("sendInitialEvents") == Some("true");
        let (out, resp) = stream_response();
        let mut watcher = Watcher {
            rt: call.target.rt.clone(),
            namespace: call.target.namespace.clone(),
            filter: selectors(call)?,
            bookmarks: call.param("allowWatchBookmarks") == Some("true"),
            table: call.table.then(|| call.param("includeObject").unwrap_or("").to_string()),
            out,
            last_rv: self.store.resource_version(),
            reset: call.watch_reset.clone(),
        };
        let subscription = self.store.subscribe(&crate::conversion::stored_gr(&call.target.rt), since);
        let api = self.clone();
        tokio::spawn(async move {
            if watcher.expired_at_start(since).await {
                return;
            }
            match subscription {
                Ok((initial, feed)) => {
                    if watcher.replay(&initial, initial_end).await {
                        watcher.follow(feed, &api, timeout).await;
                    }
                }
                Err(err) => {
                    watcher.send(&json!({"type": "ERROR", "object": err.to_status()})).await;
                }
            }
        });
        Ok(resp)
    }
}

impl<F: Fn(&Value) -> bool> Watcher<F> {
    /// False when the client has gone.
    async fn send(&self, event: &Value) -> bool {
        let mut line = event.to_string();
        line.push('\n');
        self.send_line(line).await
    }

    /// False when the client has gone or a fault cut the stream.
    async fn send_line(&self, line: String) -> bool {
        if self.out.send(Bytes::from(line)).await.is_err() {
            return false;
        }
        match &self.reset {
            Some(reset) => !reset.after_event(&self.out, self.last_rv).await,
            None => true,
        }
    }

    /// True when a fault ended the watch before its first event (410 Expired).
    async fn expired_at_start(&self, since: Since) -> bool {
        let version = match since {
            Since::Version(v) => v,
            _ => self.last_rv,
        };
        match &self.reset {
            Some(reset) => reset.at_start(&self.out, version).await,
            None => false,
        }
    }

    async fn replay(&mut self, initial: &[Arc<Event>], initial_end: bool) -> bool {
        for event in initial {
            if !self.deliver(event).await {
                return false;
            }
        }
        if initial_end {
            let mut bookmark = self.bookmark();
            bookmark["object"]["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            return self.send(&bookmark).await;
        }
        true
    }

    async fn follow(&mut self, mut feed: broadcast::Receiver<Arc<Event>>, api: &Api, timeout: Option<Duration>) {
        let deadline = tokio::time::sleep(timeout.unwrap_or(Duration::from_secs(30 * 60)));
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(api.bookmark_interval);
        ticker.tick().await;
        loop {
            let keep_going = tokio::select! {
                _ = api.shutdown.cancelled() => false,
                _ = &mut deadline => false,
                _ = self.out.closed() => false,
                _ = ticker.tick(), if self.bookmarks => self.send(&self.bookmark()).await,
                received = feed.recv() => match received {
                    Ok(event) => self.deliver(&event).await,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let gone = ApiError::Gone("the watch fell too far behind; start a new one".into());
                        self.send(&json!({"type": "ERROR", "object": gone.to_status()})).await;
                        false
                    }
                    Err(broadcast::error::RecvError::Closed) => false,
                },
            };
            if !keep_going {
                return;
            }
        }
    }

    async fn deliver(&mut self, event: &Event) -> bool {
        self.last_rv = self.last_rv.max(event.rv);
        let ns_ok = self.namespace.as_deref().is_none_or(|ns| ns == event.namespace);
        if event.gr != crate::conversion::stored_gr(&self.rt) || !ns_ok {
            return true;
        }
        let Some(kind) = self.seen_as(event) else { return true };
        let object = match &self.table {
            Some(include) => crate::crd::printed(&self.rt, std::slice::from_ref(&*event.object), json!({}), include).to_string(),
            // The stored object as it is, serialized in place (converted when served in another version).
            None => crate::conversion::out(&self.rt, &event.object).to_string(),
        };
        let line = format!("{{\"type\":\"{}\",\"object\":{object}}}\n", kind.as_str());
        self.send_line(line).await
    }

    /// What this watch's selection makes of an event: a change that moves an
    /// object into the selection is ADDED, out of it DELETED; None: not shown.
    fn seen_as(&self, event: &Event) -> Option<EventType> {
        let now = (self.filter)(&event.object);
        let before = event.previous.as_ref().map(|p| (self.filter)(p));
        match (event.kind, before, now) {
            (EventType::Modified, Some(false), true) => Some(EventType::Added),
            (EventType::Modified, Some(true), false) => Some(EventType::Deleted),
            (_, _, true) => Some(event.kind),
            _ => None,
        }
    }

    fn bookmark(&self) -> Value {
        json!({"type": "BOOKMARK", "object": {"kind": self.rt.kind, "apiVersion": self.rt.api_version(),
            "metadata": {"resourceVersion": self.last_rv.to_string()}}})
    }
}
