//! `run`: the run's identity and the results of earlier stages.

use crate::bindings::wit::run::{Host, RunInfo, StageRecord};
use crate::bindings::wit::types::{ImageInfo, ReleaseInfo, TargetInfo, TargetKind};
use crate::context;
use crate::sandbox::HostState;

pub(crate) fn target_info(t: &context::TargetInfo) -> TargetInfo {
    TargetInfo {
        name: t.name.clone(),
        kind: match t.kind {
            context::TargetKind::Eks => TargetKind::Eks,
            context::TargetKind::Gke => TargetKind::Gke,
            context::TargetKind::Kubeconfig => TargetKind::Kubeconfig,
            context::TargetKind::Sim => TargetKind::Sim,
        },
        cluster: t.cluster.clone(),
        region: t.region.clone(),
        registry: t.registry.clone(),
    }
}

impl Host for HostState {
    async fn info(&mut self) -> wasmtime::Result<RunInfo> {
        let run = &self.env.run;
        Ok(RunInfo {
            run_id: run.run_id.clone(),
            pipeline: run.pipeline.clone(),
            stage: run.stage.clone(),
            recovering: run.recovering,
            targets: run.targets.iter().map(target_info).collect(),
            image: run.image.as_ref().map(|i| ImageInfo { name: i.name.clone(), tag: i.tag.clone(), digest: i.digest.clone() }),
            release: run.release.as_ref().map(|r| ReleaseInfo { name: r.name.clone(), chart: r.chart.clone(), namespace: r.namespace.clone() }),
            revision: run.revision.clone(),
        })
    }

    async fn history(&mut self) -> wasmtime::Result<Vec<StageRecord>> {
        Ok(self
            .env
            .run
            .history
            .iter()
            .map(|r| StageRecord {
                stage: r.stage.clone(),
                target: r.target.clone(),
                status: r.status.clone(),
                outputs: r.outputs.to_string(),
            })
            .collect())
    }
}
