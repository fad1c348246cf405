//! Exit codes, in one place: the numbers users and CI scripts see, as named constants, and for
//! every subcommand the codes it returns with what each means there. Each subcommand's
//! `--help` "Exit codes:" block is made from its table, and the dispatcher checks (in debug
//! builds) that a subcommand returned only a code its table lists, so help and code cannot
//! drift apart.

use std::fmt;
use std::process::ExitCode;

use xmpp_interop::runner::Interruption;

/// How the process ends; the only way the CLI makes an [`ExitCode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitStatus(u8);

impl ExitStatus {
    /// Everything went as predicted.
    pub const SUCCESS: ExitStatus = ExitStatus(0);
    /// What was checked did not hold: a case failed unexpectedly, a cell regressed, a
    /// certificate is invalid, a message did not go as its profile says.
    pub const UNEXPECTED_FAILURE: ExitStatus = ExitStatus(1);
    /// Bad arguments, or an input file that cannot be loaded (clap uses 2 for its own errors).
    pub const USAGE: ExitStatus = ExitStatus(2);
    /// The harness or the environment broke, or not everything could run or be written.
    pub const ENVIRONMENT: ExitStatus = ExitStatus(3);
    /// Interrupted by SIGINT: 128 + 2.
    pub const INTERRUPTED_INT: ExitStatus = ExitStatus(130);
    /// Interrupted by SIGTERM: 128 + 15.
    pub const INTERRUPTED_TERM: ExitStatus = ExitStatus(143);

    /// The number the process exits with.
    pub fn code(self) -> u8 {
        self.0
    }

    /// The status of a run stopped early: 130 or 143 for a signal, 3 for `--deadline` (cases
    /// did not run).
    pub fn of_interruption(why: &Interruption) -> ExitStatus {
        match why {
            Interruption::Interrupt => ExitStatus::INTERRUPTED_INT,
            Interruption::Terminate => ExitStatus::INTERRUPTED_TERM,
            Interruption::Deadline(_) => ExitStatus::ENVIRONMENT,
        }
    }

    /// Ends the process at once with this status (a second signal: no reports are finished).
    pub fn exit_now(self) -> ! {
        std::process::exit(i32::from(self.0))
    }

    /// Prints `error: {message}` to stderr and returns this status.
    pub fn after_error(self, message: impl fmt::Display) -> ExitStatus {
        eprintln!("error: {message}");
        self
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status.0)
    }
}

/// The exit codes one subcommand returns, each with what it means there.
pub struct ExitCodes {
    /// The block's first line, e.g. `Exit codes:`.
    heading: &'static str,
    /// Each line: the statuses it covers (130 and 143 share one) and their meaning; a meaning
    /// may continue on further lines, indented by five spaces.
    lines: &'static [(&'static [ExitStatus], &'static str)],
}

impl ExitCodes {
    /// The "Exit codes:" block of the subcommand's `--help`.
    pub fn help(&self) -> String {
        let mut text = self.heading.to_owned();
        for (statuses, meaning) in self.lines {
            let codes: Vec<String> = statuses.iter().map(|s| s.code().to_string()).collect();
            text.push_str(&format!("\n  {}  {meaning}", codes.join(", ")));
        }
        text
    }

    /// Whether `status` is one of the codes this table documents.
    pub fn documents(&self, status: ExitStatus) -> bool {
        self.lines
            .iter()
            .any(|(statuses, _)| statuses.contains(&status))
    }
}

/// Several blocks in one help text (`certify --help` shows its subcommands' codes too).
pub fn help_of(blocks: &[&ExitCodes]) -> String {
    let texts: Vec<String> = blocks.iter().map(|block| block.help()).collect();
    texts.join("\n")
}

const INTERRUPTED: &[ExitStatus] = &[ExitStatus::INTERRUPTED_INT, ExitStatus::INTERRUPTED_TERM];

/// `run`.
pub const RUN: ExitCodes = ExitCodes {
    heading: "Exit codes:",
    lines: &[
        (
            &[ExitStatus::SUCCESS],
            "every case ended as its scenario (or a recorded expected deviation) predicts",
        ),
        (
            &[ExitStatus::UNEXPECTED_FAILURE],
            "at least one case failed unexpectedly, or passed although a deviation is recorded
     (and none hit an error); with --strict also a SHOULD deviation (`warn`)",
        ),
        (
            &[ExitStatus::USAGE],
            "usage error, or a scenario, targets or expectations file could not be loaded",
        ),
        (
            &[ExitStatus::ENVIRONMENT],
            "harness or environment error: at least one case could not be run (an `error` case, or
     `--deadline` was reached and cases are `not-run`), or reports could not be written",
        ),
        (
            INTERRUPTED,
            "interrupted by SIGINT / SIGTERM: every managed server and command client was
     stopped, and every report was written, the unfinished cases as `not-run`; a second
     signal exits at once, without reports",
        ),
    ],
};

