//! The command line's own documentation, generated from its clap definitions: shell
//! completions (`completions bash|zsh|fish|elvish|powershell`, clap_complete) and the man page
//! (`man`, roff from clap_mangen). Both print to stdout, for packagers and users to install.

use std::io::Write as _;

use clap::Args;
use clap_complete::Shell;

use super::exit::ExitStatus;

/// The options of `completions`.
#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    shell: Shell,
}

/// Prints the completion script of `command` for the shell asked for.
pub fn completions(args: CompletionsArgs, mut command: clap::Command) -> ExitStatus {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "xmpp-interop", &mut script);
    print(&script)
}

/// Prints the man page of `command` (section 1, roff).
pub fn man(command: clap::Command) -> ExitStatus {
    let mut page = Vec::new();
    match clap_mangen::Man::new(command).render(&mut page) {
        Ok(()) => print(&page),
        Err(e) => {
            ExitStatus::ENVIRONMENT.after_error(format_args!("cannot render the man page: {e}"))
        }
    }
}

/// Writes `bytes` to stdout; a closed stdout is an environment error.
fn print(bytes: &[u8]) -> ExitStatus {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitStatus::SUCCESS,
        Err(e) => ExitStatus::ENVIRONMENT.after_error(format_args!("cannot write to stdout: {e}")),
    }
}
