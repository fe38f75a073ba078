//! Every Sprig function Helm exposes (Sprig v3's `TxtFuncMap` without `env`
//! and `expandenv`), family by family. [`funcs`] is the map; each family
//! file registers its own.

use crate::func::FuncMap;

mod certs;
mod crypto;
mod dates;
mod der;
mod encoding;
pub mod gotime;
mod random;
#[cfg(test)]
mod crypto_testkit;

/// Sprig's functions as Helm's templates have them.
pub fn funcs() -> FuncMap {
    let mut m = FuncMap::new();
    crypto::register(&mut m);
    dates::register(&mut m);
    encoding::register(&mut m);
    random::register(&mut m);
    m
}
