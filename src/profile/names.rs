//! Kubernetes name rules for services, namespaces and profile names.

/// Why a name is not a valid Kubernetes name; the text names the name and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("an empty name is not allowed")]
    Empty,
    #[error("{} is longer than {max} characters", quoted(name))]
    TooLong { name: String, max: usize },
    #[error(
        "{} contains {found:?}: only lowercase letters, digits and '-' are allowed",
        quoted(name)
    )]
    BadCharacter { name: String, found: char },
    #[error("{} must start and end with a letter or digit", quoted(name))]
    BadEnds { name: String },
    #[error(
        "{} must start with a lowercase letter (a DNS-1035 label)",
        quoted(name)
    )]
    NotALetterFirst { name: String },
}

/// A name as messages quote it: a long one (a pasted blob, or a name built too long) is cut, as the
/// schema's messages cut any long string, so that it does not bury the rule it breaks.
fn quoted(name: &str) -> String {
    super::schema::quoted(name)
}

/// Checks a DNS-1035 label (a Kubernetes Service name): lowercase letters, digits and `-`, starting
/// with a letter, ending with a letter or digit, at most 63 characters.
pub fn check_dns1035_label(name: &str) -> Result<(), NameError> {
    check_label(name)?;
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(NameError::NotALetterFirst {
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Checks a DNS-1123 label (a namespace): lowercase letters, digits and `-`, starting and ending with
/// a letter or digit, at most 63 characters.
pub fn check_dns1123_label(name: &str) -> Result<(), NameError> {
    check_label(name)
}

/// Checks a DNS-1123 subdomain (a resource name or cluster domain): dot-separated labels, at most 253
/// characters.
pub fn check_dns1123_subdomain(name: &str) -> Result<(), NameError> {
    if name.len() > 253 {
        return Err(NameError::TooLong {
            name: name.to_string(),
            max: 253,
        });
    }
    name.split('.').try_for_each(check_label)
}

fn check_label(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > 63 {
        return Err(NameError::TooLong {
            name: name.to_string(),
            max: 63,
        });
    }
    if let Some(found) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(NameError::BadCharacter {
            name: name.to_string(),
            found,
        });
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(NameError::BadEnds {
            name: name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_dns1035_labels() {
        assert!(check_dns1035_label("web-svc").is_ok());
        assert!(check_dns1035_label("1web").is_err());
        assert!(check_dns1035_label("Web").is_err());
        assert!(check_dns1035_label("web-").is_err());
        assert!(check_dns1035_label(&"a".repeat(64)).is_err());
    }

    #[test]
    fn namespaces_may_start_with_a_digit() {
        assert!(check_dns1123_label("1ns").is_ok());
        assert!(check_dns1123_label("ns_1").is_err());
        assert!(check_dns1123_subdomain("web.emojivoto.svc.cluster.local").is_ok());
        assert!(check_dns1123_subdomain("web..local").is_err());
    }

    #[test]
    fn errors_name_the_name_and_the_rule() {
        assert_eq!(
            check_dns1123_label("ns_1").unwrap_err().to_string(),
            "\"ns_1\" contains '_': only lowercase letters, digits and '-' are allowed"
        );
        assert_eq!(
            check_dns1035_label("1web").unwrap_err().to_string(),
            "\"1web\" must start with a lowercase letter (a DNS-1035 label)"
        );
    }
}
