//! The cluster's state: JSON objects keyed by group-resource, namespace and
//! name, with one global, monotonically increasing resourceVersion, the
//! metadata the server owns (uid, creationTimestamp, generation,
//! resourceVersion), optimistic concurrency, the default namespaces, and the
//! event history watches replay from (older versions answer 410 Gone) and
//! paged or Exact lists read past states from (each event keeps the object
//! as it was before it; nothing is copied per list). Kinds served in another
//! version than stored are written through `conversion`. Every
//! change happens under one lock and is published to live watches in order.
//! Stored objects are shared (`Arc`) with the events that publish them, so a
//! write copies nothing it does not change; the history keeps each event as
//! JSON text (a tenth of a parsed object's memory), parsed again only when a
//! watch replays it.
//! This file must not know about HTTP, auth or selectors' syntax.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::conversion;
use crate::defaults::{self, Allocator};
use crate::error::{ApiError, FieldCause, GroupResource};
use crate::resources::ResourceType;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it.
#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    pub gr: GroupResource,
    pub namespace: String,
    pub object: Arc<Value>,
    /// The object before a MODIFIED or DELETED event: watches with selectors
    /// need it to turn an object leaving their selection into DELETED and one
    /// entering it into ADDED; paged lists to see the collection as it was.
    pub previous: Option<Arc<Value>>,
}

/// An event as the history keeps it: the objects as JSON text.
struct Packed {
    rv: u64,
    kind: EventType,
    gr: GroupResource,
    namespace: String,
    name: Box<str>,
    object: Box<str>,
    previous: Before,
}

/// What an event's object was before it, as the history keeps it.
enum Before {
    None,
    Text(Box<str>),
    /// The event's own object at this resourceVersion (a DELETED event of an
    /// object deleted as it was stored): kept as the version alone.
    SameAt(Box<str>),
}

impl Packed {
    fn of(event: &Event) -> Packed {
        let text = |v: &Value| v.to_string().into_boxed_str();
        let previous = match event.previous.as_deref() {
            None => Before::None,
            Some(p) if event.kind == EventType::Deleted && same_but_rv(p, &event.object) => {
                Before::SameAt(p["metadata"]["resourceVersion"].as_str().unwrap_or("").into())
            }
            Some(p) => Before::Text(text(p)),
        };
        Packed {
            rv: event.rv,
            kind: event.kind,
            gr: event.gr.clone(),
            namespace: event.namespace.clone(),
            name: event.object["metadata"]["name"].as_str().unwrap_or("").into(),
            object: text(&event.object),
            previous,
        }
    }

    fn unpack(&self) -> Arc<Event> {
        let object = parse_text(&self.object);
        Arc::new(Event {
            rv: self.rv,
            kind: self.kind,
            gr: self.gr.clone(),
            namespace: self.namespace.clone(),
            previous: self.before(&object),
            object,
        })
    }

    /// The object as it was before this event (None: it did not exist).
    fn before(&self, object: &Arc<Value>) -> Option<Arc<Value>> {
        match &self.previous {
            Before::None => None,
            Before::Text(t) => Some(parse_text(t)),
            Before::SameAt(rv) => {
                let mut was = Value::clone(object);
                was["metadata"]["resourceVersion"] = json!(rv.as_ref());
                Some(Arc::new(was))
            }
        }
    }
}

/// History text is what `Value::to_string` wrote: it parses back.
fn parse_text(text: &str) -> Arc<Value> {
    Arc::new(serde_json::from_str(text).unwrap_or(Value::Null))
}

/// A new watch's starting events and the live feed after them.
pub type Subscription = (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>);

/// Which part of an object an update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The object; its status is kept when the kind has a status subresource.
    Main,
    /// Only `status` (the status subresource).
    Status,
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Synthetic ADDED events for every current object, then changes.
    Now,
    /// Every change after this resourceVersion.
    Version(u64),
}

/// How a write request asked to be carried out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and answer, but change nothing.
    pub dry_run: bool,
    /// DeleteOptions preconditions: the object must still have this uid...
    pub uid: Option<String>,
    /// ...and this resourceVersion.
    pub resource_version: Option<String>,
    /// DeleteOptions `propagationPolicy` (the deprecated `orphanDependents`
    /// mapped onto it); None lets the object's own `orphan` or
    /// `foregroundDeletion` finalizer decide, else dependents go in the background.
    pub propagation: Option<Propagation>,
    /// DeleteOptions `gracePeriodSeconds`; only pods are deleted gracefully.
    pub grace_period: Option<i64>,
}

/// What becomes of an object's dependents when it is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// The `orphan` finalizer: the garbage collector strips the dependents' ownerReferences first.
    Orphan,
    /// The object goes now; the garbage collector deletes the dependents afterwards.
    Background,
    /// The `foregroundDeletion` finalizer: the object stays until its blocking dependents are gone.
    Foreground,
}

impl Propagation {
    pub fn parse(value: &str) -> Option<Propagation> {
        match value {
            "Orphan" => Some(Propagation::Orphan),
            "Background" => Some(Propagation::Background),
            "Foreground" => Some(Propagation::Foreground),
            _ => None,
        }
    }
}

/// The finalizer that makes the garbage collector orphan an object's dependents.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer that holds an object until the garbage collector deleted its blocking dependents.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The namespace spec finalizer the namespace controller removes once the namespace is empty.
pub const NAMESPACE_FINALIZER: &str = "kubernetes";

/// What a delete did.
#[derive(Debug, Clone, PartialEq)]
pub enum Deletion {
    /// The object is gone: as last stored, at the resourceVersion of its deletion.
    Gone(Value),
    /// The object is being deleted (finalizers pending, a grace period
    /// running, a namespace emptying): as it now is.
    Pending(Value),
}

impl Deletion {
    pub fn object(&self) -> &Value {
        match self {
            Deletion::Gone(obj) | Deletion::Pending(obj) => obj,
        }
    }

