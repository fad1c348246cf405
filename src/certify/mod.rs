//! Certification: run exactly a profile's required scenarios against one target (through the
//! runner, like `run`) and issue `certificate.json` (optionally Ed25519-signed) and
//! `certificate.html`; verify such a certificate later.
//!
//! Sits beside the CLI, above `runner`: it consumes the runner's case results and never
//! reaches into `report`.

pub mod canonical;
pub mod certificate;
pub mod html;
pub mod profile;
pub mod signing;

pub use certificate::{Certificate, Inputs, Invalid, Verdict};
pub use profile::{Profile, ProfileError};

/// Scenarios for the certification unit tests, written here with the level each test needs
/// rather than taken from the shipped scenarios.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::scenario::{Level, Scenario};

    /// A scenario `id` whose clause has `level`: a client authenticating over STARTTLS, one
    /// case per mechanism of `mechanisms` (`id/plain`, `id/scram-sha-256`, ...).
    pub(crate) fn scenario(id: &str, level: Level, mechanisms: &[&str]) -> Scenario {
        let dir = std::env::temp_dir().join(format!(
            "xmpp-interop-certify-case-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let path = dir.join(format!("{id}.yaml"));
        let yaml = format!(
            "id: {id}\ntitle: Title of {id}\nspec: [RFC 6120 §6.4]\ntags: [c2s]\nrole: client\n\
             transport: starttls\ncertificate: startcom-chain\nexpect: authenticated\n\
             requirement:\n  level: {level}\n  clause: RFC 6120 §6.4\n  text: \"the text\"\n\
             matrix:\n  sasl.mechanism: [{}]\n",
            mechanisms.join(", ")
        );
        std::fs::write(&path, yaml).expect("scenario written");
        let mut scenarios = crate::scenario::load_path(&path).expect("scenario loads");
        let _ = std::fs::remove_dir_all(&dir);
        scenarios.remove(0)
    }
}
