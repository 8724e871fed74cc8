//! How Terraform attribute names map to Intersight property names.

/// `snake_case` Terraform name → Intersight `PascalCase` property name.
pub fn property_name(tf_name: &str) -> String {
    let name = tf_name.strip_prefix("nr_").unwrap_or(tf_name);
    name.split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_names_follow_intersight_casing() {
        assert_eq!(property_name("client_ip_address"), "ClientIpAddress");
        assert_eq!(property_name("nr_version"), "Version");
        assert_eq!(property_name("moid"), "Moid");
        assert_eq!(property_name("ancestor_definitions"), "AncestorDefinitions");
    }
}
