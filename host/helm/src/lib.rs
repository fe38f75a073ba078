//! The Helm engine: charts (directories and `.tgz`), values (defaults,
//! `-f` files, `--set*`), and Go `text/template` with Sprig and Helm's own
//! functions, rendered byte for byte as Helm renders them. Real Helm (its Go
//! library, through helm-python-sdk) is the judge: see `tests/`.
//!
//! The parts, one concern each:
//! - [`value`]: the Go values templates see (the dynamic types Helm's
//!   `map[string]interface{}` values, Sprig's results and Helm's objects have).
//! - [`func`]: how the template executor calls functions, and what it offers them.
//! - [`template`]: Go's `text/template` — lexer, parser, executor, `fmt`.
//! - [`sprig`]: every Sprig function Helm exposes.
//! - [`yaml`]: YAML and JSON as Helm reads and writes them (sigs.k8s.io/yaml,
//!   encoding/json), and TOML (`toToml`).
//! - [`chart`]: loading charts, `.helmignore`, dependencies, `.Files`.
//! - [`semver`]: Masterminds semver versions and ranges, shared by the chart
//!   checks (`version`, dependency ranges, `kubeVersion`) and Sprig's `semver*`.
//! - [`values`]: coalescing, the `--set` grammar, `values.schema.json`.
//! - [`helmfuncs`]: Helm's own functions (`include`, `tpl`, `required`, …)
//!   and objects (`.Capabilities`, `.Files`, `.Release`).
//! - [`engine`]: Helm's render of a chart and its subcharts.

pub mod chart;
pub mod engine;
pub mod func;
pub mod helmfuncs;
pub mod semver;
pub mod sprig;
pub mod template;
#[cfg(any(test, feature = "oracle"))]
pub mod oracle;
pub mod value;
pub mod values;
pub mod yaml;
