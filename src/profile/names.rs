//! Kubernetes name rules for services, namespaces and profile names.

/// Checks a DNS-1035 label (a Kubernetes Service name): lowercase letters, digits and `-`, starting
/// with a letter, ending with a letter or digit, at most 63 characters.
pub fn check_dns1035_label(name: &str) -> Result<(), String> {
    check_label(name)?;
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!(
            "{name:?} must start with a lowercase letter (a DNS-1035 label)"
        ));
    }
    Ok(())
}

/// Checks a DNS-1123 label (a namespace): lowercase letters, digits and `-`, starting and ending with
/// a letter or digit, at most 63 characters.
pub fn check_dns1123_label(name: &str) -> Result<(), String> {
    check_label(name)
}

/// Checks a DNS-1123 subdomain (a resource name or cluster domain): dot-separated labels, at most 253
/// characters.
pub fn check_dns1123_subdomain(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!("{name:?} is longer than 253 characters"));
    }
    name.split('.').try_for_each(check_label)
}

fn check_label(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an empty name is not allowed".to_string());
    }
    if name.len() > 63 {
        return Err(format!("{name:?} is longer than 63 characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "{name:?} contains {c:?}: only lowercase letters, digits and '-' are allowed"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(format!(
            "{name:?} must start and end with a letter or digit"
        ));
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
}
