//! `examples/fastapi-app/gantry-gateway.yaml`, the request's pipeline with
//! traffic stepped by Gateway API weights, read as `gantry validate` reads
//! it: it loads with the request's variables and plans with the built-ins
//! (the `weight` stages are `builtin:helm-deploy`), its targets, release and
//! variables are `gantry.yaml`'s, both releases get Gateway API mode with a
//! Gateway parentRef (the YAML alias carries the canary's values to the
//! promotion), and the weights rise 10 → 50 → 100 with an analysis after
//! each step but the last. Running such a pipeline is `traffic.rs`'s; this
//! file runs nothing.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

const GATEWAY: &str = "examples/fastapi-app/gantry-gateway.yaml";
const REQUEST: &str = "examples/fastapi-app/gantry.yaml";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}


fn load(path: &str) -> gantry_engine::Pipeline {
    gantry_engine::load(&root().join(path), &crate::common::request_job_vars()).unwrap_or_else(|problems| panic!("{path}: {problems}"))
}

fn with(pipeline: &gantry_engine::Pipeline, stage: &str) -> Value {
    let s = pipeline.spec.stages.iter().find(|s| s.name == stage).unwrap_or_else(|| panic!("{GATEWAY}: no stage {stage}"));
    s.with.clone().unwrap_or_default()
}

#[test]
fn the_gateway_example_steps_weights_with_analysis_between_and_plans() {
    let gateway = load(GATEWAY);
    let request = load(REQUEST);
    assert_eq!(gateway.used_vars, request.used_vars, "the request's variables, no more");
    assert_eq!(format!("{:?}", gateway.spec.targets), format!("{:?}", request.spec.targets), "gantry.yaml's targets");
    assert_eq!(format!("{:?}", gateway.spec.release), format!("{:?}", request.spec.release), "gantry.yaml's release");

    let stages: Vec<(&str, &str)> = gateway.spec.stages.iter().map(|s| (s.name.as_str(), s.uses.as_str())).collect();
    assert_eq!(
        stages,
        [
            ("build", "builtin:build"),
            ("scan", "builtin:scan"),
            ("deploy-canary", "builtin:helm-deploy"),
            ("health-check-canary", "builtin:health-http"),
            ("shift-10", "builtin:helm-deploy"),
            ("analyse-10", "builtin:canary-analysis"),
            ("shift-50", "builtin:helm-deploy"),
            ("analyse-50", "builtin:canary-analysis"),
            ("shift-100", "builtin:helm-deploy"),
            ("promote-to-production", "builtin:helm-deploy"),
            ("health-check-production", "builtin:health-http"),
        ]
    );
    for w in [10, 50, 100] {
        assert_eq!(with(&gateway, &format!("shift-{w}")), json!({ "weight": w }), "a weight stage sets only the weight");
    }

    // Gateway API mode on both releases, attached to a Gateway; the alias gives the promotion the canary's values.
    let canary = with(&gateway, "deploy-canary");
    let promote = with(&gateway, "promote-to-production");
    assert_eq!(canary["track"], "canary");
    assert_eq!(promote["track"], "stable");
    assert_eq!(canary["values"], promote["values"], "the same Gateway API values on both releases");
    assert_eq!(promote["values"]["httpRoute"]["enabled"], true);
    assert!(promote["values"]["httpRoute"]["parentRefs"][0]["name"].as_str().is_some_and(|n| !n.is_empty()), "a Gateway parentRef: {promote}");
    assert_eq!(with(&gateway, "analyse-10")["duration"], "2m");

    let runtime = gantry_runtime::Runtime::new(gantry_runtime::RuntimeConfig::default()).unwrap();
    let plan = gantry_engine::plan(gateway, &runtime).unwrap_or_else(|problems| panic!("{GATEWAY} does not plan: {problems}"));
    assert_eq!((plan.stages.len(), plan.on_failure.as_ref().map(|s| s.uses.as_str())), (11, Some("builtin:rollback")));
}