    pub fn is_gone(&self) -> bool {
        matches!(self, Deletion::Gone(_))
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Value>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

type Objects = BTreeMap<(String, String), Arc<Value>>;

/// A change of an object, boxed (the converting `modify` hands one on).
type Change<'a> = dyn FnOnce(&Value) -> Result<Value, ApiError> + 'a;

struct Inner {
    rv: u64,
    objects: BTreeMap<GroupResource, Objects>,
    history: VecDeque<Packed>,
    /// The newest resourceVersion no longer in `history`.
    compacted: u64,
    /// Service ClusterIPs and NodePorts handed out so far.
    allocator: Allocator,
}

/// The in-memory object store of one simulated cluster.
pub struct Store {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Arc<Event>>,
    history_limit: usize,
}

pub const DEFAULT_HISTORY: usize = 10_000;
const DEFAULT_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

impl Store {
    /// A store holding the default namespaces, keeping `history_limit` events for watches.
    pub fn new(history_limit: usize, namespaces: &ResourceType) -> Store {
        let (events, _) = broadcast::channel(4096);
        let inner = Inner { rv: 0, objects: BTreeMap::new(), history: VecDeque::new(), compacted: 0, allocator: Allocator::default() };
        let store = Store { inner: Mutex::new(inner), events, history_limit: history_limit.max(1) };
        for ns in DEFAULT_NAMESPACES {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            if let Err(e) = store.create(namespaces, "", obj, &WriteOptions::default()) {
                tracing::error!(error = %e, "creating a default namespace");
            }
        }
        store
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, gr: &GroupResource, namespace: &str, name: &str) -> Result<Value, ApiError> {
        self.get_shared(gr, namespace, name).map(Arc::unwrap_or_clone)
    }

    /// The stored object itself, shared: for readers that only serialize or inspect it.
    pub fn get_shared(&self, gr: &GroupResource, namespace: &str, name: &str) -> Result<Arc<Value>, ApiError> {
        let inner = self.lock();
        let found = inner.objects.get(gr).and_then(|m| m.get(&(namespace.to_string(), name.to_string())));
        found.cloned().ok_or_else(|| ApiError::not_found(gr, name))
    }

    /// Every object of `gr` (all namespaces), shared: a controller's view for one pass.
    pub fn snapshot(&self, gr: &GroupResource) -> Vec<Arc<Value>> {
        self.lock().objects.get(gr).map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    /// Objects of `gr` (in `namespace`, or all) passing `filter`, `limit` at a time.
    pub fn list(
        &self,
        gr: &GroupResource,
        namespace: Option<&str>,
        filter: &dyn Fn(&Value) -> bool,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<Page, ApiError> {
        let at = match continue_token {
            Some(token) => ReadAt::Continue(token),
            None => ReadAt::Latest,
        };
        // Counts what is left passing `filter`.
        self.list_at(gr, namespace, filter, &ListOptions { limit, at, filtered: false })
    }

    /// A list as the real server reads it from etcd: at the latest version,
    /// at least or exactly at a given one, or continuing a paged list at the
    /// version of its first page — the collection as it was then, rebuilt
    /// from the history (410 Expired with a fresh token when the history no
    /// longer reaches back to it).
    pub fn list_at(&self, gr: &GroupResource, namespace: Option<&str>, filter: &dyn Fn(&Value) -> bool, opts: &ListOptions) -> Result<Page, ApiError> {
        let start = match opts.at {
            ReadAt::Continue(token) => Some(ContinueToken::decode(token, namespace)?),
            _ => None,
        };
        let inner = self.lock();
        let rv = match (&opts.at, &start) {
            (_, Some(token)) if token.rv > 0 && (token.rv as u64) < inner.compacted => {
                return Err(ApiError::ExpiredContinue { token: ContinueToken { rv: -1, ..token.clone() }.encode() });
            }
            (_, Some(token)) if token.rv > 0 => (token.rv as u64).min(inner.rv),
            (ReadAt::Exact(v), _) | (ReadAt::NotOlderThan(v), _) if *v > inner.rv => {
                return Err(ApiError::TooLargeResourceVersion { wanted: *v, current: inner.rv });
            }
            (ReadAt::Exact(v), _) if *v < inner.compacted => {
                return Err(ApiError::Gone("The resourceVersion for the provided list is too old.".into()));
            }
            (ReadAt::Exact(v), _) => *v,
            _ => inner.rv,
        };
        let empty = Objects::new();
        let objects = inner.objects.get(gr).unwrap_or(&empty);
        // Objects changed since `rv`, as they were at `rv` (None: not there yet).
        let then = if rv < inner.rv { inner.as_of(gr, namespace, rv) } else { BTreeMap::new() };
        let lower: Bound<(String, String)> = match (&start, namespace) {
            (Some(t), _) if t.inclusive => Bound::Included(t.key.clone()),
            (Some(t), _) => Bound::Excluded(t.key.clone()),
            (None, Some(ns)) => Bound::Included((ns.to_string(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let range = (lower, Bound::Unbounded);
        let now = objects.range::<(String, String), _>(range.clone()).filter(|(k, _)| !then.contains_key(*k));
        let was = then.range::<(String, String), _>(range).filter_map(|(k, v)| v.as_ref().map(|v| (k, v)));
        let mut matching = Merge { a: now.peekable(), b: was.peekable() }
            .skip_while(|((ns, _), _)| namespace.is_some_and(|want| ns.as_str() < want))
            .take_while(|((ns, _), _)| namespace.is_none_or(|want| want == ns))
            .filter(|(_, obj)| filter(obj));
        let limit = opts.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let items: Vec<(&(String, String), &Arc<Value>)> = matching.by_ref().take(limit).collect();
        // The real server counts what is left only when nothing filters the list.
        let (more, remaining) = if opts.filtered {
            (matching.next().is_some(), None)
        } else {
            let left = matching.count();
            (left > 0, Some(left))
        };
        let continue_token = match (more, items.last()) {
            (true, Some(((ns, name), _))) => {
                Some(ContinueToken { rv: rv as i64, key: (ns.clone(), name.clone()), inclusive: false, in_namespace: namespace.is_some() }.encode())
            }
            _ => None,
        };
        let remaining = remaining.filter(|_| continue_token.is_some());
        Ok(Page { items: items.into_iter().map(|(_, v)| Value::clone(v)).collect(), resource_version: rv, continue_token, remaining })
    }

    /// Stores a new object, filling the metadata the server owns.
    pub fn create(&self, rt: &ResourceType, namespace: &str, mut obj: Value, opts: &WriteOptions) -> Result<Value, ApiError> {
        if let Some(storage) = conversion::storage_of(rt) {
            // Served in another version than stored: written and answered converted.
            let created = self.create(&storage, namespace, conversion::into_storage(rt, obj), opts)?;
            return Ok(conversion::out(rt, &created).into_owned());
        }
        let gr = rt.gr();
        let name = object_name(rt, &mut obj)?;
        let mut inner = self.lock();
        if rt.namespaced {
            let ns = inner.objects.get(&namespaces()).and_then(|m| m.get(&(String::new(), namespace.to_string())));
            let ns = ns.ok_or_else(|| ApiError::not_found(&namespaces(), namespace))?;
            if !ns["metadata"]["deletionTimestamp"].is_null() {
                // The NamespaceLifecycle admission plugin's refusal.
                let message = format!("{gr} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated");
                return Err(ApiError::Forbidden { gr, name, message });
            }
        }
        if inner.contains(&gr, namespace, &name) {
            return Err(ApiError::AlreadyExists { gr, name });
        }
        check_finalizers(rt, &name, &obj)?;
        inner.fill_defaults(rt, &mut obj, None);
        stamp_new(rt, namespace, &name, inner.rv + 1, &mut obj);
        crate::strategy::prepare_create(rt, &mut obj)?;
        if opts.dry_run {
            obj["metadata"].as_object_mut().map(|m| m.remove("resourceVersion"));
            return Ok(obj);
        }
        inner.rv += 1;
        let stored = Arc::new(obj.clone());
        inner.objects.entry(gr.clone()).or_default().insert((namespace.to_string(), name), stored.clone());
        self.publish(&mut inner, EventType::Added, &gr, namespace, stored, None);
        Ok(obj)
    }

    /// Replaces (part of) an object with what `change` makes of the current one,
    /// refusing a stale `metadata.resourceVersion` with 409 Conflict.
    pub fn modify(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        part: Part,
        opts: &WriteOptions,
        change: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        if let Some(storage) = conversion::storage_of(rt) {
            // `change` sees and writes `rt`'s version; the store keeps its own.
            let converted: Box<Change<'_>> =
                Box::new(|current: &Value| Ok(conversion::into_storage(rt, change(&conversion::out(rt, current))?)));
            let written = self.modify(&storage, namespace, name, part, opts, converted)?;
            return Ok(conversion::out(rt, &written).into_owned());
        }
        let gr = rt.gr();
        let mut inner = self.lock();
        let key = (namespace.to_string(), name.to_string());
        let current = inner.objects.get(&gr).and_then(|m| m.get(&key)).cloned().ok_or_else(|| ApiError::not_found(&gr, name))?;
        let proposed = change(&current)?;
        check_identity(&gr, name, &current, &proposed)?;
        let mut next = merge_part(rt, part, &current, proposed);
        if part == Part::Main {
            inner.fill_defaults(rt, &mut next, Some(&current));
        }
        keep_server_metadata(rt, part, &current, &mut next);
        if part == Part::Main {
            crate::strategy::validate_update(rt, &current, &next)?;
        }
        check_finalizers(rt, name, &next)?;
        if !current["metadata"]["deletionTimestamp"].is_null() {
            check_no_new_finalizers(rt, name, &current, &next)?;
            if should_delete_during_update(&gr, &current, &next) {
                // The last finalizer is gone: the update deletes the object and
                // answers with the object as written; watches see it as last stored.
                if !opts.dry_run {
                    self.remove(&mut inner, &gr, namespace, name, None);
                }
                return Ok(next);
            }
        }
        if opts.dry_run || same_but_rv(&next, &current) {
            return Ok(if opts.dry_run { next } else { Arc::unwrap_or_clone(current) });
        }
        inner.rv += 1;
        next["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
        let stored = Arc::new(next.clone());
        inner.objects.entry(gr.clone()).or_default().insert(key, stored.clone());
        self.publish(&mut inner, EventType::Modified, &gr, namespace, stored, Some(current));
        Ok(next)
    }

    /// Deletes an object as the real registries do: at once when nothing
    /// holds it; otherwise it gets its `deletionTimestamp` and stays until
    /// its finalizers are removed (`orphan` or `foregroundDeletion` added per
    /// `opts.propagation`, for the garbage collector), a pod until its grace
    /// period is cut to 0 (its kubelet does that), a namespace until the
    /// namespace controller has emptied and finalized it. Deleting an object
    /// already being deleted answers it as it is.
    pub fn delete(&self, rt: &ResourceType, namespace: &str, name: &str, opts: &WriteOptions) -> Result<Deletion, ApiError> {
        if let Some(storage) = conversion::storage_of(rt) {
            return Ok(match self.delete(&storage, namespace, name, opts)? {
                Deletion::Gone(obj) => Deletion::Gone(conversion::out(rt, &obj).into_owned()),
                Deletion::Pending(obj) => Deletion::Pending(conversion::out(rt, &obj).into_owned()),
            });
        }
        let gr = rt.gr();
        let mut inner = self.lock();
        let key = (namespace.to_string(), name.to_string());
        let current = inner.objects.get(&gr).and_then(|m| m.get(&key)).cloned().ok_or_else(|| ApiError::not_found(&gr, name))?;
        let terminating = !current["metadata"]["deletionTimestamp"].is_null();
        let mut next = Value::clone(&current);
        let graceful_delay = if gr == namespaces() {
            if DEFAULT_NAMESPACES.contains(&name) {
                // The NamespaceLifecycle admission plugin keeps the immortal namespaces.
                let message = format!("{gr} \"{name}\" is forbidden: this namespace may not be deleted");
                return Err(ApiError::Forbidden { gr, name: name.to_string(), message });
            }
            check_preconditions(&gr, name, &current, opts)?;
            if !terminating {
                start_namespace_deletion(&mut next, opts.propagation);
                return Ok(Deletion::Pending(self.write_pending(&mut inner, &gr, namespace, &key, &current, next, opts)));
            }
            if current["spec"]["finalizers"].as_array().is_some_and(|f| !f.is_empty()) {
                return Ok(Deletion::Pending(Arc::unwrap_or_clone(current)));
            }
            None
        } else {
            check_delete_preconditions(rt, name, &current, opts)?;
            match pod_grace_period(&gr, &current, opts) {
                Grace::Pending => return Ok(Deletion::Pending(Arc::unwrap_or_clone(current))),
                Grace::Seconds(period) => Some(period),
                Grace::None => None,
            }
        };
        let finalizers = gc_finalizers(&current, opts.propagation, default_propagation(rt));
        if finalizers != finalizer_list(&current) {
            next["metadata"]["finalizers"] = json!(finalizers);
        }
        match graceful_delay {
            Some(period) if period > 0 => {
                mark_graceful(&mut next, period);
                return Ok(Deletion::Pending(self.write_pending(&mut inner, &gr, namespace, &key, &current, next, opts)));
            }
            Some(_) => mark_as_deleting(&mut next),
            None if !finalizers.is_empty() => mark_as_deleting(&mut next),
            None => {}
        }
        if !finalizers.is_empty() {
            return Ok(Deletion::Pending(self.write_pending(&mut inner, &gr, namespace, &key, &current, next, opts)));
        }
        if opts.dry_run {
            return Ok(Deletion::Gone(next));
        }
        // A pod deleted with no grace period carries its deletionTimestamp into the DELETED event.
        let last = graceful_delay.map(|_| next);
        let removed = self.remove(&mut inner, &gr, namespace, name, last).ok_or_else(|| ApiError::not_found(&gr, name))?;
        Ok(Deletion::Gone(removed))
    }

    /// Writes an object being deleted (unless dry-run or unchanged) and returns it.
    #[allow(clippy::too_many_arguments)]
    fn write_pending(&self, inner: &mut Inner, gr: &GroupResource, namespace: &str, key: &(String, String), current: &Arc<Value>, mut next: Value, opts: &WriteOptions) -> Value {
        if opts.dry_run || next == **current {
            return next;
        }
        inner.rv += 1;
        next["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
        let stored = Arc::new(next.clone());
        inner.objects.entry(gr.clone()).or_default().insert(key.clone(), stored.clone());
        self.publish(inner, EventType::Modified, gr, namespace, stored, Some(current.clone()));
        next
    }

    /// Removes every object of a kind that stops being served (a deleted
    /// CRD's), finalizers or not: nothing could finalize them any more.
    pub fn drop_resource(&self, gr: &GroupResource) {
        let mut inner = self.lock();
        let keys: Vec<(String, String)> = inner.objects.get(gr).map(|m| m.keys().cloned().collect()).unwrap_or_default();
        for (ns, name) in keys {
            self.remove(&mut inner, gr, &ns, &name, None);
        }
    }

    /// Calls `visit` with every stored object (its group-resource, namespace
    /// and the object itself), holding the store's lock: `visit` must not
    /// call back into the store. For controllers that look across kinds (the
    /// garbage collector, the namespace controller) without copying everything.
    pub fn scan(&self, visit: &mut dyn FnMut(&GroupResource, &str, &Arc<Value>)) {
        let inner = self.lock();
        for (gr, objects) in &inner.objects {
            for ((ns, _), obj) in objects {
                visit(gr, ns, obj);
            }
        }
    }

    /// Takes an object out of the store and publishes its DELETED event,
    /// carrying `last` (or the stored object) at the new resourceVersion.
    fn remove(&self, inner: &mut Inner, gr: &GroupResource, namespace: &str, name: &str, last: Option<Value>) -> Option<Value> {
        let stored = inner.objects.get_mut(gr)?.remove(&(namespace.to_string(), name.to_string()))?;
        let mut obj = last.unwrap_or_else(|| Value::clone(&stored));
        inner.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
        self.publish(inner, EventType::Deleted, gr, namespace, Arc::new(obj.clone()), Some(stored));
        Some(obj)
    }

    /// The events a new watch starts with and the live feed after them, taken
    /// atomically so nothing is missed or repeated. 410 Gone when `since` is
    /// older than the kept history.
    pub fn subscribe(
        &self,
        gr: &GroupResource,
        since: Since,
    ) -> Result<Subscription, ApiError> {
        let inner = self.lock();
        let initial = match since {
            Since::Version(v) if v < inner.compacted => {
                return Err(ApiError::Gone(format!("too old resource version: {v} ({})", inner.compacted + 1)));
            }
            Since::Version(v) => {
                // The history is in resourceVersion order: start at the first newer event.
                let from = inner.history.partition_point(|e| e.rv <= v);
                inner.history.range(from..).filter(|e| e.gr == *gr).map(Packed::unpack).collect()
            }
            Since::Now => inner.objects.get(gr).map_or_else(Vec::new, |m| {
                m.iter()
                    .map(|((ns, _), obj)| {
                        let rv = obj["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
                        Arc::new(Event { rv, kind: EventType::Added, gr: gr.clone(), namespace: ns.clone(), object: obj.clone(), previous: None })
                    })
                    .collect()
            }),
        };
        Ok((initial, self.events.subscribe()))
    }

    fn publish(&self, inner: &mut Inner, kind: EventType, gr: &GroupResource, namespace: &str, object: Arc<Value>, previous: Option<Arc<Value>>) {
        let (rv, namespace) = (inner.rv, namespace.to_string());
        let event = Arc::new(Event { rv, kind, gr: gr.clone(), namespace, object, previous });
        inner.history.push_back(Packed::of(&event));
        while inner.history.len() > self.history_limit {
            if let Some(old) = inner.history.pop_front() {
                inner.compacted = old.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(event);
    }
}

impl Inner {
    /// The kind's defaults, and a service's allocations (kept from `current` on update).
    fn fill_defaults(&mut self, rt: &ResourceType, obj: &mut Value, current: Option<&Value>) {
        defaults::apply(rt, obj);
        if rt.group.is_empty() && rt.plural == "services" {
            self.allocator.service(obj, current);
        }
    }

    /// The objects of `gr` (in `namespace`, or all) changed after `rv`, as
    /// they were at `rv` (None: created since): the first event after `rv`
    /// of each tells, so nothing else is parsed.
    fn as_of(&self, gr: &GroupResource, namespace: Option<&str>, rv: u64) -> BTreeMap<(String, String), Option<Arc<Value>>> {
        let mut then = BTreeMap::new();
        let from = self.history.partition_point(|e| e.rv <= rv);
        for e in self.history.range(from..).filter(|e| e.gr == *gr && namespace.is_none_or(|ns| ns == e.namespace)) {
            if let std::collections::btree_map::Entry::Vacant(slot) = then.entry((e.namespace.clone(), e.name.to_string())) {
                let before = match (&e.previous, e.kind) {
                    (_, EventType::Added) => None,
                    (Before::SameAt(_), _) => e.before(&parse_text(&e.object)),
                    (Before::Text(t), _) => Some(parse_text(t)),
                    (Before::None, _) => None,
                };
                slot.insert(before);
            }
        }
        then
    }

    fn contains(&self, gr: &GroupResource, namespace: &str, name: &str) -> bool {
        self.objects.get(gr).is_some_and(|m| m.contains_key(&(namespace.to_string(), name.to_string())))
    }
}

fn namespaces() -> GroupResource {
    GroupResource::new("", "namespaces")
}

/// The object's name, generated from `generateName` when asked.
fn object_name(rt: &ResourceType, obj: &mut Value) -> Result<String, ApiError> {
    if !obj.is_object() || !obj.get("metadata").is_none_or(Value::is_object) {
        return Err(ApiError::BadRequest("the object provided is not a valid object".into()));
    }
    let meta = &obj["metadata"];
    if let Some(name) = meta["name"].as_str().filter(|n| !n.is_empty()) {
        return Ok(name.to_string());
    }
    if let Some(prefix) = meta["generateName"].as_str().filter(|n| !n.is_empty()) {
        let name = format!("{prefix}{}", random_suffix());
        obj["metadata"]["name"] = json!(name);
        return Ok(name);
    }
    let cause = FieldCause { reason: "FieldValueRequired", field: "metadata.name".into(), message: "Required value: name or generateName is required".into() };
    Err(ApiError::invalid(&rt.gr(), &rt.kind, "", vec![cause]))
}

/// Five characters from the alphabet Kubernetes uses for generated names.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::thread_rng();
    (0..5).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

fn new_uid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

pub fn now_rfc3339() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

fn stamp_new(rt: &ResourceType, namespace: &str, name: &str, rv: u64, obj: &mut Value) {
    obj["apiVersion"] = json!(rt.api_version());
    obj["kind"] = json!(rt.kind);
    let meta = &mut obj["metadata"];
    if let Some(m) = meta.as_object_mut() {
        for server_owned in ["deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
            m.remove(server_owned);
        }
    }
    if rt.namespaced {
        meta["namespace"] = json!(namespace);
    }
    meta["uid"] = json!(new_uid());
    meta["resourceVersion"] = json!(rv.to_string());
    meta["creationTimestamp"] = json!(now_rfc3339());
    if rt.generation {
        meta["generation"] = json!(1);
    }
    default_by_kind(rt, name, obj);
}

/// What the real server's create strategies reset or default.
fn default_by_kind(rt: &ResourceType, name: &str, obj: &mut Value) {
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => {
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            if obj["spec"]["finalizers"].is_null() {
                obj["spec"]["finalizers"] = json!(["kubernetes"]);
            }
            obj["status"] = json!({"phase": "Active"});
        }
        ("", "pods") => obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"}),
        ("", "services") => obj["status"] = json!({"loadBalancer": {}}),
        ("", "persistentvolumeclaims" | "persistentvolumes") => obj["status"] = json!({"phase": "Pending"}),
        // The v2 status's only field without omitempty.
        ("autoscaling", "horizontalpodautoscalers") => obj["status"] = json!({"desiredReplicas": 0}),
        _ if rt.custom && rt.status => {
            obj.as_object_mut().map(|m| m.remove("status"));
        }
        _ if rt.status => obj["status"] = json!({}),
        _ => {}
    }
}

/// How a delete treats a pod's grace period.
enum Grace {
    /// Not a graceful kind, or an object whose grace period already ran out.
    None,
    /// A graceful deletion is already under way and was not shortened: nothing changes.
    Pending,
    /// Delete after this many seconds (0: now).
    Seconds(i64),
}

/// The pod strategy's grace period: the request's (negative counts as 1),
/// else `terminationGracePeriodSeconds`; 0 for a pod not yet scheduled or
/// already finished. A pod already being deleted may only have its period shortened.
fn pod_grace_period(gr: &GroupResource, pod: &Value, opts: &WriteOptions) -> Grace {
    if !(gr.group.is_empty() && gr.resource == "pods") {
        return Grace::None;
    }
    let asked = opts.grace_period.map(|g| if g < 0 { 1 } else { g });
    let meta = &pod["metadata"];
    if !meta["deletionTimestamp"].is_null() {
        return match meta["deletionGracePeriodSeconds"].as_i64().filter(|g| *g > 0) {
            None => Grace::None,
            Some(running) => match asked {
                Some(shorter) if shorter < running => Grace::Seconds(shorter),
                _ => Grace::Pending,
            },
        };
    }
    let unscheduled = pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty);
    let finished = matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
    if unscheduled || finished {
        return Grace::Seconds(0);
    }
    Grace::Seconds(asked.or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_i64()).unwrap_or(0))
}

fn finalizer_list(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"].as_array().map(|f| f.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default()
}

/// The policy a kind's registry applies when a delete names none and the
/// object carries no collector finalizer: batch/v1 Jobs orphan their pods
/// (kept for compatibility), every other kind served here deletes its
/// dependents in the background.
pub fn default_propagation(rt: &ResourceType) -> Propagation {
    if rt.group == "batch" && rt.version == "v1" && rt.plural == "jobs" {
        Propagation::Orphan
    } else {
        Propagation::Background
    }
}

/// The finalizers an object gets on delete: `orphan` or `foregroundDeletion`
/// as the propagation policy asks (without one, as the object already
/// carries), the others kept; unchanged when the set is the same.
fn gc_finalizers(obj: &Value, propagation: Option<Propagation>, default: Propagation) -> Vec<String> {
    let existing = finalizer_list(obj);
    let from_object = existing.iter().find_map(|f| match f.as_str() {
        ORPHAN_FINALIZER => Some(Propagation::Orphan),
        FOREGROUND_FINALIZER => Some(Propagation::Foreground),
        _ => None,
    });
    let policy = propagation.or(from_object).unwrap_or(default);
    let mut next: Vec<String> = existing.iter().filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER).cloned().collect();
    match policy {
        Propagation::Orphan => next.push(ORPHAN_FINALIZER.to_string()),
        Propagation::Foreground => next.push(FOREGROUND_FINALIZER.to_string()),
        Propagation::Background => {}
    }
    let same = next.len() == existing.len() && next.iter().all(|f| existing.contains(f));
    if same {
        existing
    } else {
        next
    }
}

/// An object held by finalizers: deletionTimestamp now (or kept if not
/// later than now), no grace period, and a generation bump the first time.
fn mark_as_deleting(obj: &mut Value) {
    let now = now_rfc3339();
    let meta = &mut obj["metadata"];
    match meta["deletionTimestamp"].as_str() {
        Some(existing) if existing <= now.as_str() => {}
        Some(_) => meta["deletionTimestamp"] = json!(now),
        None => {
            if let Some(g) = meta["generation"].as_i64().filter(|g| *g > 0) {
                meta["generation"] = json!(g + 1);
            }
            meta["deletionTimestamp"] = json!(now);
        }
    }
    meta["deletionGracePeriodSeconds"] = json!(0);
}

/// A pod deleted gracefully: it is due `period` seconds from now (or sooner
/// when it already was), and its generation moves the first time.
fn mark_graceful(obj: &mut Value, period: i64) {
    let due = rfc3339_in(period);
    let meta = &mut obj["metadata"];
    match meta["deletionTimestamp"].as_str() {
        Some(existing) if existing <= due.as_str() => {}
        Some(_) => meta["deletionTimestamp"] = json!(due),
        None => {
            if let Some(g) = meta["generation"].as_i64().filter(|g| *g > 0) {
                meta["generation"] = json!(g + 1);
            }
            meta["deletionTimestamp"] = json!(due);
        }
    }
    meta["deletionGracePeriodSeconds"] = json!(period);
}

fn rfc3339_in(seconds: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds)).format(&format).unwrap_or_default()
}

/// The first delete of a namespace: Terminating, with its deletionTimestamp,
/// and the `orphan`/`foregroundDeletion` finalizers as the options ask.
fn start_namespace_deletion(ns: &mut Value, propagation: Option<Propagation>) {
    let existing = finalizer_list(ns);
    let wants = |finalizer: &str, policy: Propagation| match propagation {
        Some(p) => p == policy,
        None => existing.iter().any(|f| f == finalizer),
    };
    let (orphan, foreground) = (wants(ORPHAN_FINALIZER, Propagation::Orphan), wants(FOREGROUND_FINALIZER, Propagation::Foreground));
    let mut next: Vec<String> = existing.iter().filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER).cloned().collect();
    if orphan {
        next.push(ORPHAN_FINALIZER.to_string());
    }
    if foreground {
        next.push(FOREGROUND_FINALIZER.to_string());
    }
    if next.len() != existing.len() || !next.iter().all(|f| existing.contains(f)) {
        ns["metadata"]["finalizers"] = json!(next);
    }
    ns["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
    ns["status"]["phase"] = json!("Terminating");
}

/// The registry's BeforeDelete checks: the preconditions, worded as the real
/// server words them (the group and *kind* qualify the name).
fn check_delete_preconditions(rt: &ResourceType, name: &str, current: &Value, opts: &WriteOptions) -> Result<(), ApiError> {
    let meta = &current["metadata"];
    let gr = GroupResource::new(&rt.group, &rt.kind);
    if let Some(uid) = opts.uid.as_deref().filter(|u| Some(*u) != meta["uid"].as_str()) {
        let reason = format!(
            "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might have been deleted and then recreated",
            meta["uid"].as_str().unwrap_or("")
        );
        return Err(ApiError::Conflict { gr, name: name.to_string(), reason });
    }
    if let Some(rv) = opts.resource_version.as_deref().filter(|v| Some(*v) != meta["resourceVersion"].as_str()) {
        let reason = format!(
            "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({}). The object might have been modified",
            meta["resourceVersion"].as_str().unwrap_or("")
        );
        return Err(ApiError::Conflict { gr, name: name.to_string(), reason });
    }
    Ok(())
}

/// ObjectMeta validation of `metadata.finalizers`: each a qualified name
/// (an optional DNS subdomain prefix and `/`, then a name of at most 63
/// alphanumerics, `-`, `_` or `.`), and never both `orphan` and
/// `foregroundDeletion`; worded as the real validation words it.
fn check_finalizers(rt: &ResourceType, name: &str, obj: &Value) -> Result<(), ApiError> {
    let finalizers = finalizer_list(obj);
    let field = "metadata.finalizers";
    let invalid = |value: String, detail: String| FieldCause { reason: "FieldValueInvalid", field: field.into(), message: format!("Invalid value: {value}: {detail}") };
    let mut causes: Vec<FieldCause> =
        finalizers.iter().flat_map(|f| qualified_name_errors(f).into_iter().map(move |detail| invalid(format!("{f:?}"), detail))).collect();
    if finalizers.iter().any(|f| f == ORPHAN_FINALIZER) && finalizers.iter().any(|f| f == FOREGROUND_FINALIZER) {
        let listed: Vec<String> = finalizers.iter().map(|f| format!("{f:?}")).collect();
        causes.push(invalid(
            format!("[]string{{{}}}", listed.join(", ")),
            format!("finalizer {ORPHAN_FINALIZER} and {FOREGROUND_FINALIZER} cannot be both set"),
        ));
    }
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(&rt.gr(), &rt.kind, name, causes))
}

/// apimachinery's IsQualifiedName, messages included.
fn qualified_name_errors(value: &str) -> Vec<String> {
    const NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
    const NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
    const DNS_FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
    const DNS_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    let examples = "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '";
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            let label_ok = |l: &str| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') && !l.starts_with('-') && !l.ends_with('-')
            };
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                if prefix.len() > 253 {
                    errors.push("prefix part must be no more than 253 characters".to_string());
                }
                if !prefix.split('.').all(label_ok) {
                    errors.push(format!("prefix part {DNS_MSG} (e.g. 'example.com', regex used for validation is '{DNS_FMT}')"));
                }
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {NAME_MSG} {examples}{NAME_FMT}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )]
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errors.push("name part must be no more than 63 characters".to_string());
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let name_ok = edge_ok(name.chars().next()) && edge_ok(name.chars().last()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !name_ok {
        errors.push(format!("name part {NAME_MSG} {examples}{NAME_FMT}')"));
    }
    errors
}

/// An object being deleted may lose finalizers but not gain any.
fn check_no_new_finalizers(rt: &ResourceType, name: &str, current: &Value, next: &Value) -> Result<(), ApiError> {
    let old = finalizer_list(current);
    let mut added: Vec<String> = finalizer_list(next).into_iter().filter(|f| !old.contains(f)).collect();
    if added.is_empty() {
        return Ok(());
    }
    added.sort();
    added.dedup();
    let listed: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
    let cause = FieldCause {
        reason: "FieldValueForbidden",
        field: "metadata.finalizers".into(),
        message: format!("Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}", listed.join(", ")),
    };
    Err(ApiError::invalid(&rt.gr(), &rt.kind, name, vec![cause]))
}

/// Whether an update of an object being deleted removed what held it: no
/// finalizers left (a namespace: no spec finalizers either) and no grace period running.
fn should_delete_during_update(gr: &GroupResource, current: &Value, next: &Value) -> bool {
    if !finalizer_list(next).is_empty() {
        return false;
    }
    if *gr == namespaces() && next["spec"]["finalizers"].as_array().is_some_and(|f| !f.is_empty()) {
        return false;
    }
    current["metadata"]["deletionGracePeriodSeconds"].as_i64().is_none_or(|g| g == 0)
}

/// DeleteOptions preconditions, worded as the real server words them.
fn check_preconditions(gr: &GroupResource, name: &str, current: &Value, opts: &WriteOptions) -> Result<(), ApiError> {
    let meta = &current["metadata"];
    let checks = [("UID", opts.uid.as_deref(), meta["uid"].as_str()), ("ResourceVersion", opts.resource_version.as_deref(), meta["resourceVersion"].as_str())];
    for (what, wanted, actual) in checks {
        if let Some(wanted) = wanted.filter(|w| Some(*w) != actual) {
            return Err(ApiError::Conflict {
                gr: gr.clone(),
                name: name.to_string(),
                reason: format!("Precondition failed: {what} in precondition: {wanted}, {what} in object meta: {}", actual.unwrap_or("")),
            });
        }
    }
    Ok(())
}

/// A replacement may not rename or move an object.
fn check_identity(gr: &GroupResource, name: &str, current: &Value, proposed: &Value) -> Result<(), ApiError> {
    if !proposed.is_object() {
        return Err(ApiError::BadRequest("the object provided is not a valid object".into()));
    }
    if let Some(given) = proposed["metadata"]["name"].as_str().filter(|n| *n != name) {
        return Err(ApiError::BadRequest(format!("the name of the object ({given}) does not match the name on the URL ({name})")));
    }
    let given_rv = proposed["metadata"]["resourceVersion"].as_str().filter(|rv| !rv.is_empty());
    if given_rv.is_some_and(|rv| Some(rv) != current["metadata"]["resourceVersion"].as_str()) {
        return Err(ApiError::Conflict {
            gr: gr.clone(),
            name: name.to_string(),
            reason: "the object has been modified; please apply your changes to the latest version and try again".into(),
        });
    }
    Ok(())
}

fn merge_part(rt: &ResourceType, part: Part, current: &Value, mut proposed: Value) -> Value {
    match part {
        Part::Status => {
            let status = proposed.as_object_mut().and_then(|m| m.remove("status")).unwrap_or(Value::Null);
            // A writer that copied the object to change its status (controllers do) hands
            // the rest back unchanged: keep that copy rather than make another.
            let mut next = if eq_except(&proposed, current, &["status"]) { proposed } else { current.clone() };
            next["status"] = status;
            next
        }
        Part::Main if rt.status => {
            match current.get("status") {
                Some(status) => proposed["status"] = status.clone(),
                None => {
                    if let Some(m) = proposed.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            proposed
        }
        Part::Main => proposed,
    }
}

fn keep_server_metadata(rt: &ResourceType, part: Part, current: &Value, next: &mut Value) {
    next["apiVersion"] = json!(rt.api_version());
    next["kind"] = json!(rt.kind);
    for field in ["name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"] {
        match current["metadata"].get(field) {
            Some(v) => next["metadata"][field] = v.clone(),
            None => {
                if let Some(m) = next["metadata"].as_object_mut() {
                    m.remove(field);
                }
            }
        }
    }
    // Everything but metadata and status is what bumps `generation`.
    if rt.generation && part == Part::Main && !eq_except(current, next, &["metadata", "status"]) {
        let generation = current["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        next["metadata"]["generation"] = json!(generation);
    }
}

/// Whether two objects differ in nothing but `metadata.resourceVersion` (compared in place, nothing copied).
fn same_but_rv(a: &Value, b: &Value) -> bool {
    eq_except(a, b, &["metadata"]) && eq_except(&a["metadata"], &b["metadata"], &["resourceVersion"])
}

/// Whether two objects are equal but for the top-level fields in `skip` (compared in place).
fn eq_except(a: &Value, b: &Value, skip: &[&str]) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let kept = |m: &'_ serde_json::Map<String, Value>| m.iter().filter(|(k, _)| !skip.contains(&k.as_str())).count();
            kept(a) == kept(b) && a.iter().filter(|(k, _)| !skip.contains(&k.as_str())).all(|(k, v)| b.get(k) == Some(v))
        }
        _ => a == b,
    }
}

/// How a list reads the store.
#[derive(Debug, Clone)]
pub struct ListOptions<'a> {
    /// At most this many items (0 or None: all).
    pub limit: Option<usize>,
    pub at: ReadAt<'a>,
    /// A label or field selector filters the list: no remainingItemCount.
    pub filtered: bool,
}

/// Which state of the collection a list reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAt<'a> {
    /// The latest (no resourceVersion, or "0").
    Latest,
    /// `resourceVersionMatch=NotOlderThan`: the latest, if at least this new.
    NotOlderThan(u64),
    /// `resourceVersionMatch=Exact` (and a paged list's legacy resourceVersion).
    Exact(u64),
    /// A continue token: the rest of a paged list, as it was at its first page.
    Continue(&'a str),
}

/// Where the next page of a list starts, in the real server's format:
/// base64url (unpadded) JSON `{"v":"meta.k8s.io/v1","rv":N,"start":"KEY\u0000"}`,
/// KEY the etcd key after the list's prefix (`NAME` in a namespace or for a
/// cluster-scoped kind, `NAMESPACE/NAME` across namespaces); rv -1 (in the
/// token of a 410 Expired) continues at the latest version.
#[derive(Debug, Clone)]
struct ContinueToken {
    rv: i64,
    key: (String, String),
    /// The key itself is the first one read (it has no trailing NUL).
    inclusive: bool,
    /// The list was of one namespace: the key is the name alone.
    in_namespace: bool,
}

impl ContinueToken {
    fn encode(&self) -> String {
        let (ns, name) = &self.key;
        let mut start = if self.in_namespace || ns.is_empty() { name.clone() } else { format!("{ns}/{name}") };
        if !self.inclusive {
            start.push('\0');
        }
        let start = serde_json::to_string(&start).unwrap_or_default();
        let doc = format!("{{\"v\":\"meta.k8s.io/v1\",\"rv\":{},\"start\":{start}}}", self.rv);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(doc)
    }

    fn decode(token: &str, namespace: Option<&str>) -> Result<ContinueToken, ApiError> {
        let bad = |why: String| ApiError::BadRequest(format!("invalid continue token: {why}"));
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|e| bad(format!("continue key is not valid: {e}")))?;
        let doc: Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("continue key is not valid: {e}")))?;
        match doc["v"].as_str() {
            Some("meta.k8s.io/v1") => {}
            other => return Err(bad(format!("server does not recognize this encoded version {:?}", other.unwrap_or("")))),
        }
        let rv = doc["rv"].as_i64().unwrap_or(0);
        if rv == 0 {
            return Err(bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into()));
        }
        let start = doc["start"].as_str().unwrap_or("");
        if start.is_empty() {
            return Err(bad("encoded start key empty (version meta.k8s.io/v1)".into()));
        }
        let (key, inclusive) = match start.strip_suffix('\0') {
            Some(key) => (key, false),
            None => (start, true),
        };
        // As path.Clean would leave it: no climbing out of the list's prefix.
        let parts: Vec<&str> = key.trim_start_matches('/').split('/').collect();
        if key.contains('\0') || parts.iter().any(|p| p.is_empty() || *p == "." || *p == "..") || parts.len() > 2 {
            return Err(bad(format!("continue key is not valid: {start}")));
        }
        let key = match (namespace, parts.as_slice()) {
            (Some(ns), [name]) => (ns.to_string(), name.to_string()),
            (None, [name]) => (String::new(), name.to_string()),
            (None, [ns, name]) => (ns.to_string(), name.to_string()),
            _ => return Err(bad(format!("continue key is not valid: {start}"))),
        };
        Ok(ContinueToken { rv, key, inclusive, in_namespace: namespace.is_some() })
    }
}

