//! Host-side bindings of the `gantry:deploy` WIT package.
//!
//! `plugin_host` links every capability interface once; each plugin world's
//! bindings reuse its types (`with`), so a `CapError` or `TargetInfo` is one
//! Rust type whichever world a plugin belongs to. Nothing here holds logic.

pub mod plugin_host {
    wasmtime::component::bindgen!({
        world: "plugin-host",
        path: "../../wit",
        imports: { default: async | trappable },
    });
}

pub mod stage {
    wasmtime::component::bindgen!({
        world: "stage",
        path: "../../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: { "gantry:deploy": crate::bindings::plugin_host::gantry::deploy },
    });
}

pub mod scan_policy {
    wasmtime::component::bindgen!({
        world: "scan-policy",
        path: "../../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: { "gantry:deploy": crate::bindings::plugin_host::gantry::deploy },
    });
}

pub mod health_check {
    wasmtime::component::bindgen!({
        world: "health-check",
        path: "../../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: { "gantry:deploy": crate::bindings::plugin_host::gantry::deploy },
    });
}

pub mod canary_analysis {
    wasmtime::component::bindgen!({
        world: "canary-analysis",
        path: "../../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: { "gantry:deploy": crate::bindings::plugin_host::gantry::deploy },
    });
}

pub use plugin_host::gantry::deploy as wit;
