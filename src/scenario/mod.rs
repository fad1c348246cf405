//! Scenarios: the YAML model, loading with file:line:column errors, and matrix expansion.

pub(crate) mod keyword;
pub mod load;
pub mod model;
mod raw;
pub mod requirement;
mod resolve;

pub use keyword::UnknownKeyword;
pub use load::{LoadError, ScenarioSet, load_built_in, load_path, load_paths};
pub(crate) use load::{yaml_options, yaml_problem};
pub use model::*;
pub use requirement::{Condition, Feature, Level, Requirement};
pub(crate) use resolve::{Position, Problem};

/// Scenarios for unit tests, written with the level each test needs rather than taken from the
/// shipped scenarios.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::Path;

    use super::{Level, Scenario};

    /// The scenario a YAML text describes, as if loaded from `name`.
    pub(crate) fn from_yaml(yaml: &str, name: &str) -> Scenario {
        super::load::load_str(yaml, Path::new(name))
            .expect("scenario loads")
            .0
    }

    /// A scenario `id` whose clause has `level`: a client authenticating over STARTTLS, one
    /// case per mechanism of `mechanisms` (`id/plain`, `id/scram-sha-256`, ...).
    pub(crate) fn scenario(id: &str, level: Level, mechanisms: &[&str]) -> Scenario {
        let yaml = format!(
            "id: {id}\ntitle: Title of {id}\nspec: [RFC 6120 §6.4]\ntags: [c2s]\nrole: client\n\
             transport: starttls\ncertificate: startcom-chain\nexpect: authenticated\n\
             requirement:\n  level: {level}\n  clause: RFC 6120 §6.4\n  text: \"the text\"\n\
             matrix:\n  sasl.mechanism: [{}]\n",
            mechanisms.join(", ")
        );
        super::load::load_str(&yaml, Path::new(&format!("{id}.yaml")))
            .expect("scenario loads")
            .0
    }
}
