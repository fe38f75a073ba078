//! The distribution API's errors: `{"errors": [{"code", "message",
//! "detail"}]}` with the spec's codes and the HTTP status each one goes
//! with (as the CNCF distribution registry answers them). This file owns
//! the codes and the body; it must not decide when an error applies.

use serde_json::{json, Value};

/// One error answer of a simulated registry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub detail: Value,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), detail: Value::Null }
    }

    pub fn with_detail(mut self, detail: Value) -> ApiError {
        self.detail = detail;
        self
    }

    pub fn blob_unknown(digest: &str) -> ApiError {
        ApiError::new(404, "BLOB_UNKNOWN", "blob unknown to registry").with_detail(json!({ "digest": digest }))
    }

    pub fn blob_upload_invalid(why: impl Into<String>) -> ApiError {
        ApiError::new(400, "BLOB_UPLOAD_INVALID", why)
    }

    pub fn blob_upload_unknown(id: &str) -> ApiError {
        ApiError::new(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry").with_detail(json!({ "uuid": id }))
    }

    /// A chunk that does not start where the upload stands (416, `BLOB_UPLOAD_INVALID`).
    pub fn range_invalid(expected_start: u64, got: &str) -> ApiError {
        ApiError::new(416, "BLOB_UPLOAD_INVALID", format!("Content-Range {got:?} does not start at {expected_start}, where the upload stands; send the next chunk from there (GET the upload for its Range)"))
    }

    pub fn digest_invalid(expected: &str, computed: &str) -> ApiError {
        ApiError::new(400, "DIGEST_INVALID", "provided digest did not match uploaded content").with_detail(json!({ "expected": expected, "computed": computed }))
    }

    pub fn digest_malformed(digest: &str, why: &str) -> ApiError {
        ApiError::new(400, "DIGEST_INVALID", format!("digest {digest:?} is invalid: {why}"))
    }

    pub fn manifest_blob_unknown(digest: &str) -> ApiError {
        ApiError::new(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry").with_detail(json!({ "digest": digest }))
    }

    pub fn manifest_invalid(why: impl Into<String>) -> ApiError {
        ApiError::new(400, "MANIFEST_INVALID", why)
    }

    pub fn manifest_unknown(reference: &str) -> ApiError {
        ApiError::new(404, "MANIFEST_UNKNOWN", "manifest unknown").with_detail(json!({ "reference": reference }))
    }

    pub fn name_invalid(name: &str, why: &str) -> ApiError {
        ApiError::new(400, "NAME_INVALID", format!("invalid repository name {name:?}: {why}"))
    }

    pub fn name_unknown(name: &str) -> ApiError {
        ApiError::new(404, "NAME_UNKNOWN", "repository name not known to registry").with_detail(json!({ "name": name }))
    }

    pub fn size_invalid(why: impl Into<String>) -> ApiError {
        ApiError::new(400, "SIZE_INVALID", why)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(401, "UNAUTHORIZED", message)
    }

    /// 401 with code DENIED: what ECR answers for a refused token.
    pub fn denied_401(message: impl Into<String>) -> ApiError {
        ApiError::new(401, "DENIED", message)
    }

    pub fn denied(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "DENIED", message)
    }

    pub fn unsupported(message: impl Into<String>) -> ApiError {
        ApiError::new(405, "UNSUPPORTED", message)
    }

    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(413, "SIZE_INVALID", message)
    }

    /// The store's bound was reached (507 Insufficient Storage).
    pub fn full(message: impl Into<String>) -> ApiError {
        ApiError::new(507, "DENIED", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "NOT_FOUND", message)
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut e = json!({ "code": self.code, "message": self.message });
        if !self.detail.is_null() {
            e["detail"] = self.detail.clone();
        }
        json!({ "errors": [e] })
    }
}
