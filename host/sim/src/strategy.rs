//! What the real registries' create strategies do to a new object once it
//! has its uid, and the validation that depends on it: a batch/v1 Job gets
//! its generated selector (`batch.kubernetes.io/controller-uid`) and the
//! pod template labels `batch.kubernetes.io/controller-uid`,
//! `batch.kubernetes.io/job-name`, `controller-uid` and `job-name`, unless
//! `spec.manualSelector` is true; a selector that was not generated, or
//! does not select the template's labels, is a 422 worded as the real
//! validation words it (Go's `%#v` of the values included), and so is an
//! update that changes a Job's selector. This file must
//! not store objects nor answer requests; `store` calls it.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::{ApiError, FieldCause};
use crate::resources::ResourceType;

pub const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME: &str = "batch.kubernetes.io/job-name";
pub const LEGACY_CONTROLLER_UID: &str = "controller-uid";
pub const LEGACY_JOB_NAME: &str = "job-name";

fn is_job(rt: &ResourceType) -> bool {
    rt.group == "batch" && rt.plural == "jobs"
}

/// Fills what the kind's create strategy generates from the new object's uid
/// and name (stamped already), then validates what depends on it.
pub fn prepare_create(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    if !is_job(rt) {
        return Ok(());
    }
    let manual = obj["spec"]["manualSelector"].as_bool() == Some(true);
    if !manual {
        generate_job_selector(obj);
    }
    validate_job_selector(rt, obj, manual)
}

/// What the kind's update validation refuses that depends on the stored
/// object: a Job's selector is immutable (`field is immutable`, the new
/// value in Go's `%#v`, or null).
pub fn validate_update(rt: &ResourceType, current: &Value, next: &Value) -> Result<(), ApiError> {
    if !is_job(rt) || current["spec"]["selector"] == next["spec"]["selector"] {
        return Ok(());
    }
    // ValidateJobSpec's selector checks come first, then the immutability.
    let mut causes = spec_selector_causes(next);
    let selector = &next["spec"]["selector"];
    // A nil pointer prints as the string "null".
    let value = if selector.is_object() { go_label_selector(selector) } else { "\"null\"".into() };
    causes.push(FieldCause { reason: "FieldValueInvalid", field: "spec.selector".into(), message: format!("Invalid value: {value}: field is immutable") });
    Err(ApiError::invalid(&rt.gr(), &rt.kind, next["metadata"]["name"].as_str().unwrap_or(""), causes))
}

/// ValidateJobSpec's selector checks: present, and selecting the template's labels
/// (a missing selector selects nothing).
fn spec_selector_causes(job: &Value) -> Vec<FieldCause> {
    let selector = &job["spec"]["selector"];
    let labels = string_map(&job["spec"]["template"]["metadata"]["labels"]);
    let mut causes = Vec::new();
    if !selector.is_object() {
        causes.push(FieldCause { reason: "FieldValueRequired", field: "spec.selector".into(), message: "Required value".into() });
    }
    if !selector.is_object() || !selector_matches(selector, &labels) {
        causes.push(FieldCause {
            reason: "FieldValueInvalid",
            field: "spec.template.metadata.labels".into(),
            message: format!("Invalid value: {}: `selector` does not match template `labels`", go_string_map(&labels)),
        });
    }
    causes
}

/// The job strategy's generateSelector: labels the template with the job's
/// name and uid (keeping labels the user set, which validation then checks)
/// and selects the prefixed controller-uid label.
fn generate_job_selector(job: &mut Value) {
    let (name, uid) = (job["metadata"]["name"].as_str().unwrap_or("").to_string(), job["metadata"]["uid"].as_str().unwrap_or("").to_string());
    if !job["spec"].is_object() {
        job["spec"] = json!({});
    }
    let template_meta = &mut job["spec"]["template"]["metadata"];
    if !template_meta["labels"].is_object() {
        template_meta["labels"] = json!({});
    }
    let labels = &mut template_meta["labels"];
    for (key, value) in [(LEGACY_JOB_NAME, &name), (JOB_NAME, &name), (LEGACY_CONTROLLER_UID, &uid), (CONTROLLER_UID, &uid)] {
        if labels.get(key).is_none() {
            labels[key] = json!(value);
        }
    }
    let selector = &mut job["spec"]["selector"];
    if !selector.is_object() {
        *selector = json!({});
    }
    if !selector["matchLabels"].is_object() {
        selector["matchLabels"] = json!({});
    }
    if selector["matchLabels"].get(CONTROLLER_UID).is_none() {
        selector["matchLabels"][CONTROLLER_UID] = json!(uid);
    }
}

/// ValidateGeneratedSelector (unless manual) and the selector checks of ValidateJobSpec.
fn validate_job_selector(rt: &ResourceType, job: &Value, manual: bool) -> Result<(), ApiError> {
    let (name, uid) = (job["metadata"]["name"].as_str().unwrap_or(""), job["metadata"]["uid"].as_str().unwrap_or(""));
    let selector = &job["spec"]["selector"];
    let labels = string_map(&job["spec"]["template"]["metadata"]["labels"]);
    let mut causes = Vec::new();
    if !manual && selector.is_object() {
        let path = "spec.template.metadata.labels";
        for (key, want) in [(LEGACY_CONTROLLER_UID, uid), (LEGACY_JOB_NAME, name), (CONTROLLER_UID, uid), (JOB_NAME, name)] {
            match labels.get(key) {
                None => causes.push(FieldCause {
                    reason: "FieldValueRequired",
                    field: format!("{path}[{key}]"),
                    message: format!("Required value: must be '{want}'"),
                }),
                Some(have) if have != want => causes.push(FieldCause {
                    reason: "FieldValueInvalid",
                    field: format!("{path}[{key}]"),
                    message: format!("Invalid value: {}: must be '{want}'", go_string_map(&labels)),
                }),
                Some(_) => {}
            }
        }
        let expected = BTreeMap::from([(LEGACY_CONTROLLER_UID.to_string(), uid.to_string()), (CONTROLLER_UID.to_string(), uid.to_string())]);
        if !selector_matches(selector, &expected) {
            causes.push(FieldCause {
                reason: "FieldValueInvalid",
                field: "spec.selector".into(),
                message: format!("Invalid value: {}: `selector` not auto-generated", go_label_selector(selector)),
            });
        }
    }
    causes.extend(spec_selector_causes(job));
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(&rt.gr(), &rt.kind, name, causes))
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect()).unwrap_or_default()
}