/// `probe`.
pub const PROBE: ExitCodes = ExitCodes {
    heading: "Exit codes:",
    lines: &[
        (
            &[ExitStatus::SUCCESS],
            "no endpoint broke a MUST (grade A or B)",
        ),
        (
            &[ExitStatus::UNEXPECTED_FAILURE],
            "at least one endpoint broke a MUST or MUST NOT (grade F), or with --account a
     scenario case did (`fail`)",
        ),
        (
            &[ExitStatus::USAGE],
            "usage error, an unreadable --root or --password-file, an --account not of DOMAIN,
     or DNS gave no answer (no endpoint to probe)",
        ),
        (
            &[ExitStatus::ENVIRONMENT],
            "no endpoint could be reached over TCP, the system's roots could not be read, the
     reports could not be written, or with --account the pre-flight login failed or a
     scenario case ended `error`",
        ),
    ],
};

/// `xmpp-interop --help`: the codes of `run`, the subcommand most people script.
pub const TOP_LEVEL: ExitCodes = ExitCodes {
    heading: "Exit codes of `run` (every subcommand's --help lists its own):",
    lines: RUN.lines,
};

/// `list`.
pub const LIST: ExitCodes = ExitCodes {
    heading: "Exit codes:",
    lines: &[
        (&[ExitStatus::SUCCESS], "the cases were listed"),
        (
            &[ExitStatus::USAGE],
            "usage error, or a scenario file could not be loaded",
        ),
    ],
};

/// `pki generate`.
pub const PKI_GENERATE: ExitCodes = ExitCodes {
    heading: "Exit codes:",
    lines: &[
        (&[ExitStatus::SUCCESS], "the files were written"),
        (
            &[ExitStatus::USAGE],
            "usage error: bad domain, profile or key type",
        ),
        (&[ExitStatus::ENVIRONMENT], "the files could not be written"),
    ],
};

/// `pki show`.
pub const PKI_SHOW: ExitCodes = ExitCodes {
    heading: "Exit codes:",
    lines: &[
        (&[ExitStatus::SUCCESS], "the certificates were described"),
        (
            &[ExitStatus::USAGE],
            "usage error, or a file that is unreadable or holds no PEM certificate",
        ),
    ],
};

/// `certify` (issuing a certificate).
pub const CERTIFY: ExitCodes = ExitCodes {
    heading: "Exit codes of `certify`:",
    lines: &[
        (
            &[ExitStatus::SUCCESS],
            "the verdict is pass: every required case passed",
        ),
        (
            &[ExitStatus::UNEXPECTED_FAILURE],
            "the verdict is fail or incomplete (a required case failed, was skipped without the
     profile allowing it, or did not run)",
        ),
        (
            &[ExitStatus::USAGE],
            "usage error, or a profile, scenario, targets or key file could not be loaded (a profile
     naming a scenario id or tag that matches nothing is such an error)",
        ),
        (
            &[ExitStatus::ENVIRONMENT],
            "harness or environment error: a case hit an error, or the certificate could not be
     written",
        ),
        (
            INTERRUPTED,
            "interrupted by SIGINT / SIGTERM: no certificate is issued; the run's reports are
     written, the unfinished cases as `not-run`",
        ),
    ],
};

/// `certify verify`.
pub const CERTIFY_VERIFY: ExitCodes = ExitCodes {
    heading: "Exit codes of `certify verify`:",
    lines: &[
        (
            &[ExitStatus::SUCCESS],
            "valid: the signature holds and every scenario file has its recorded SHA-256",
        ),
        (
            &[ExitStatus::UNEXPECTED_FAILURE],
            "invalid, with the reason",
        ),
        (
            &[ExitStatus::USAGE],
            "bad input: unreadable or malformed certificate or public key",
        ),
    ],
};

/// `certify keygen`.
pub const CERTIFY_KEYGEN: ExitCodes = ExitCodes {
    heading: "Exit codes of `certify keygen`:",
    lines: &[
        (&[ExitStatus::SUCCESS], "written"),
        (
            &[ExitStatus::USAGE],
            "usage error, or the private key file exists already",
        ),
        (&[ExitStatus::ENVIRONMENT], "cannot write"),
    ],
};

