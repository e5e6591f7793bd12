//! Which site names can name a store file (`<site>.db`) and a clouds.yaml entry.

use crate::error::{Error, Result};

/// `name` when it can name a site's store file: letters, digits, `.`, `_` and `-`, not
/// starting with a dot, at most 255 bytes.
pub fn check_site_name(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(name)
    } else {
        Err(Error::invalid(format!(
            "site name '{name}' is not usable: use letters, digits, '.', '_' and '-' (e.g. site-a)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_names_are_file_safe() {
        assert!(check_site_name("site-a").is_ok());
        assert!(check_site_name("dc1.east_2").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(check_site_name(bad).is_err(), "{bad}");
        }
    }
}
