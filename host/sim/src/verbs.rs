//! The verbs on a resource target, with the real API server's semantics:
//! get, list (label/field selectors, limit/continue), create (201, generateName,
//! namespace checks), update (optimistic concurrency), patch (JSON merge,
//! JSON patch, strategic merge for built-in kinds — 415 for custom ones —
//! and server-side apply; every write records its field manager, see
//! `managed`), delete with DeleteOptions from the body or query
//! (propagationPolicy, gracePeriodSeconds, orphanDependents, preconditions,
//! dryRun) answered with the object or a Success Status as the real
//! registries answer, deletecollection with the same options, the status and
//! scale subresources, and `dryRun=All`. This file must not parse paths or
//! check tokens (see `api`), nor keep state (see `store`).

use std::collections::HashMap;

use hyper::Response;
use serde_json::{json, Value};

use crate::api::{Api, Call, Target};
use crate::conversion;
use crate::crd;
use crate::error::{ApiError, FieldCause, GroupResource};
use crate::http::{json_response, ok, parse_object, read_bytes, Body};
use crate::managed::{self, Writer};
use crate::merge_keys::Lists;
use crate::selector::{FieldSelector, LabelSelector};
use crate::resources::ResourceType;
use crate::store::{default_propagation, now_rfc3339, Deletion, ListOptions, Part, Propagation, ReadAt, WriteOptions};
use crate::schema;
use crate::strategic;

impl Api {
    pub fn get(&self, call: &Call) -> Result<Response<Body>, ApiError> {
        let target = &call.target;
        // Shared, not copied: the answer is only serialized.
        let obj = self.store.get_shared(&conversion::stored_gr(&target.rt), target.ns(), name_of(target)?)?;
        match target.sub.as_deref() {
            Some("scale") => Ok(ok(&scale_of(&target.rt, &obj))),
            Some("finalize") => Err(ApiError::MethodNotAllowed),
            _ if call.table => Ok(ok(&crd::printed(&target.rt, std::slice::from_ref(&*obj), json!({}), call.param("includeObject").unwrap_or("")))),
            _ => Ok(ok(&conversion::out(&target.rt, &obj))),
        }
    }

    pub fn list(&self, call: &Call) -> Result<Response<Body>, ApiError> {
        let filter = selectors(call)?;
        let limit = call.param("limit").map(|l| l.parse::<usize>()).transpose().map_err(|_| bad_param("limit"))?;
        let target = &call.target;
        let opts = list_options(call, limit)?;
        let page = self.store.list_at(&conversion::stored_gr(&target.rt), target.namespace.as_deref(), &filter, &opts)?;
        let mut metadata = json!({"resourceVersion": page.resource_version.to_string()});
        if let Some(token) = page.continue_token {
            metadata["continue"] = json!(token);
        }
        if let Some(remaining) = page.remaining {
            metadata["remainingItemCount"] = json!(remaining);
        }
        if call.table {
            let include = call.param("includeObject").unwrap_or("");
            return Ok(ok(&crd::printed(&target.rt, &page.items, metadata, include)));
        }
        let list = json!({
            "kind": format!("{}List", target.rt.kind),
            "apiVersion": target.rt.api_version(),
            "metadata": metadata,
            "items": in_version(&target.rt, page.items),
        });
        Ok(ok(&list))
    }

    pub async fn create(&self, call: Call) -> Result<Response<Body>, ApiError> {
        if call.target.sub.is_some() {
            return Err(ApiError::MethodNotAllowed);
        }
        let content_type = call.content_type.clone();
        let opts = write_options(&call, &Value::Null)?;
        let (manager, api_version, now) = (manager_of(&call), call.target.rt.api_version(), now_rfc3339());
        let mut obj = parse_object(&read_bytes(call.body).await?, &content_type)?;
        check_kind(&call.target, &obj)?;
        let warnings = schema::check_fields(&call.target.rt, &mut obj, call.query.get("fieldValidation").map(String::as_str), schema::Write::Decode)?;
        admit(&call.target, &mut obj)?;
        if crate::events_v1::is_events_v1(&call.target.rt) {
            crate::events_v1::validate_create(&call.target.rt, &obj)?;
        }
        let obj = managed::record_update(&writer(&call.target, &manager, &api_version, &now), &json!({}), obj);
        let given_ns = obj["metadata"]["namespace"].as_str().filter(|n| !n.is_empty());
        if call.target.rt.namespaced && given_ns.is_some_and(|n| Some(n) != call.target.namespace.as_deref()) {
            return Err(ApiError::BadRequest("the namespace of the provided object does not match the namespace sent on the request".into()));
        }
        let created = self.store.create(&call.target.rt, call.target.ns(), obj, &opts)?;
        if crd::is_crd(&call.target.rt) && !opts.dry_run {
            self.crd_written(&call.target.rt, &created)?;
        }
        Ok(warned(json_response(201, &created), &warnings))
    }

