//! Sprig's `semver` and `semverCompare` with Masterminds/semver v3's rules
//! (the version Helm links): `NewVersion`'s coercing parse ("v1.2" is
//! 1.2.0), its error texts, and constraint checking (`^`, `~`, x-ranges,
//! `a - b` ranges, `||`, commas, pre-releases only matched by constraints
//! that name one). The grammar is Masterminds' own regular expressions,
//! run with Go's semantics through regex.rs. `semver` returns a
//! `*semver.Version` object with its methods (`Major`, `Minor`, `Patch`,
//! `Prerelease`, `Metadata`, `Original`, `String`, `Compare`, `LessThan`,
//! `GreaterThan`, `Equal`, `IncMajor`, `IncMinor`, `IncPatch`).
//! The version and constraint logic itself is crate::semver (shared with
//! the chart loader); this file only adapts it to template values.

use std::cmp::Ordering;
use std::sync::Arc;

use super::conv::*;
use crate::func::{FuncError, FuncMap};
use crate::semver::{Constraints, Version};
use crate::value::{IntType, Member, Object, Value};

pub fn register(m: &mut FuncMap) {
    fixed(m, "semver", 1, |a| {
        let v = Version::parse(want_str(&a[0])?).map_err(FuncError::call)?;
        Ok(Value::Object(Arc::new(SemverObject { v, pointer: true })))
    });
    fixed(m, "semverCompare", 2, |a| {
        let (c, v) = (want_str(&a[0])?, want_str(&a[1])?);
        let c = Constraints::parse(c).map_err(FuncError::call)?;
        let v = Version::parse(v).map_err(FuncError::call)?;
        Ok(Value::Bool(c.check(&v)))
    });
}

/// `*semver.Version` (or `semver.Version` from the `Inc*` methods) as a
/// template object.
#[derive(Debug)]
struct SemverObject {
    v: Version,
    pointer: bool,
}

fn other_version(args: &[Value], name: &str) -> Result<Version, FuncError> {
    crate::func::arity(name, args, 1)?;
    match &args[0] {
        Value::Object(o) if o.type_name() == "*semver.Version" => Version::parse(&o.format()).map_err(FuncError::call),
        other => Err(wrong_type("*semver.Version", other)),
    }
}

impl Object for SemverObject {
    fn type_name(&self) -> String {
        if self.pointer { "*semver.Version" } else { "semver.Version" }.into()
    }

    fn member(&self, name: &str) -> Option<Member> {
        let v = self.v.clone();
        let u = |x: u64| Value::Int(x as i64, IntType::Uint64);
        type MethodFn = Box<dyn Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync>;
        let method = |f: MethodFn| Some(Member::Method(Arc::from(f)));
        let nullary = |name: &'static str, val: Value| {
            method(Box::new(move |a: &[Value]| {
                crate::func::arity(name, a, 0)?;
                Ok(val.clone())
            }))
        };
        match name {
            "Major" => nullary("Major", u(v.major)),
            "Minor" => nullary("Minor", u(v.minor)),
            "Patch" => nullary("Patch", u(v.patch)),
            "Prerelease" => nullary("Prerelease", Value::from(v.pre.clone())),
            "Metadata" => nullary("Metadata", Value::from(v.metadata.clone())),
            "Original" => nullary("Original", Value::from(v.original.clone())),
            "String" => nullary("String", Value::from(v.to_go_string())),
            "IncMajor" | "IncMinor" | "IncPatch" => {
                let which = match name {
                    "IncMajor" => 0,
                    "IncMinor" => 1,
                    _ => 2,
                };
                nullary("Inc", Value::Object(Arc::new(SemverObject { v: v.inc(which), pointer: false })))
            }
            "Compare" => method(Box::new(move |a: &[Value]| {
                let o = other_version(a, "Compare")?;
                Ok(Value::int(v.compare(&o) as i64))
            })),
            "LessThan" => method(Box::new(move |a: &[Value]| Ok(Value::Bool(v.compare(&other_version(a, "LessThan")?) == Ordering::Less)))),
            "GreaterThan" => method(Box::new(move |a: &[Value]| Ok(Value::Bool(v.compare(&other_version(a, "GreaterThan")?) == Ordering::Greater)))),
            "Equal" => method(Box::new(move |a: &[Value]| Ok(Value::Bool(v.compare(&other_version(a, "Equal")?) == Ordering::Equal)))),
            _ => None,
        }
    }

    fn format(&self) -> String {
        self.v.to_go_string()
    }

    fn marshal(&self) -> Value {
        Value::from(self.v.to_go_string())
    }

    fn kind(&self) -> &'static str {
        if self.pointer {
            "ptr"
        } else {
            "struct"
        }
    }
}

