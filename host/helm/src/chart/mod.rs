//! Charts as Helm loads them: directories and `.tgz` packages, Chart.yaml
//! (v1 and v2), `.helmignore`, `charts/` dependencies (condition, tags,
//! alias, import-values), library charts, `crds/`, and `.Files`.