    pub async fn update(&self, call: Call) -> Result<Response<Body>, ApiError> {
        let (target, opts) = (call.target.clone(), write_options(&call, &Value::Null)?);
        let (manager, api_version, now) = (manager_of(&call), target.rt.api_version(), now_rfc3339());
        let mut obj = parse_object(&read_bytes(call.body).await?, &call.content_type)?;
        let w = writer(&target, &manager, &api_version, &now);
        if target.sub.as_deref() == Some("scale") {
            return self.write_scale(&target, &opts, &w, |_| Ok(obj));
        }
        if target.sub.as_deref() == Some("finalize") {
            return self.finalize_namespace(&target, &opts, obj);
        }
        check_kind(&target, &obj)?;
        let warnings = schema::check_fields(&target.rt, &mut obj, call.query.get("fieldValidation").map(String::as_str), schema::Write::Decode)?;
        admit(&target, &mut obj)?;
        let record = |current: &Value| Ok(if target.sub.is_none() { managed::record_update(&w, current, obj) } else { obj });
        let updated = self.store.modify(&target.rt, target.ns(), name_of(&target)?, part_of(&target), &opts, record)?;
        Ok(warned(ok(&self.after_write(&target, &opts, updated)?), &warnings))
    }

    pub async fn patch(&self, call: Call) -> Result<Response<Body>, ApiError> {
        let (target, opts) = (call.target.clone(), write_options(&call, &Value::Null)?);
        if target.sub.as_deref() == Some("finalize") {
            return Err(ApiError::MethodNotAllowed);
        }
        let kind = PatchKind::of(&call.content_type, &target)?;
        let (manager, api_version, now) = (manager_of(&call), target.rt.api_version(), now_rfc3339());
        let force = call.param("force") == Some("true");
        if matches!(kind, PatchKind::Apply) && call.param("fieldManager").is_none() {
            return Err(ApiError::BadRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into()));
        }
        let body = read_bytes(call.body).await?;
        let mut patch = match kind {
            PatchKind::Apply => parse_object(&body, "application/yaml")?,
            _ => parse_object(&body, "application/json")?,
        };
        let w = writer(&target, &manager, &api_version, &now);
        if target.sub.as_deref() == Some("scale") {
            return self.write_scale(&target, &opts, &w, |scale| kind.apply("Scale", scale, &patch));
        }
        if matches!(kind, PatchKind::Apply) && target.sub.is_none() {
            let warnings = schema::check_fields(&target.rt, &mut patch, call.query.get("fieldValidation").map(String::as_str), schema::Write::Apply)?;
            return self.server_side_apply(&target, &opts, &w, &patch, force).map(|r| warned(r, &warnings));
        }
        let mut warnings = Vec::new();
        let apply = |current: &Value| {
            let mut next = kind.apply(&target.rt.kind, current, &patch)?;
            warnings = schema::check_fields(&target.rt, &mut next, call.query.get("fieldValidation").map(String::as_str), schema::Write::Patch)?;
            admit(&target, &mut next)?;
            Ok(if target.sub.is_none() { managed::record_update(&w, current, next) } else { next })
        };
        let updated = self.store.modify(&target.rt, target.ns(), name_of(&target)?, part_of(&target), &opts, apply)?;
        Ok(warned(ok(&self.after_write(&target, &opts, updated)?), &warnings))
    }

    /// Server-side apply: merges into the object, or creates it (201) when there is none.
    fn server_side_apply(&self, target: &Target, opts: &WriteOptions, w: &Writer, config: &Value, force: bool) -> Result<Response<Body>, ApiError> {
        check_kind(target, config)?;
        let name = name_of(target)?;
        let given_ns = config["metadata"]["namespace"].as_str().filter(|n| !n.is_empty());
        if target.rt.namespaced && given_ns.is_some_and(|n| Some(n) != target.namespace.as_deref()) {
            return Err(ApiError::BadRequest("the namespace of the provided object does not match the namespace sent on the request".into()));
        }
        let change = |current: &Value| {
            let mut next = managed::apply(w, current, config, force)?;
            admit(target, &mut next)?;
            Ok(next)
        };
        match self.store.modify(&target.rt, target.ns(), name, Part::Main, opts, change) {
            Err(ApiError::NotFound { gr, name: missing }) if gr == conversion::stored_gr(&target.rt) && missing == name => {
                let mut obj = managed::apply(w, &json!({}), config, force)?;
                match obj["metadata"]["name"].as_str() {
                    None | Some("") => obj["metadata"]["name"] = json!(name),
                    Some(given) if given != name => return Err(ApiError::BadRequest("the name of the object does not match the name on the URL".into())),
                    Some(_) => {}
                }
                admit(target, &mut obj)?;
                let created = self.store.create(&target.rt, target.ns(), obj, opts)?;
                if crd::is_crd(&target.rt) && !opts.dry_run {
                    self.crd_written(&target.rt, &created)?;
                }
                Ok(json_response(201, &created))
            }
            Err(e) => Err(e),
            Ok(updated) => Ok(ok(&self.after_write(target, opts, updated)?)),
        }
    }

    /// A namespace's `finalize` subresource: writes only `spec.finalizers`
    /// (with optimistic concurrency); emptied on a namespace being deleted,
    /// the namespace goes.
    fn finalize_namespace(&self, target: &Target, opts: &WriteOptions, given: Value) -> Result<Response<Body>, ApiError> {
        check_kind(target, &given)?;
        let finalize = |current: &Value| {
            let mut next = current.clone();
            next["spec"]["finalizers"] = match &given["spec"]["finalizers"] {
                Value::Null => json!([]),
                finalizers => finalizers.clone(),
            };
            next["metadata"]["resourceVersion"] = given["metadata"]["resourceVersion"].clone();
            if next["metadata"]["resourceVersion"].is_null() {
                next["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
            }
            Ok(next)
        };
        let written = self.store.modify(&target.rt, "", name_of(target)?, Part::Main, opts, finalize)?;
        Ok(ok(&written))
    }

    /// The scale subresource: a `Scale` view whose `spec.replicas` writes the object's.
    fn write_scale(
        &self,
        target: &Target,
        opts: &WriteOptions,
        writer: &Writer,
        change: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Response<Body>, ApiError> {
        let updated = self.store.modify(&target.rt, target.ns(), name_of(target)?, Part::Main, opts, |current| {
            let scale = change(&scale_of(&target.rt, current))?;
            let given_rv = scale["metadata"]["resourceVersion"].as_str().filter(|rv| !rv.is_empty());
            let replicas = scale["spec"]["replicas"].as_i64().ok_or_else(|| ApiError::BadRequest("spec.replicas: Required value".into()))?;
            let mut next = current.clone();
            match crd::scale_paths(&target.rt) {
                Some(paths) => crd::set_at(&mut next, &paths.spec_replicas, json!(replicas)),
                None => next["spec"]["replicas"] = json!(replicas),
            }
            next["metadata"]["resourceVersion"] = json!(given_rv.unwrap_or_default());
            admit(target, &mut next)?;
            Ok(managed::record_update(writer, current, next))
        })?;
        Ok(ok(&scale_of(&target.rt, &updated)))
    }

    /// A changed CRD re-registers its kinds; other objects are answered as written.
    /// A write that removed a deleted CRD's last finalizer deleted it: its kind stops being served.
    fn after_write(&self, target: &Target, opts: &WriteOptions, written: Value) -> Result<Value, ApiError> {
        if crd::is_crd(&target.rt) && !opts.dry_run {
            let name = written["metadata"]["name"].as_str().unwrap_or("");
            match self.store.get(&target.rt.gr(), "", name) {
                Err(ApiError::NotFound { .. }) => self.crd_deleted(&written),
                _ if target.sub.is_none() => {
                    self.crd_written(&target.rt, &written)?;
                }
                _ => {}
            }
        }
        Ok(written)
    }

    /// DELETE of one object, with DeleteOptions from the body (kubectl sends
    /// one) or else the query: the Status or object the registry answers
    /// when it is gone, the object (200, or 202 when `orphanDependents=false`
    /// asked for cascading) while finalizers or a grace period hold it.
    pub async fn delete(&self, call: Call) -> Result<Response<Body>, ApiError> {
        let bytes = read_bytes(call.body).await?;
        let options = DeleteRequest::parse(&call.query, &bytes, &call.content_type)?;
        let target = &call.target;
        if target.sub.is_some() {
            return Err(ApiError::MethodNotAllowed);
        }
        let deletion = self.store.delete(&target.rt, target.ns(), name_of(target)?, &options.write)?;
        if crd::is_crd(&target.rt) && !options.write.dry_run && deletion.is_gone() {
            self.crd_deleted(deletion.object());
        }
        let mut answer = deletion_answer(target, &options, deletion);
        if let Some(warning) = options.warning(&target.rt) {
            answer.headers_mut().append(hyper::header::WARNING, warning);
        }
        Ok(answer)
    }

    /// DELETE of a collection: every selected object deleted with the same
    /// options; answers the list as it was before, as the real registry does.
    pub async fn delete_collection(&self, call: Call) -> Result<Response<Body>, ApiError> {
        let filter = selectors(&call)?;
        let target = call.target.clone();
        let bytes = read_bytes(call.body).await?;
        let options = DeleteRequest::parse(&call.query, &bytes, &call.content_type)?;
        let page = self.store.list(&conversion::stored_gr(&target.rt), target.namespace.as_deref(), &filter, None, None)?;
        for item in &page.items {
            let (ns, name) = (item["metadata"]["namespace"].as_str().unwrap_or(""), item["metadata"]["name"].as_str().unwrap_or(""));
            match self.store.delete(&target.rt, ns, name, &options.write) {
                Ok(deletion) if crd::is_crd(&target.rt) && !options.write.dry_run && deletion.is_gone() => self.crd_deleted(deletion.object()),
                Ok(_) | Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let list = json!({"kind": format!("{}List", target.rt.kind), "apiVersion": target.rt.api_version(),
            "metadata": {"resourceVersion": page.resource_version.to_string()}, "items": in_version(&target.rt, page.items)});
        let mut answer = ok(&list);
        if let Some(warning) = options.warning(&target.rt) {
            answer.headers_mut().append(hyper::header::WARNING, warning);
        }
        Ok(answer)
    }
}

/// A DELETE's options: what the store acts on, and the deprecated
/// `orphanDependents` as given (it changes the answer's code).
struct DeleteRequest {
    write: WriteOptions,
    orphan_dependents: Option<bool>,
}

impl DeleteRequest {
    /// The registry's warning for a delete that leaves the kind's default
    /// policy to orphan dependents (batch/v1 Jobs), as a `Warning` header value.
    fn warning(&self, rt: &ResourceType) -> Option<hyper::header::HeaderValue> {
        let unspecified = self.write.propagation.is_none() && self.orphan_dependents.is_none();
        if !unspecified || default_propagation(rt) != Propagation::Orphan {
            return None;
        }
        Some(hyper::header::HeaderValue::from_static(
            "299 - \"child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning\"",
        ))
    }

    /// DeleteOptions from a non-empty body, else from the query
    /// (`dryRun`, `gracePeriodSeconds`, `orphanDependents`, `propagationPolicy`;
    /// preconditions only come in a body), validated as the real server does.
    fn parse(query: &HashMap<String, String>, body: &[u8], content_type: &str) -> Result<DeleteRequest, ApiError> {
        let (dry_run, grace, orphan, policy, uid, rv) = if body.is_empty() {
            let param = |name: &str| query.get(name).map(String::as_str).filter(|v| !v.is_empty());
            let grace = param("gracePeriodSeconds").map(|g| g.parse::<i64>()).transpose().map_err(|_| bad_param("gracePeriodSeconds"))?;
            let orphan = param("orphanDependents").map(|o| o.parse::<bool>()).transpose().map_err(|_| bad_param("orphanDependents"))?;
            (param("dryRun").map(String::from), grace, orphan, param("propagationPolicy").map(String::from), None, None)
        } else {
            let doc = parse_object(body, content_type)?;
            let text = |v: &Value| v.as_str().map(String::from);
            let dry_run = doc["dryRun"].as_array().and_then(|a| a.first()).and_then(text);
            let grace = match &doc["gracePeriodSeconds"] {
                Value::Null => None,
                v => Some(v.as_i64().ok_or_else(|| ApiError::BadRequest("DeleteOptions: gracePeriodSeconds must be an integer".into()))?),
            };
            let orphan = match &doc["orphanDependents"] {
                Value::Null => None,
                v => Some(v.as_bool().ok_or_else(|| ApiError::BadRequest("DeleteOptions: orphanDependents must be a boolean".into()))?),
            };
            let preconditions = &doc["preconditions"];
            (dry_run, grace, orphan, text(&doc["propagationPolicy"]), text(&preconditions["uid"]), text(&preconditions["resourceVersion"]))
        };
        let invalid = |reason: &'static str, message: String| {
            let cause = FieldCause { reason, field: "propagationPolicy".into(), message };
            ApiError::invalid(&GroupResource::new("meta.k8s.io", "deleteoptions"), "DeleteOptions", "", vec![cause])
        };
        if let (Some(_), Some(policy)) = (orphan, &policy) {
            return Err(invalid("FieldValueInvalid", format!("Invalid value: {policy:?}: orphanDependents and deletionPropagation cannot be both set")));
        }
        let propagation = match (&policy, orphan) {
            (Some(p), _) => Some(Propagation::parse(p).ok_or_else(|| {
                invalid("FieldValueNotSupported", format!("Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""))
            })?),
            (None, Some(true)) => Some(Propagation::Orphan),
            (None, Some(false)) => Some(Propagation::Background),
            (None, None) => None,
        };
        let dry_run = match dry_run.as_deref() {
            None => false,
            Some("All") => true,
            Some(other) => return Err(ApiError::BadRequest(format!("dryRun: Unsupported value: \"{other}\": supported values: \"All\""))),
        };
        let write = WriteOptions { dry_run, uid, resource_version: rv, propagation, grace_period: grace };
        Ok(DeleteRequest { write, orphan_dependents: orphan })
    }
}

/// The label and field selectors of a list, watch or deletecollection.
pub fn selectors(call: &Call) -> Result<impl Fn(&Value) -> bool, ApiError> {
    let labels = LabelSelector::parse(call.param("labelSelector").unwrap_or(""))?;
    let fields = FieldSelector::parse(call.param("fieldSelector").unwrap_or(""), &call.target.rt.plural)?;
    Ok(move |obj: &Value| labels.matches(obj) && fields.matches(obj))
}

/// Stored objects as the request's version shows them (`conversion`).
fn in_version(rt: &ResourceType, items: Vec<Value>) -> Vec<Value> {
    if conversion::storage_of(rt).is_none() && !rt.custom {
        return items;
    }
    items.iter().map(|item| conversion::out(rt, item).into_owned()).collect()
}

/// A list's `resourceVersion`, `resourceVersionMatch` and `continue`, checked
/// as the real server's ListOptions validation checks them (422), read as its
/// etcd storage reads them: a resourceVersion with no match is "not older
/// than", except on a paged list, which reads exactly at it (the legacy case).
fn list_options<'a>(call: &'a Call, limit: Option<usize>) -> Result<ListOptions<'a>, ApiError> {
    let (rv, matching, token) = (call.param("resourceVersion"), call.param("resourceVersionMatch"), call.param("continue"));
    let forbidden = |message: &str| FieldCause { reason: "FieldValueForbidden", field: "resourceVersionMatch".into(), message: format!("Forbidden: {message}") };
    let mut causes = Vec::new();
    if let Some(m) = matching {
        if rv.is_none() {
            causes.push(forbidden("resourceVersionMatch is forbidden unless resourceVersion is provided"));
        }
        if token.is_some() {
            causes.push(forbidden("resourceVersionMatch is forbidden when continue is provided"));
        }
        if m != "Exact" && m != "NotOlderThan" {
            causes.push(FieldCause {
                reason: "FieldValueNotSupported",
                field: "resourceVersionMatch".into(),
                message: format!("Unsupported value: {m:?}: supported values: \"Exact\", \"NotOlderThan\", \"\""),
            });
        }
        if m == "Exact" && rv == Some("0") {
            causes.push(forbidden("resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""));
        }
    }
    if call.query.contains_key("sendInitialEvents") {
        causes.push(FieldCause { reason: "FieldValueForbidden", field: "sendInitialEvents".into(), message: "Forbidden: sendInitialEvents is forbidden for list".into() });
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(&GroupResource::new("meta.k8s.io", "listoptions"), "ListOptions", "", causes));
    }
    let filtered = call.param("labelSelector").is_some() || call.param("fieldSelector").is_some();
    if let Some(token) = token {
        if rv.is_some_and(|v| v != "0") {
            return Err(ApiError::BadRequest("specifying resource version is not allowed when using continue".into()));
        }
        return Ok(ListOptions { limit, at: ReadAt::Continue(token), filtered });
    }
    let Some(rv) = rv else { return Ok(ListOptions { limit, at: ReadAt::Latest, filtered }) };
    let version: u64 = rv.parse().map_err(|_| {
        ApiError::BadRequest(format!("invalid resource version: resourceVersion: Invalid value: {rv:?}: could not parse: strconv.ParseUint: parsing {rv:?}: invalid syntax"))
    })?;
    let paged = limit.is_some_and(|l| l > 0);
    let at = match matching {
        _ if version == 0 => ReadAt::Latest,
        Some("Exact") => ReadAt::Exact(version),
        None if paged => ReadAt::Exact(version),
        _ => ReadAt::NotOlderThan(version),
    };
    Ok(ListOptions { limit, at, filtered })
}

fn write_options(call: &Call, body: &Value) -> Result<WriteOptions, ApiError> {
    write_options_of(&call.query, body)
}

/// `dryRun` (query or DeleteOptions body) and DeleteOptions preconditions.
fn write_options_of(query: &HashMap<String, String>, body: &Value) -> Result<WriteOptions, ApiError> {
    let from_body = body["dryRun"].as_array().and_then(|a| a.first()).and_then(Value::as_str);
    let dry_run = match query.get("dryRun").map(String::as_str).filter(|v| !v.is_empty()).or(from_body) {
        None => false,
        Some("All") => true,
        Some(other) => return Err(ApiError::BadRequest(format!("dryRun: Unsupported value: \"{other}\": supported values: \"All\""))),
    };
    let precondition = |field: &str| body["preconditions"][field].as_str().map(String::from);
    Ok(WriteOptions { dry_run, uid: precondition("uid"), resource_version: precondition("resourceVersion"), ..WriteOptions::default() })
}

fn bad_param(name: &str) -> ApiError {
    ApiError::BadRequest(format!("invalid value for query parameter {name}"))
}

fn name_of(target: &Target) -> Result<&str, ApiError> {
    target.name.as_deref().ok_or(ApiError::MethodNotAllowed)
}

fn part_of(target: &Target) -> Part {
    if target.sub.as_deref() == Some("status") {
        Part::Status
    } else {
        Part::Main
    }
}

/// A body of another kind than the URL's is a 400, as on the real server.
fn check_kind(target: &Target, obj: &Value) -> Result<(), ApiError> {
    let kind = obj["kind"].as_str().unwrap_or("");
    let api_version = obj["apiVersion"].as_str().unwrap_or("");
    let kind_ok = kind.is_empty() || kind == target.rt.kind;
    let version_ok = api_version.is_empty() || api_version == target.rt.api_version();
    if kind_ok && version_ok {
        return Ok(());
    }
    Err(ApiError::BadRequest(format!(
        "the API version in the data ({api_version}) does not match the expected API version ({})",
        target.rt.api_version()
    )))
}

/// What DELETE answers. Gone: registries that return the deleted object do
/// so, the others a Success Status naming it (group, resource as `kind`, uid).
/// Still held by finalizers or a grace period: the object as it now is,
/// 202 Accepted when the deprecated `orphanDependents=false` asked to cascade.
fn deletion_answer(target: &Target, options: &DeleteRequest, deletion: Deletion) -> Response<Body> {
    let deleted = match deletion {
        Deletion::Pending(obj) => return json_response(if options.orphan_dependents == Some(false) { 202 } else { 200 }, &obj),
        Deletion::Gone(obj) => obj,
    };
    let returns_object = target.rt.custom || matches!(target.rt.plural.as_str(), "namespaces" | "pods" | "services");
    if returns_object {
        return ok(&deleted);
    }
    let mut details = json!({"name": deleted["metadata"]["name"], "kind": target.rt.plural, "uid": deleted["metadata"]["uid"]});
    if !target.rt.group.is_empty() {
        details["group"] = json!(target.rt.group);
    }
    ok(&json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}))
}

/// What the real server does to a written object before it records field
/// managers: a CRD's schemas are checked (422 unless structural); a built-in
/// kind gets its defaults, which its writer then owns, as decoding defaults
/// them on the real server; a custom resource is defaulted and validated by
/// its CRD's schema. Server-side apply calls this after merging, so an
/// applier never owns what the server defaulted.
fn admit(target: &Target, obj: &mut Value) -> Result<(), ApiError> {
    if crd::is_crd(&target.rt) {
        crd::check(&target.rt, obj)?;
    }
    if target.rt.custom {
        return crd::admit(&target.rt, obj, target.sub.as_deref() == Some("status"));
    }
    crate::defaults::apply(&target.rt, obj);
    Ok(())
}

/// The `Scale` view of an object: a built-in kind's `spec.replicas`, or the paths a CRD's scale subresource declares.
fn scale_of(rt: &ResourceType, obj: &Value) -> Value {
    let paths = crd::scale_paths(rt);
    let selector = match paths.as_ref() {
        Some(p) => p.label_selector.as_ref().and_then(|l| crd::at(obj, l).as_str()).unwrap_or("").to_string(),
        None => obj["spec"]["selector"]["matchLabels"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(","))
            .unwrap_or_default(),
    };
    let (spec_replicas, status_replicas) = match paths.as_ref() {
        Some(p) => (crd::at(obj, &p.spec_replicas).as_i64().unwrap_or(0), crd::at(obj, &p.status_replicas).as_i64().unwrap_or(0)),
        None => (obj["spec"]["replicas"].as_i64().unwrap_or(1), obj["status"]["replicas"].as_i64().unwrap_or(0)),
    };
    let meta = &obj["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": spec_replicas},
        "status": {"replicas": status_replicas, "selector": selector},
    })
}

