//! Every Sprig function Helm exposes (Sprig v3's `TxtFuncMap` without `env`
//! and `expandenv`), family by family. [`funcs`] is the map; each family
//! file registers its own. `conv` holds what the families share: Go's
//! argument checks, Sprig's conversions, `empty` and `DeepEqual`.

use crate::func::FuncMap;

mod certs;
pub(crate) mod conv;
mod crypto;
#[cfg(test)]
mod crypto_testkit;
mod dates;
mod der;
pub(crate) mod dicts;
pub(crate) mod encoding;
pub mod gotime;
mod lists;
mod numeric;
#[cfg(test)]
mod oracle;
pub(crate) mod paths;
mod random;
mod reflect;
pub(crate) mod regex;
mod semver;
mod strings;
mod urls;

/// Sprig's functions as Helm's templates have them.
pub fn funcs() -> FuncMap {
    let mut m = FuncMap::new();
    crypto::register(&mut m);
    dates::register(&mut m);
    encoding::register(&mut m);
    random::register(&mut m);
    strings::register(&mut m);
    numeric::register(&mut m);
    lists::register(&mut m);
    dicts::register(&mut m);
    reflect::register(&mut m);
    regex::register(&mut m);
    semver::register(&mut m);
    paths::register(&mut m);
    urls::register(&mut m);
    m
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::func::{Call, FuncError, Host};
    use crate::value::Value;

    /// A host for calling functions that never use it.
    pub struct NoHost;

    impl Host for NoHost {
        fn execute_named(&mut self, name: &str, _: &Value) -> Result<String, FuncError> {
            Err(FuncError::call(format!("no template {name}")))
        }
        fn execute_text(&mut self, _: &str, _: &Value) -> Result<String, FuncError> {
            Err(FuncError::call("no templates"))
        }
    }

    /// Calls Sprig's `name` with `args`.
    pub fn call(name: &str, args: &[Value]) -> Result<Value, FuncError> {
        let m = funcs();
        let f = m.get(name).unwrap_or_else(|| panic!("no function {name}")).clone();
        let mut host = NoHost;
        let mut c = Call { name, host: &mut host };
        f(&mut c, args)
    }
}