/// metav1.LabelSelectorAsSelector(...).Matches(labels): an empty selector matches everything.
fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    crate::selector::structured_selects(selector, |key| labels.get(key).map(String::as_str))
}

/// Go's `%#v` of a map[string]string (keys sorted, as fmt prints maps).
fn go_string_map(map: &BTreeMap<String, String>) -> String {
    let entries: Vec<String> = map.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
    format!("map[string]string{{{}}}", entries.join(", "))
}

/// Go's `%#v` of a metav1.LabelSelector.
fn go_label_selector(selector: &Value) -> String {
    let labels = match selector["matchLabels"].as_object() {
        Some(_) => go_string_map(&string_map(&selector["matchLabels"])),
        None => "map[string]string(nil)".into(),
    };
    let expressions = match selector["matchExpressions"].as_array() {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let each: Vec<String> = list
                .iter()
                .map(|e| {
                    let values = match e["values"].as_array() {
                        None => "[]string(nil)".to_string(),
                        Some(vs) => format!("[]string{{{}}}", vs.iter().map(|v| format!("{:?}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(", ")),
                    };
                    format!("v1.LabelSelectorRequirement{{Key:{:?}, Operator:{:?}, Values:{values}}}", e["key"].as_str().unwrap_or(""), e["operator"].as_str().unwrap_or(""))
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", each.join(", "))
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{expressions}}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    fn jobs() -> ResourceType {
        Registry::default().find("batch", "v1", "jobs").unwrap()
    }

    fn job(spec: Value) -> Value {
        json!({"metadata": {"name": "pi", "uid": "1a2b3c"}, "spec": spec})
    }

    #[test]
    fn a_job_gets_its_generated_selector_and_template_labels() {
        let mut j = job(json!({"template": {"metadata": {"labels": {"app": "pi"}}, "spec": {}}}));
        prepare_create(&jobs(), &mut j).unwrap();
        assert_eq!(j["spec"]["selector"], json!({"matchLabels": {CONTROLLER_UID: "1a2b3c"}}));
        assert_eq!(
            j["spec"]["template"]["metadata"]["labels"],
            json!({"app": "pi", CONTROLLER_UID: "1a2b3c", JOB_NAME: "pi", LEGACY_CONTROLLER_UID: "1a2b3c", LEGACY_JOB_NAME: "pi"})
        );
    }

    #[test]
    fn a_selector_not_generated_is_refused_with_the_real_words() {
        let mut j = job(json!({"selector": {"matchLabels": {"app": "other"}}, "template": {"metadata": {"labels": {"app": "pi"}}}}));
        let err = prepare_create(&jobs(), &mut j).unwrap_err();
        assert_eq!(err.code(), 422);
        assert_eq!(
            err.to_string(),
            "Job.batch \"pi\" is invalid: [spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"other\", \"batch.kubernetes.io/controller-uid\":\"1a2b3c\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated, \
spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"pi\", \"batch.kubernetes.io/controller-uid\":\"1a2b3c\", \"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"1a2b3c\", \"job-name\":\"pi\"}: `selector` does not match template `labels`]"
        );
    }

    #[test]
    fn a_job_selector_is_immutable() {
        let mut current = job(json!({"template": {"metadata": {"labels": {"app": "pi"}}}}));
        prepare_create(&jobs(), &mut current).unwrap();
        let mut next = current.clone();
        next["spec"]["parallelism"] = json!(2);
        validate_update(&jobs(), &current, &next).unwrap();
        next["spec"].as_object_mut().unwrap().remove("selector");
        let err = validate_update(&jobs(), &current, &next).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Job.batch \"pi\" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"pi\", \"batch.kubernetes.io/controller-uid\":\"1a2b3c\", \"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"1a2b3c\", \"job-name\":\"pi\"}: `selector` does not match template `labels`, spec.selector: Invalid value: \"null\": field is immutable]"
        );
    }

    #[test]
    fn a_manual_selector_is_kept_and_must_select_the_template() {
        let mut ok = job(json!({"manualSelector": true, "selector": {"matchLabels": {"app": "pi"}}, "template": {"metadata": {"labels": {"app": "pi"}}}}));
        prepare_create(&jobs(), &mut ok).unwrap();
        assert_eq!(ok["spec"]["template"]["metadata"]["labels"], json!({"app": "pi"}), "nothing generated");
        let mut bad = job(json!({"manualSelector": true, "selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "pi"}}}}));
        let err = prepare_create(&jobs(), &mut bad).unwrap_err();
        assert_eq!(err.to_string(), "Job.batch \"pi\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"pi\"}: `selector` does not match template `labels`");
        let mut none = job(json!({"manualSelector": true, "template": {}}));
        assert_eq!(
            prepare_create(&jobs(), &mut none).unwrap_err().to_string(),
            "Job.batch \"pi\" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid value: map[string]string{}: `selector` does not match template `labels`]",
            "a missing selector selects nothing"
        );
    }
}