/// The patch formats this slice understands.
#[derive(Debug, Clone, Copy)]
enum PatchKind {
    Merge,
    Json,
    /// Strategic merge, for built-in kinds only.
    Strategic,
    /// Server-side apply (`application/apply-patch+yaml`); a strategic merge where it has no owner to track.
    Apply,
}

impl PatchKind {
    fn of(content_type: &str, target: &Target) -> Result<PatchKind, ApiError> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        let accepted = if target.rt.custom {
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        } else {
            "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
        };
        match media {
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/json-patch+json" => Ok(PatchKind::Json),
            "application/strategic-merge-patch+json" if !target.rt.custom => Ok(PatchKind::Strategic),
            "application/apply-patch+yaml" => Ok(PatchKind::Apply),
            _ => Err(ApiError::UnsupportedMediaType(accepted)),
        }
    }

    fn apply(self, kind: &str, current: &Value, patch: &Value) -> Result<Value, ApiError> {
        let mut doc = current.clone();
        match self {
            PatchKind::Merge => {
                if !patch.is_object() {
                    return Err(ApiError::BadRequest("a merge patch must be a JSON object".into()));
                }
                json_patch::merge(&mut doc, patch);
            }
            PatchKind::Json => {
                let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                    .map_err(|e| ApiError::BadRequest(format!("the server rejected our request due to an error in our request: {e}")))?;
                apply_json_patch(&mut doc, &ops)?;
            }
            PatchKind::Strategic | PatchKind::Apply => doc = strategic::apply(kind, current, patch)?,
        }
        Ok(doc)
    }
}