/// `diff`.
pub const DIFF: ExitCodes = ExitCodes {
    heading: "Exit codes:",
    lines: &[
        (
            &[ExitStatus::SUCCESS],
            "no cell regressed (cells may have changed, been added or removed)",
        ),
        (
            &[ExitStatus::UNEXPECTED_FAILURE],
            "at least one cell that was acceptable in OLD (PASS, WARN, UNSUPPORTED, INCONCLUSIVE, INFO,
     SKIP, XFAIL, XWARN) is not in NEW (FAIL, XPASS, ERROR, or a recorded deviation that
     ended otherwise), or a cell is NOT RUN in NEW (an interrupted run) and was not in OLD",
        ),
        (
            &[ExitStatus::USAGE],
            "usage error, or a file that cannot be read or is not a results.json (file:line:column)",
        ),
    ],
};

/// `merge`.
pub const MERGE: ExitCodes = ExitCodes {
    heading: "Exit codes:",
    lines: &[
        (
            &[ExitStatus::SUCCESS],
            "every merged case ended as its scenario (or a recorded expected deviation) predicts",
        ),
        (
            &[ExitStatus::UNEXPECTED_FAILURE],
            "at least one merged case failed unexpectedly or passed although a deviation is recorded
     (with --strict: or did not follow a SHOULD)",
        ),
        (
            &[ExitStatus::USAGE],
            "usage error, a file that cannot be read or is not a results.json (file:line:column), a
     cell (case × target) present in two files, files that are not every shard 1..N of one
     run (shards missing without --allow-partial, a shard twice, different N, a whole run's
     file among shards)",
        ),
        (
            &[ExitStatus::ENVIRONMENT],
            "a merged case is an error or not-run (a shard was interrupted), or the reports could not
     be written",
        ),
    ],
};

/// `pairs`.
pub const PAIRS: ExitCodes = ExitCodes {
    heading: "Exit codes:",
    lines: &[
        (
            &[ExitStatus::SUCCESS],
            "every message went as its profile says",
        ),
        (&[ExitStatus::UNEXPECTED_FAILURE], "at least one did not"),
        (
            &[ExitStatus::USAGE],
            "usage error, or the targets file could not be loaded or has no managed server",
        ),
        (
            &[ExitStatus::ENVIRONMENT],
            "harness or environment error: a server did not start, a login failed, `--deadline` was
     reached (the unfinished pairs are `not-run`), or reports could not be written",
        ),
        (
            INTERRUPTED,
            "interrupted by SIGINT / SIGTERM: every managed server was stopped, and every report
     was written, the unfinished pairs as `not-run`; a second signal exits at once, without
     reports",
        ),
    ],
};

/// `scenarios export`.
pub const SCENARIOS_EXPORT: ExitCodes = ExitCodes {
    heading: "Exit codes:",
    lines: &[
        (&[ExitStatus::SUCCESS], "every shipped file was written"),
        (
            &[ExitStatus::USAGE],
            "usage error, or files exist already (nothing is written; --force overwrites them)",
        ),
        (
            &[ExitStatus::ENVIRONMENT],
            "a directory or file could not be written",
        ),
    ],
};

/// `init`.
pub const INIT: ExitCodes = ExitCodes {
    heading: "Exit codes:",
    lines: &[
        (&[ExitStatus::SUCCESS], "the files were written"),
        (
            &[ExitStatus::USAGE],
            "usage error: bad domain, software, key type or name, or a directory with files
     (nothing is written; --force overwrites)",
        ),
        (&[ExitStatus::ENVIRONMENT], "the files could not be written"),
    ],
};

/// `completions` and `man`.
pub const PRINTED: ExitCodes = ExitCodes {
    heading: "Exit codes:",
    lines: &[
        (&[ExitStatus::SUCCESS], "printed"),
        (&[ExitStatus::USAGE], "usage error"),
        (&[ExitStatus::ENVIRONMENT], "stdout could not be written"),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_block_lists_each_code_with_its_meaning_and_shares_a_line_for_the_signals() {
        let help = RUN.help();
        assert!(help.starts_with("Exit codes:\n  0  every case"), "{help}");
        assert!(
            help.contains("\n  130, 143  interrupted by SIGINT"),
            "{help}"
        );
        assert!(RUN.documents(ExitStatus::INTERRUPTED_TERM));
        assert!(!LIST.documents(ExitStatus::ENVIRONMENT));
        assert!(!PKI_SHOW.documents(ExitStatus::ENVIRONMENT));
    }

    #[test]
    fn the_numbers_users_see_stay_what_they_were() {
        let numbers = [
            ExitStatus::SUCCESS,
            ExitStatus::UNEXPECTED_FAILURE,
            ExitStatus::USAGE,
            ExitStatus::ENVIRONMENT,
            ExitStatus::INTERRUPTED_INT,
            ExitStatus::INTERRUPTED_TERM,
        ]
        .map(ExitStatus::code);
        assert_eq!(numbers, [0, 1, 2, 3, 130, 143]);
    }
}
