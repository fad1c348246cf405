//! The `xmpp-interop` command line.

fn main() {}
