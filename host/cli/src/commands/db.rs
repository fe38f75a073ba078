//! `gantry db import PATH...` and `gantry db status`: the local advisory
//! store `gantry scan` and the scan stage match from — OSV JSON (a
//! directory, a zip as osv.dev publishes per ecosystem, or one file)
//! imported into one indexed file, and what it holds. It must not match or
//! scan.

use std::path::PathBuf;

use gantry_engine::exit;
use gantry_scan::store::{self, Store, StoreError};

use crate::output::{self, Ctx};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Import OSV advisories (directories, zips or files of OSV JSON), replacing the store.
    Import {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// The store (default: $GANTRY_DB_DIR, else ~/.cache/gantry/db).
        #[arg(long, value_name = "DIR")]
        db: Option<PathBuf>,
    },
    /// What the store holds, and when it was imported.
    Status {
        /// The store (default: $GANTRY_DB_DIR, else ~/.cache/gantry/db).
        #[arg(long, value_name = "DIR")]
        db: Option<PathBuf>,
    },
}

fn dir(db: Option<PathBuf>, ctx: Ctx) -> Result<PathBuf, i32> {
    db.or_else(store::default_dir).ok_or_else(|| {
        output::error(ctx, "no advisory store directory: set HOME, GANTRY_DB_DIR or give --db DIR");
        exit::BAD_INPUT
    })
}

pub fn run(cmd: Command, ctx: Ctx) -> i32 {
    let json = matches!(ctx.format, output::Format::Json);
    match cmd {
        Command::Import { paths, db } => {
            let dir = match dir(db, ctx) {
                Ok(d) => d,
                Err(c) => return c,
            };
            let sources: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
            match store::import(&dir, &sources) {
                Ok(summary) => {
                    if json {
                        println!("{}", serde_json::json!({"store": summary.path, "metadata": summary.metadata, "skipped": summary.skipped.iter().map(|s| format!("{}: {}", s.file, s.reason)).collect::<Vec<_>>()}));
                    } else {
                        let m = &summary.metadata;
                        println!("imported {} advisories ({} packages) into {}", m.advisories, m.packages, summary.path.display());
                        if m.skipped > 0 || m.unsupported > 0 {
                            println!("skipped {} files that are not OSV advisories, {} advisories about ecosystems gantry does not scan", m.skipped, m.unsupported);
                        }
                        for s in summary.skipped.iter().take(20) {
                            println!("  skipped {}: {}", s.file, s.reason);
                        }
                    }
                    exit::SUCCESS
                }
                Err(e) => {
                    output::error(ctx, &e.to_string());
                    exit::FAILED
                }
            }
        }
        Command::Status { db } => {
            let dir = match dir(db, ctx) {
                Ok(d) => d,
                Err(c) => return c,
            };
            match Store::open(&dir) {
                Ok(s) => {
                    if json {
                        println!("{}", serde_json::json!({"store": s.path(), "metadata": s.metadata()}));
                    } else {
                        println!("{}", s.path().display());
                        println!("{}", s.metadata().describe());
                    }
                    exit::SUCCESS
                }
                Err(e @ StoreError::Missing { .. }) => {
                    output::error(ctx, &e.to_string());
                    exit::FAILED
                }
                Err(e) => {
                    output::error(ctx, &e.to_string());
                    exit::FAILED
                }
            }
        }
    }
}