/// RFC 6902 as the real server applies it (evanphx/json-patch): a `test` for
/// null passes where the path is missing — kube-rs's finalizer helper adds
/// the first finalizer behind exactly that test.
fn apply_json_patch(doc: &mut Value, ops: &json_patch::Patch) -> Result<(), ApiError> {
    for (i, op) in ops.0.iter().enumerate() {
        if let json_patch::PatchOperation::Test(test) = op {
            if test.value.is_null() && doc.pointer(test.path.as_str()).is_none() {
                continue;
            }
        }
        json_patch::patch(doc, std::slice::from_ref(op))
            .map_err(|e| ApiError::Unprocessable(format!("operation '/{i}' failed at path '{}': {}", e.path, e.kind)))?;
    }
    Ok(())
}

/// The field manager of a write: the `fieldManager` parameter, else the
/// client's program name from its User-Agent, as the real server defaults it.
fn manager_of(call: &Call) -> String {
    if let Some(manager) = call.param("fieldManager") {
        return manager.to_string();
    }
    let program = call.user_agent.split('/').next().unwrap_or("").trim();
    if program.is_empty() { "unknown".to_string() } else { program.to_string() }
}

fn writer<'a>(target: &'a Target, manager: &'a str, api_version: &'a str, now: &'a str) -> Writer<'a> {
    let lists = match target.rt.definition.as_deref() {
        Some(version) if target.rt.custom => match crd::schema_of(version) {
            Some(schema) => Lists::Schema(schema),
            None => Lists::Atomic,
        },
        _ if target.rt.custom => Lists::Atomic,
        _ => Lists::Kind(target.rt.kind.as_str()),
    };
    Writer { manager, api_version, lists, now, subresource: target.sub.as_deref() }
}

