//! placeholder
use crate::func::FuncMap;

pub fn register(_m: &mut FuncMap) {}
