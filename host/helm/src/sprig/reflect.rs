//! Sprig's reflection functions (reflect.go): `typeOf`, `typeIs`,
//! `typeIsLike`, `kindOf`, `kindIs`, `deepEqual`; and the seeded
//! generator `shuffle` uses (no dependency: std's per-process random hash
//! keys seed a xorshift). Type and kind names are value.rs's.

use std::hash::{BuildHasher, Hasher};

use super::conv::*;
use crate::func::FuncMap;
use crate::value::Value;

pub fn register(m: &mut FuncMap) {
    fixed(m, "typeOf", 1, |a| Ok(Value::from(a[0].type_name())));
    fixed(m, "typeIs", 2, |a| Ok(Value::Bool(want_str(&a[0])? == a[1].type_name())));
    fixed(m, "typeIsLike", 2, |a| {
        let (want, got) = (want_str(&a[0])?, a[1].type_name());
        Ok(Value::Bool(want == got || format!("*{want}") == got))
    });
    fixed(m, "kindOf", 1, |a| Ok(Value::from(a[0].kind_name())));
    fixed(m, "kindIs", 2, |a| Ok(Value::Bool(want_str(&a[0])? == a[1].kind_name())));
    fixed(m, "deepEqual", 2, |a| Ok(Value::Bool(deep_equal(&a[0], &a[1])?)));
}

/// A xorshift64* generator seeded from std's random hash keys and the clock.
pub fn seeded_rng() -> impl FnMut() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    let mut state = h.finish() | 1;
    move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}
