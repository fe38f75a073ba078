//! Go's `text/template`: lexer, parser, executor and the builtins (`and`,
//! `or`, `not`, `len`, `index`, `slice`, `eq`…, `print`, `printf`,
//! `println`, `html`, `js`, `urlquery`, `call`), and Go's `fmt` as templates
//! use it. Errors are worded as Go words them
//! (`template: NAME:LINE:COL: executing "NAME" at <…>: …`).

pub mod fmt;
