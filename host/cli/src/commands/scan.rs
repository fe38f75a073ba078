//! `gantry scan IMAGE`: one image scanned standalone — from its registry
//! with the docker `config.json` credentials, or `docker:ID|NAME` from the
//! local engine — against the advisory store `gantry db import` wrote, and
//! the report written as a table, JSON, SARIF or an SBOM to stdout or a
//! file. Exit 0 when the scan ran (whatever it found), 2 for bad input, 1
//! when the image or the store could not be read. The policy's decision
//! (`--policy`) is the scan-policy work's. It also builds the scanner `gantry
//! run` gives every stage. It must not print a credential.

use std::path::PathBuf;
use std::sync::Arc;

use gantry_engine::exit;
use gantry_registry::Client;
use gantry_scan::report::{self, Format};
use gantry_scan::scan::{ScanOptions, Scanner};
use gantry_scan::store::{self, Store, StoreError};

use crate::output::{self, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The image: a registry reference (`registry.example/team/app:1`) or `docker:ID|NAME` for the local engine.
    pub image: String,
    /// `table`, `json` (the report), `sarif` (SARIF 2.1.0), `cyclonedx` (1.5 JSON) or `spdx` (2.3 JSON).
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: Format,
    /// Write the output to this file instead of stdout (`--output` is the global human/json switch).
    #[arg(short = 'o', long = "output-file", value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// The advisory store (default: $GANTRY_DB_DIR, else ~/.cache/gantry/db).
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// Do not look for credentials in the image.
    #[arg(long)]
    pub no_secrets: bool,
    /// Inventory only: no vulnerability matching.
    #[arg(long)]
    pub skip_vulnerabilities: bool,
    // `--policy P` (the scan-policy work) goes here; its decision gives the exit code.
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// The store in `dir` (or the default); None when none was imported yet.
pub fn open_store(dir: Option<PathBuf>) -> Result<Option<Arc<Store>>, String> {
    let Some(dir) = dir.or_else(store::default_dir) else {
        return Ok(None);
    };
    match Store::open(&dir) {
        Ok(s) => Ok(Some(Arc::new(s))),
        Err(StoreError::Missing { .. }) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The scanner `gantry run` gives every stage: the run's registry client
/// and the default advisory store (None without a client); policies run on
/// `runtime`, their `.wasm` paths read from `pipeline_dir`.
pub fn run_backend(client: Option<Client>, runtime: Arc<gantry_runtime::Runtime>, pipeline_dir: std::path::PathBuf) -> Result<gantry_runtime::ScanBackendRef, String> {
    let Some(client) = client else {
        return Ok(None);
    };
    let scanner = Scanner::new(Some(client)).store(open_store(None)?);
    Ok(Some(Arc::new(gantry_scan::backend::ScanService::new(scanner, runtime, pipeline_dir))))
}

pub async fn run(args: Args, ctx: Ctx) -> i32 {
    let store = match open_store(args.db.clone()) {
        Ok(s) => s,
        Err(e) => {
            output::error(ctx, &e);
            return exit::FAILED;
        }
    };
    if store.is_none() && !args.skip_vulnerabilities {
        if let Some(dir) = args.db.clone().or_else(store::default_dir) {
            tracing::warn!(dir = %dir.display(), "no advisory database: vulnerabilities are not checked; run `gantry db import`");
        }
    }
    let client = if args.image.starts_with(gantry_scan::scan::DOCKER_PREFIX) {
        None
    } else {
        match super::images::docker_config_client() {
            Ok(c) => Some(c),
            Err(e) => {
                output::error(ctx, &e);
                return exit::BAD_INPUT;
            }
        }
    };
    let scanner = Scanner::new(client).store(store);
    let options = ScanOptions { secrets: !args.no_secrets, skip_vulnerabilities: args.skip_vulnerabilities };
    let scanned = match scanner.scan(&args.image, options).await {
        Ok(s) => s,
        Err(e) => {
            output::error(ctx, &e.to_string());
            return match e {
                gantry_scan::scan::ScanError::Reference { .. } => exit::BAD_INPUT,
                _ => exit::FAILED,
            };
        }
    };
    for p in &scanned.problems {
        tracing::warn!(problem = %p, "package metadata not read");
    }
    tracing::info!(pull_ms = scanned.timings.pull.as_millis() as u64, walk_ms = scanned.timings.walk.as_millis() as u64, match_ms = scanned.timings.matching.as_millis() as u64, streamed = scanned.streamed, "scanned");
    let os = scanned.os.as_ref();
    let text = report::render(&scanned.report, os, args.format, &gantry_scan::sbom::now_rfc3339(), env!("CARGO_PKG_VERSION"));
    match &args.output_file {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                output::error(ctx, &format!("cannot write the report to {}: {e}", path.display()));
                return exit::FAILED;
            }
        }
        None => print!("{text}"),
    }
    exit::SUCCESS
}
