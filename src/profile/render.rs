//! Writing profiles as YAML (byte-compatible with `linkerd profile`) or JSON.

use super::model::ServiceProfile;

/// Output format of generated profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Block YAML, keys in alphabetical order, as `linkerd profile` prints.
    #[default]
    Yaml,
    /// Pretty-printed JSON of the same object.
    Json,
}

/// Renders `profile` in `format`, ending with a newline.
pub fn render(profile: &ServiceProfile, format: Format) -> String {
    match format {
        Format::Yaml => {
            crate::yaml::to_string(profile).expect("a ServiceProfile always serializes")
        }
        Format::Json => {
            let mut text =
                serde_json::to_string_pretty(profile).expect("a ServiceProfile always serializes");
            text.push('\n');
            text
        }
    }
}
