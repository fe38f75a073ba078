//! The API server's errors, and how they reach a client: every failure becomes
//! a Kubernetes `Status` object (kind Status, status Failure, message, reason,
//! details, code) worded as the real kube-apiserver words it, because kubectl,
//! kube-rs and Helm parse `reason` and `code` to decide what happened. This
//! file must not decide *when* an error happens; it only renders them.

use serde_json::{json, Map, Value};

/// A group and a resource (plural), as Kubernetes qualifies names in messages:
/// `configmaps` for the core group, `deployments.apps` otherwise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> GroupResource {
        GroupResource { group: group.to_string(), resource: resource.to_string() }
    }
}

impl std::fmt::Display for GroupResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// A failed API request, carrying what its `Status` needs.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{gr} \"{name}\" not found")]
    NotFound { gr: GroupResource, name: String },
    #[error("the server could not find the requested resource")]
    PathNotFound,
    #[error("{gr} \"{name}\" already exists")]
    AlreadyExists { gr: GroupResource, name: String },
    #[error("Operation cannot be fulfilled on {gr} \"{name}\": {reason}")]
    Conflict { gr: GroupResource, name: String, reason: String },
    #[error("{0}")]
    BadRequest(String),
    /// A server-side apply that would change fields other managers own: the
    /// message and a `(message, field)` cause per conflicting field.
    #[error("{message}")]
    ApplyConflict { message: String, causes: Vec<(String, String)> },
    /// A 422 naming the object (`kind` qualified by its group in the
    /// message); `causes` are the field errors kubectl prints.
    #[error("{kind} \"{name}\" is invalid: {}", causes_message(.causes))]
    Invalid { gr: GroupResource, kind: String, name: String, causes: Vec<FieldCause> },
    /// A patch that could not be applied (a failed `test`, a missing path): 422 without details.
    #[error("{0}")]
    Unprocessable(String),
    /// A body in a format this server does not decode; carries the accepted media types.
    #[error("the body of the request was in an unknown format - accepted media types include: {0}")]
    UnsupportedMediaType(&'static str),
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    #[error("{0}")]
    Gone(String),
    /// A paged list's continue token older than the kept history: 410
    /// Expired carrying, in the Status's `metadata.continue`, a token that
    /// continues at the latest version.
    #[error("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")]
    ExpiredContinue { token: String },
    /// A read at a resourceVersion the server has not reached: 504 Timeout, as the real server gives up waiting.
    #[error("Too large resource version: {wanted}, current: {current}")]
    TooLargeResourceVersion { wanted: u64, current: u64 },
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{message}")]
    Forbidden { gr: GroupResource, name: String, message: String },
    #[error("{0}")]
    Internal(String),
    /// Nothing can answer (no endpoints, a pod that cannot be reached): 503.
    #[error("{0}")]
    ServiceUnavailable(String),
}

/// One field error of an Invalid status (`FieldValueForbidden`,
/// `metadata.finalizers`, `Forbidden: ...`), as the real validation reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldCause {
    pub reason: &'static str,
    pub field: String,
    /// The error's body: its type then the detail (`Forbidden: no new finalizers ...`).
    pub message: String,
}

/// Field errors as the real server aggregates them: one as `field: detail`, more in brackets.
fn causes_message(causes: &[FieldCause]) -> String {
    let each: Vec<String> = causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
    if each.len() == 1 {
        each[0].clone()
    } else {
        format!("[{}]", each.join(", "))
    }
}

impl ApiError {
    /// A 422 for `kind` (of `group`) `name` from its field errors, worded as the
    /// real server words it: `Deployment.apps "web" is invalid: field: detail`.
    pub fn invalid(gr: &GroupResource, kind: &str, name: &str, causes: Vec<FieldCause>) -> ApiError {
        let kind = if gr.group.is_empty() { kind.to_string() } else { format!("{kind}.{}", gr.group) };
        ApiError::Invalid { gr: gr.clone(), kind, name: name.to_string(), causes }
    }

    pub fn not_found(gr: &GroupResource, name: &str) -> ApiError {
        ApiError::NotFound { gr: gr.clone(), name: name.to_string() }
    }

    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } | ApiError::PathNotFound => 404,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } | ApiError::ApplyConflict { .. } => 409,
            ApiError::BadRequest(_) => 400,
            ApiError::Invalid { .. } | ApiError::Unprocessable(_) => 422,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::MethodNotAllowed => 405,
            ApiError::Gone(_) | ApiError::ExpiredContinue { .. } => 410,
            ApiError::TooLargeResourceVersion { .. } => 504,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::Internal(_) => 500,
            ApiError::ServiceUnavailable(_) => 503,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::PathNotFound => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ApplyConflict { .. } => "Conflict",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Invalid { .. } | ApiError::Unprocessable(_) => "Invalid",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::Gone(_) | ApiError::ExpiredContinue { .. } => "Expired",
            ApiError::TooLargeResourceVersion { .. } => "Timeout",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::Internal(_) => "InternalError",
            ApiError::ServiceUnavailable(_) => "ServiceUnavailable",
        }
    }

    fn details(&self) -> Option<Value> {
        let (gr, name, kind) = match self {
            ApiError::NotFound { gr, name }
            | ApiError::AlreadyExists { gr, name }
            | ApiError::Conflict { gr, name, .. }
            | ApiError::Forbidden { gr, name, .. } => (gr, name, gr.resource.clone()),
            ApiError::Invalid { gr, name, kind, causes, .. } => {
                let unqualified = kind.strip_suffix(&format!(".{}", gr.group)).filter(|_| !gr.group.is_empty()).unwrap_or(kind);
                let mut d = Map::new();
                if !name.is_empty() {
                    d.insert("name".into(), json!(name));
                }
                if !gr.group.is_empty() {
                    d.insert("group".into(), json!(gr.group));
                }
                d.insert("kind".into(), json!(unqualified));
                if !causes.is_empty() {
                    let causes: Vec<Value> = causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect();
                    d.insert("causes".into(), json!(causes));
                }
                return Some(Value::Object(d));
            }
            ApiError::ApplyConflict { causes, .. } => {
                let causes: Vec<Value> = causes
                    .iter()
                    .map(|(message, field)| json!({"reason": "FieldManagerConflict", "message": message, "field": field}))
                    .collect();
                return Some(json!({"causes": causes}));
            }
            ApiError::TooLargeResourceVersion { .. } => {
                return Some(json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1}));
            }
            _ => return None,
        };
        let mut d = Map::new();
        if !name.is_empty() {
            d.insert("name".into(), json!(name));
        }
        if !gr.group.is_empty() {
            d.insert("group".into(), json!(gr.group));
        }
        d.insert("kind".into(), json!(kind));
        Some(Value::Object(d))
    }

    /// The `Status` object a real API server would answer with.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        if let Some(details) = self.details() {
            status["details"] = details;
        }
        if let ApiError::ExpiredContinue { token } = self {
            status["metadata"]["continue"] = json!(token);
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_status_names_the_qualified_resource() {
        let e = ApiError::not_found(&GroupResource::new("apps", "deployments"), "web");
        let s = e.to_status();
        assert_eq!(s["message"], "deployments.apps \"web\" not found");
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["code"], 404);
        assert_eq!(s["details"], json!({"name": "web", "group": "apps", "kind": "deployments"}));
    }

    #[test]
    fn unauthorized_status_has_no_details() {
        let s = ApiError::Unauthorized.to_status();
        assert_eq!(s["code"], 401);
        assert!(s.get("details").is_none());
    }
}