/// Adds `Warning: 299 - "..."` headers, as the real server sends its warnings.
fn warned(mut resp: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&format!("299 - {w:?}")) {
            resp.headers_mut().append(hyper::header::WARNING, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_patch_test_for_null_passes_on_a_missing_path_as_on_the_real_server() {
        let ops = |v: Value| -> json_patch::Patch { serde_json::from_value(v).unwrap() };
        let add_first = ops(json!([{"op": "test", "path": "/metadata/finalizers", "value": null}, {"op": "add", "path": "/metadata/finalizers", "value": ["a/b"]}]));
        let mut doc = json!({"metadata": {"name": "x"}});
        apply_json_patch(&mut doc, &add_first).unwrap();
        assert_eq!(doc["metadata"]["finalizers"], json!(["a/b"]));
        let err = apply_json_patch(&mut doc, &add_first).unwrap_err();
        assert_eq!(err.code(), 422, "a present value fails the test for null");
        let err = apply_json_patch(&mut doc, &ops(json!([{"op": "test", "path": "/metadata/name", "value": "x"}, {"op": "remove", "path": "/spec"}]))).unwrap_err();
        assert!(err.to_string().contains("operation '/1' failed at path '/spec'"), "{err}");
    }
    use crate::resources::Registry;

    fn parse(query: &[(&str, &str)], body: &str) -> Result<DeleteRequest, ApiError> {
        let query: HashMap<String, String> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        DeleteRequest::parse(&query, body.as_bytes(), "application/json")
    }

    #[test]
    fn delete_options_come_from_the_body_or_else_the_query() {
        let q = parse(&[("propagationPolicy", "Foreground"), ("gracePeriodSeconds", "5"), ("dryRun", "All")], "").unwrap();
        assert_eq!((q.write.propagation, q.write.grace_period, q.write.dry_run), (Some(Propagation::Foreground), Some(5), true));
        let body = r#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Orphan","preconditions":{"uid":"u","resourceVersion":"7"}}"#;
        let b = parse(&[("propagationPolicy", "Foreground")], body).unwrap();
        assert_eq!(b.write.propagation, Some(Propagation::Orphan), "a body replaces the query");
        assert_eq!((b.write.uid.as_deref(), b.write.resource_version.as_deref()), (Some("u"), Some("7")));
        assert_eq!(parse(&[], "").unwrap().write.propagation, None, "no policy: the object's finalizers, else background");
        let orphan = parse(&[("orphanDependents", "true")], "").unwrap();
        assert_eq!((orphan.write.propagation, orphan.orphan_dependents), (Some(Propagation::Orphan), Some(true)));
        let cascade = parse(&[], r#"{"orphanDependents":false}"#).unwrap();
        assert_eq!(cascade.write.propagation, Some(Propagation::Background));
    }

    #[test]
    fn invalid_delete_options_are_refused_as_the_real_server_words_them() {
        let both = parse(&[], r#"{"orphanDependents":true,"propagationPolicy":"Foreground"}"#).err().unwrap();
        assert_eq!(both.code(), 422);
        assert_eq!(both.to_string(), r#"DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Foreground": orphanDependents and deletionPropagation cannot be both set"#);
        let status = both.to_status();
        assert_eq!(status["details"]["kind"], "DeleteOptions");
        assert_eq!(status["details"]["group"], "meta.k8s.io");
        assert_eq!(status["details"]["causes"][0]["field"], "propagationPolicy");
        let unknown = parse(&[("propagationPolicy", "Sideways")], "").err().unwrap();
        assert!(unknown.to_string().ends_with(r#"propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil""#), "{unknown}");
        assert_eq!(parse(&[("gracePeriodSeconds", "soon")], "").err().unwrap().code(), 400);
        assert_eq!(parse(&[], r#"{"dryRun":["Some"]}"#).err().unwrap().code(), 400);
    }

    #[test]
    fn a_held_object_is_answered_200_or_202_and_a_gone_one_with_the_registry_answer() {
        let registry = Registry::default();
        let target = |group: &str, plural: &str| Target { rt: registry.find(group, "v1", plural).unwrap(), namespace: Some("default".into()), name: Some("web".into()), sub: None };
        let obj = json!({"metadata": {"name": "web", "uid": "u1"}});
        let plain = parse(&[], "").unwrap();
        let cascading = parse(&[("orphanDependents", "false")], "").unwrap();
        let deployments = target("apps", "deployments");
        assert_eq!(deletion_answer(&deployments, &plain, Deletion::Pending(obj.clone())).status(), 200);
        assert_eq!(deletion_answer(&deployments, &cascading, Deletion::Pending(obj.clone())).status(), 202, "not deleted yet, cascading asked");
        assert_eq!(deletion_answer(&deployments, &cascading, Deletion::Gone(obj.clone())).status(), 200);
    }
}
