//! `destination.option_group` as written: a name, or a table of names by region.

use std::collections::BTreeMap;

use serde::de::Deserialize;
use toml::Spanned;

/// `option_group = "vault-oracle"`, or `option_group = { us-west-2 = "vault-oracle" }`.
pub(in crate::rules) enum RawOptionGroup {
    Name(String),
    PerRegion(BTreeMap<String, Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawOptionGroup {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawOptionGroup;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "an option group name, or a table of names by region such as { us-west-2 = \"vault-options\" }",
                )
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(RawOptionGroup::Name(value.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                BTreeMap::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawOptionGroup::PerRegion)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
