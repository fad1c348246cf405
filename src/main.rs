//! The `xmpp-interop` binary: the command line in [`cli`], the harness in the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
