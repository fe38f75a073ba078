//! Values as Helm builds them: chart defaults coalesced with parents'
//! overrides, `-f` files, `--set`, `--set-string`, `--set-file` and
//! `--set-json` (Helm's strvals grammar), globals, and `values.schema.json`.
