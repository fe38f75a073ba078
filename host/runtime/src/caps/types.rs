//! Interfaces that only hold types need an (empty) `Host` implementation.

use crate::bindings::wit::{analysis_types, health_types, scan_types, stage_types, types};
use crate::sandbox::HostState;

impl types::Host for HostState {}
impl scan_types::Host for HostState {}
impl stage_types::Host for HostState {}
impl health_types::Host for HostState {}
impl analysis_types::Host for HostState {}