/// Two iterators of `(key, value)` in key order, merged in key order.
struct Merge<A: Iterator, B: Iterator> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
}

impl<'a, A, B> Iterator for Merge<A, B>
where
    A: Iterator<Item = (&'a (String, String), &'a Arc<Value>)>,
    B: Iterator<Item = (&'a (String, String), &'a Arc<Value>)>,
{
    type Item = (&'a (String, String), &'a Arc<Value>);

    fn next(&mut self) -> Option<Self::Item> {
        match (self.a.peek(), self.b.peek()) {
            (Some((ka, _)), Some((kb, _))) if kb < ka => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    const W: WriteOptions = WriteOptions { dry_run: false, uid: None, resource_version: None, propagation: None, grace_period: None };

    fn rt(group: &str, plural: &str) -> ResourceType {
        Registry::default().find(group, "v1", plural).unwrap()
    }

    fn store(history: usize) -> Store {
        Store::new(history, &rt("", "namespaces"))
    }

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
    }

    #[test]
    fn default_namespaces_exist_and_versions_increase() {
        let s = store(100);
        for ns in DEFAULT_NAMESPACES {
            let obj = s.get(&namespaces(), "", ns).unwrap();
            assert_eq!(obj["status"]["phase"], "Active");
        }
        let a = s.create(&rt("", "configmaps"), "default", cm("a"), &W).unwrap();
        let b = s.create(&rt("", "configmaps"), "default", cm("b"), &W).unwrap();
        let (ra, rb): (u64, u64) = (a["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap(), b["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap());
        assert!(rb > ra);
        assert_eq!(a["metadata"]["uid"].as_str().unwrap().len(), 36);
    }

    #[test]
    fn create_in_a_missing_namespace_is_namespace_not_found() {
        let err = store(100).create(&rt("", "configmaps"), "nope", cm("a"), &W).unwrap_err();
        assert_eq!(err.to_string(), "namespaces \"nope\" not found");
    }

    #[test]
    fn duplicate_create_is_already_exists_and_generate_name_fills_a_suffix() {
        let s = store(100);
        s.create(&rt("", "configmaps"), "default", cm("a"), &W).unwrap();
        assert_eq!(s.create(&rt("", "configmaps"), "default", cm("a"), &W).unwrap_err().code(), 409);
        let gen = json!({"metadata": {"generateName": "web-"}});
        let made = s.create(&rt("", "configmaps"), "default", gen, &W).unwrap();
        assert_eq!(made["metadata"]["name"].as_str().unwrap().len(), "web-".len() + 5);
    }

    #[test]
    fn stale_resource_version_conflicts_and_spec_changes_bump_generation() {
        let s = store(100);
        let d = rt("apps", "deployments");
        let obj = json!({"metadata": {"name": "web"}, "spec": {"replicas": 1}, "status": {"replicas": 9}});
        let created = s.create(&d, "default", obj, &W).unwrap();
        assert_eq!(created["status"], json!({}), "status is reset on create");
        let mut next = created.clone();
        next["spec"]["replicas"] = json!(2);
        next["status"]["replicas"] = json!(5);
        let updated = s.modify(&d, "default", "web", Part::Main, &W, |_| Ok(next.clone())).unwrap();
        assert_eq!(updated["metadata"]["generation"], 2);
        assert_eq!(updated["status"], json!({}), "the main resource does not write status");
        let err = s.modify(&d, "default", "web", Part::Main, &W, |_| Ok(next.clone())).unwrap_err();
        assert_eq!(err.code(), 409);
        let mut status = updated.clone();
        status["status"]["replicas"] = json!(2);
        let after = s.modify(&d, "default", "web", Part::Status, &W, |_| Ok(status.clone())).unwrap();
        assert_eq!(after["status"]["replicas"], 2);
        assert_eq!(after["metadata"]["generation"], 2, "status changes keep generation");
    }

    #[test]
    fn list_pages_with_continue_tokens() {
        let s = store(100);
        for n in ["a", "b", "c"] {
            s.create(&rt("", "configmaps"), "default", cm(n), &W).unwrap();
        }
        let gr = GroupResource::new("", "configmaps");
        let first = s.list(&gr, Some("default"), &|_| true, Some(2), None).unwrap();
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.remaining, Some(1));
        let token = first.continue_token.unwrap();
        let second = s.list(&gr, Some("default"), &|_| true, Some(2), Some(&token)).unwrap();
        assert_eq!(second.items[0]["metadata"]["name"], "c");
        assert!(second.continue_token.is_none());
        assert_eq!(second.resource_version, first.resource_version);
        assert_eq!(s.list(&gr, None, &|_| true, None, Some("garbage")).unwrap_err().code(), 400);
    }

    #[test]
    fn an_autoscaling_v1_status_write_reaches_the_v2_storage_and_answers_in_v1() {
        let s = store(100);
        let (v1, gr) = (rt("autoscaling", "horizontalpodautoscalers"), GroupResource::new("autoscaling", "horizontalpodautoscalers"));
        let hpa = json!({"metadata": {"name": "web"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3}});
        let created = s.create(&v1, "default", hpa, &W).unwrap();
        assert_eq!(created["apiVersion"], "autoscaling/v1");
        assert_eq!(created["status"], json!({"currentReplicas": 0, "desiredReplicas": 0}));
        let seen = |current: &Value| {
            assert_eq!(current["apiVersion"], "autoscaling/v1", "the change sees the version it writes");
            let mut next = current.clone();
            next["status"] = json!({"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 91});
            Ok(next)
        };
        let written = s.modify(&v1, "default", "web", Part::Status, &W, seen).unwrap();
        assert_eq!(written["status"]["currentCPUUtilizationPercentage"], 91);
        let stored = s.get(&gr, "default", "web").unwrap();
        assert_eq!(stored["apiVersion"], "autoscaling/v2");
        assert_eq!(stored["status"]["currentMetrics"], json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 91}}}]));
        assert_eq!(stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 80, "v1's implied target");
        let Deletion::Gone(gone) = s.delete(&v1, "default", "web", &W).unwrap() else { panic!("nothing holds it") };
        assert_eq!(gone["apiVersion"], "autoscaling/v1");
    }

    #[test]
    fn a_continue_token_older_than_the_history_is_expired() {
        let s = store(2);
        for n in ["a", "b"] {
            s.create(&rt("", "configmaps"), "default", cm(n), &W).unwrap();
        }
        let gr = GroupResource::new("", "configmaps");
        let token = s.list(&gr, None, &|_| true, Some(1), None).unwrap().continue_token.unwrap();
        for n in ["c", "d", "e"] {
            s.create(&rt("", "configmaps"), "default", cm(n), &W).unwrap();
        }
        let err = s.list(&gr, None, &|_| true, Some(1), Some(&token)).unwrap_err();
        assert_eq!((err.code(), err.to_status()["reason"].clone()), (410, json!("Expired")));
    }

    #[test]
    fn watch_replays_history_and_answers_gone_when_too_old() {
        let s = store(2);
        let gr = GroupResource::new("", "configmaps");
        let start = s.resource_version();
        for n in ["a", "b", "c"] {
            s.create(&rt("", "configmaps"), "default", cm(n), &W).unwrap();
        }
        assert_eq!(s.subscribe(&gr, Since::Version(start)).unwrap_err().code(), 410);
        let (events, _) = s.subscribe(&gr, Since::Version(start + 1)).unwrap();
        let names: Vec<_> = events.iter().map(|e| e.object["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["b", "c"]);
        let (now, _) = s.subscribe(&gr, Since::Now).unwrap();
        assert_eq!(now.len(), 3);
    }

    #[test]
    fn replayed_history_carries_each_object_and_its_previous_version() {
        let s = store(100);
        let cms = rt("", "configmaps");
        let gr = GroupResource::new("", "configmaps");
        let start = s.resource_version();
        s.create(&cms, "default", cm("a"), &W).unwrap();
        let rv = s.resource_version();
        s.modify(&cms, "default", "a", Part::Main, &W, |c| Ok(c.clone())).unwrap();
        assert_eq!(s.resource_version(), rv, "a write that changes nothing publishes nothing");
        let changed = s
            .modify(&cms, "default", "a", Part::Main, &W, |c| {
                let mut next = c.clone();
                next["data"]["k"] = json!("w");
                Ok(next)
            })
            .unwrap();
        let (events, _) = s.subscribe(&gr, Since::Version(start)).unwrap();
        let kinds: Vec<EventType> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventType::Added, EventType::Modified]);
        assert_eq!(*events[1].object, changed);
        assert_eq!(events[1].previous.as_ref().map(|p| p["data"]["k"].clone()), Some(json!("v")));
        assert_eq!(*s.get_shared(&gr, "default", "a").unwrap(), changed);
        let (from_rv, _) = s.subscribe(&gr, Since::Version(rv)).unwrap();
        assert_eq!(from_rv.len(), 1, "only the events after the version");
    }

    #[test]
    fn dry_runs_change_nothing_and_delete_preconditions_conflict() {
        let s = store(100);
        let cms = rt("", "configmaps");
        let gr = GroupResource::new("", "configmaps");
        let dry = WriteOptions { dry_run: true, ..W };
        let made = s.create(&cms, "default", cm("a"), &dry).unwrap();
        assert!(made["metadata"]["uid"].is_string() && made["metadata"].get("resourceVersion").is_none());
        assert_eq!(s.get(&gr, "default", "a").unwrap_err().code(), 404);
        let real = s.create(&cms, "default", cm("a"), &W).unwrap();
        let rv = s.resource_version();
        s.modify(&cms, "default", "a", Part::Main, &dry, |c| Ok(c.clone())).unwrap();
        s.delete(&cms, "default", "a", &dry).unwrap();
        assert_eq!(s.resource_version(), rv);
        let stale = WriteOptions { uid: Some("other".into()), ..W };
        let err = s.delete(&cms, "default", "a", &stale).unwrap_err();
        assert!(err.to_string().starts_with("Operation cannot be fulfilled on ConfigMap \"a\": the UID in the precondition (other) does not match the UID in record ("), "{err}");
        let right = WriteOptions { uid: real["metadata"]["uid"].as_str().map(String::from), ..W };
        s.delete(&cms, "default", "a", &right).unwrap();
    }

    fn events_since(s: &Store, gr: &GroupResource, rv: u64) -> Vec<(EventType, Value)> {
        s.subscribe(gr, Since::Version(rv)).unwrap().0.iter().map(|e| (e.kind, Value::clone(&e.object))).collect()
    }

    #[test]
    fn finalizers_hold_a_deleted_object_until_an_update_removes_the_last() {
        let s = store(100);
        let (cms, gr) = (rt("", "configmaps"), GroupResource::new("", "configmaps"));
        let mut obj = cm("held");
        obj["metadata"]["finalizers"] = json!(["example.com/block"]);
        s.create(&cms, "default", obj, &W).unwrap();
        let rv = s.resource_version();
        let Deletion::Pending(held) = s.delete(&cms, "default", "held", &W).unwrap() else { panic!("finalizers hold it") };
        assert!(held["metadata"]["deletionTimestamp"].is_string());
        assert_eq!(held["metadata"]["deletionGracePeriodSeconds"], 0);
        assert_eq!(s.delete(&cms, "default", "held", &W).unwrap(), Deletion::Pending(held.clone()), "deleting again is a no-op");
        let add = |c: &Value| {
            let mut n = c.clone();
            n["metadata"]["finalizers"] = json!(["example.com/block", "example.com/more"]);
            Ok(n)
        };
        let err = s.modify(&cms, "default", "held", Part::Main, &W, add).unwrap_err();
        assert_eq!(err.code(), 422);
        assert_eq!(
            err.to_string(),
            "ConfigMap \"held\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/more\"}"
        );
        let other = |c: &Value| {
            let mut n = c.clone();
            n["data"]["k"] = json!("changed");
            Ok(n)
        };
        s.modify(&cms, "default", "held", Part::Main, &W, other).unwrap();
        let release = |c: &Value| {
            let mut n = c.clone();
            n["metadata"]["finalizers"] = json!([]);
            Ok(n)
        };
        let answered = s.modify(&cms, "default", "held", Part::Main, &W, release).unwrap();
        assert_eq!(answered["metadata"]["finalizers"], json!([]), "the update answers the object as written");
        assert_eq!(s.get(&gr, "default", "held").unwrap_err().code(), 404);
        let kinds: Vec<EventType> = events_since(&s, &gr, rv).into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, [EventType::Modified, EventType::Modified, EventType::Deleted]);
        let (_, last) = events_since(&s, &gr, rv).pop().unwrap();
        assert_eq!(last["metadata"]["finalizers"], json!(["example.com/block"]), "DELETED carries the object as last stored");
    }

    #[test]
    fn finalizers_must_be_qualified_names_and_not_both_collector_policies() {
        let s = store(100);
        let cms = rt("", "configmaps");
        let with = |name: &str, finalizers: Value| {
            let mut obj = cm(name);
            obj["metadata"]["finalizers"] = finalizers;
            obj
        };
        for good in ["kubernetes", "example.com/block", "a.b-c/Name_1.x"] {
            s.create(&cms, "default", with(good.replace(['/', '.', '_'], "-").to_lowercase().as_str(), json!([good])), &W).unwrap();
        }
        let err = s.create(&cms, "default", with("bad", json!(["has space"])), &W).unwrap_err();
        assert_eq!(err.code(), 422);
        assert_eq!(
            err.to_string(),
            "ConfigMap \"bad\" is invalid: metadata.finalizers: Invalid value: \"has space\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        let prefix = s.create(&cms, "default", with("bad", json!(["Example.com/x"])), &W).unwrap_err();
        assert!(prefix.to_string().contains("Invalid value: \"Example.com/x\": prefix part a lowercase RFC 1123 subdomain"), "{prefix}");
        let both = s.create(&cms, "default", with("bad", json!(["orphan", "foregroundDeletion"])), &W).unwrap_err();
        assert!(
            both.to_string().ends_with("metadata.finalizers: Invalid value: []string{\"orphan\", \"foregroundDeletion\"}: finalizer orphan and foregroundDeletion cannot be both set"),
            "{both}"
        );
    }

    #[test]
    fn propagation_policies_set_the_collector_finalizers() {
        let s = store(100);
        let d = rt("apps", "deployments");
        s.create(&d, "default", json!({"metadata": {"name": "web"}, "spec": {"replicas": 1}}), &W).unwrap();
        let foreground = WriteOptions { propagation: Some(Propagation::Foreground), ..W };
        let Deletion::Pending(web) = s.delete(&d, "default", "web", &foreground).unwrap() else { panic!("foreground waits") };
        assert_eq!(web["metadata"]["finalizers"], json!(["foregroundDeletion"]));
        assert_eq!(web["metadata"]["generation"], 2, "the generation moves when deletion starts");
        let orphan = WriteOptions { propagation: Some(Propagation::Orphan), ..W };
        let Deletion::Pending(web) = s.delete(&d, "default", "web", &orphan).unwrap() else { panic!("orphan waits") };
        assert_eq!(web["metadata"]["finalizers"], json!(["orphan"]), "a later delete may change the policy");
        assert_eq!(web["metadata"]["generation"], 2);
        let unchanged = s.delete(&d, "default", "web", &W).unwrap();
        assert_eq!(unchanged.object()["metadata"]["finalizers"], json!(["orphan"]), "without a policy the object's finalizer stands");
        let background = WriteOptions { propagation: Some(Propagation::Background), ..W };
        assert!(s.delete(&d, "default", "web", &background).unwrap().is_gone(), "background drops the collector finalizer: nothing holds it");
        s.create(&d, "default", json!({"metadata": {"name": "api"}}), &W).unwrap();
        assert!(s.delete(&d, "default", "api", &W).unwrap().is_gone());
        let jobs = rt("batch", "jobs");
        s.create(&jobs, "default", json!({"metadata": {"name": "once"}}), &W).unwrap();
        let Deletion::Pending(job) = s.delete(&jobs, "default", "once", &W).unwrap() else { panic!("a batch/v1 job orphans by default") };
        assert_eq!(job["metadata"]["finalizers"], json!(["orphan"]));
        let dry = WriteOptions { dry_run: true, propagation: Some(Propagation::Foreground), ..W };
        s.create(&d, "default", json!({"metadata": {"name": "dry"}}), &W).unwrap();
        let rv = s.resource_version();
        assert!(matches!(s.delete(&d, "default", "dry", &dry).unwrap(), Deletion::Pending(_)));
        assert_eq!(s.resource_version(), rv, "a dry run writes nothing");
    }

    #[test]
    fn scheduled_pods_are_deleted_gracefully_and_unscheduled_ones_at_once() {
        let s = store(100);
        let (pods, gr) = (rt("", "pods"), GroupResource::new("", "pods"));
        let pod = |name: &str, node: &str| json!({"metadata": {"name": name}, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]}});
        s.create(&pods, "default", pod("a", "sim-node-1"), &W).unwrap();
        let Deletion::Pending(a) = s.delete(&pods, "default", "a", &W).unwrap() else { panic!("a running pod terminates first") };
        assert_eq!(a["metadata"]["deletionGracePeriodSeconds"], 30, "terminationGracePeriodSeconds");
        let longer = WriteOptions { grace_period: Some(60), ..W };
        assert_eq!(s.delete(&pods, "default", "a", &longer).unwrap(), Deletion::Pending(a.clone()), "the period may only shrink");
        let shorter = WriteOptions { grace_period: Some(5), ..W };
        let Deletion::Pending(a) = s.delete(&pods, "default", "a", &shorter).unwrap() else { panic!() };
        assert_eq!(a["metadata"]["deletionGracePeriodSeconds"], 5);
        let now = WriteOptions { grace_period: Some(0), ..W };
        let Deletion::Gone(gone) = s.delete(&pods, "default", "a", &now).unwrap() else { panic!("grace 0 removes it") };
        assert_eq!(gone["metadata"]["deletionGracePeriodSeconds"], 0);
        assert_eq!(s.get(&gr, "default", "a").unwrap_err().code(), 404);
        s.create(&pods, "default", pod("b", ""), &W).unwrap();
        assert!(s.delete(&pods, "default", "b", &W).unwrap().is_gone(), "a pod never scheduled goes at once");

        let mut held = pod("c", "sim-node-1");
        held["metadata"]["finalizers"] = json!(["example.com/hold"]);
        s.create(&pods, "default", held, &W).unwrap();
        let Deletion::Pending(c) = s.delete(&pods, "default", "c", &W).unwrap() else { panic!() };
        assert!(c["metadata"]["deletionTimestamp"].as_str().unwrap() > now_rfc3339().as_str(), "due after its grace period");
        let Deletion::Pending(c) = s.delete(&pods, "default", "c", &now).unwrap() else { panic!("its finalizer still holds it") };
        assert_eq!(c["metadata"]["deletionGracePeriodSeconds"], 0);
        assert!(c["metadata"]["deletionTimestamp"].as_str().unwrap() <= now_rfc3339().as_str(), "due now");
        let release = |cur: &Value| {
            let mut n = cur.clone();
            n["metadata"]["finalizers"] = Value::Null;
            Ok(n)
        };
        s.modify(&pods, "default", "c", Part::Main, &W, release).unwrap();
        assert_eq!(s.get(&gr, "default", "c").unwrap_err().code(), 404, "released with no grace period left, it goes");
    }

    #[test]
    fn deleting_a_namespace_makes_it_terminating_and_closed_to_new_content() {
        let s = store(100);
        let ns = rt("", "namespaces");
        s.create(&ns, "", json!({"metadata": {"name": "team"}}), &W).unwrap();
        s.create(&rt("", "configmaps"), "team", cm("a"), &W).unwrap();
        let Deletion::Pending(team) = s.delete(&ns, "", "team", &W).unwrap() else { panic!("a namespace waits for its controller") };
        assert_eq!(team["status"]["phase"], "Terminating");
        assert!(team["metadata"]["deletionTimestamp"].is_string());
        assert_eq!(s.delete(&ns, "", "team", &W).unwrap(), Deletion::Pending(team.clone()), "deleting again changes nothing");
        let immortal = s.delete(&ns, "", "kube-system", &W).unwrap_err();
        assert_eq!((immortal.code(), immortal.to_string()), (403, "namespaces \"kube-system\" is forbidden: this namespace may not be deleted".to_string()));
        let err = s.create(&rt("", "configmaps"), "team", cm("b"), &W).unwrap_err();
        assert_eq!(err.to_string(), "configmaps \"b\" is forbidden: unable to create new content in namespace team because it is being terminated");
        s.delete(&rt("", "configmaps"), "team", "a", &W).unwrap();
        let finalize = |c: &Value| {
            let mut n = c.clone();
            n["spec"]["finalizers"] = json!([]);
            Ok(n)
        };
        s.modify(&ns, "", "team", Part::Main, &W, finalize).unwrap();
        assert_eq!(s.get(&namespaces(), "", "team").unwrap_err().code(), 404, "finalized, the namespace goes");
    }
}
