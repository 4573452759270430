//! The shape every vocabulary enum shares: one table of variants and wire names, from which the
//! enum, its `ALL`/`NAMES` tables, `as_str`, `FromStr`, `Display` and serde are generated.

/// A name that is not in a vocabulary's table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}` (known: {})", known.join(", "))]
pub struct UnknownName {
    /// What kind of name was asked for (`client authentication method`, ...).
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// Every known name.
    pub known: &'static [&'static str],
}

/// Declares a vocabulary enum from one table: `Variant = "wire-name",` rows in order.
///
/// The derived `Ord` follows the table's order, and so does `ALL`.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:expr, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in table order.
            pub const ALL: [$name; Self::COUNT] = [ $( $name::$variant, )+ ];
            /// Every wire name, in the order of `ALL`.
            pub const NAMES: [&'static str; Self::COUNT] = [ $( $wire, )+ ];
            const COUNT: usize = [ $( stringify!($variant), )+ ].len();

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                Self::NAMES[self as usize]
            }

            /// The value with exactly this wire name.
            pub fn from_wire(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == name)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::vocabulary::UnknownName;
            fn from_str(name: &str) -> Result<Self, Self::Err> {
                Self::from_wire(name).ok_or_else(|| $crate::vocabulary::UnknownName {
                    what: $what,
                    name: name.to_owned(),
                    known: &Self::NAMES,
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = <String as ::serde::Deserialize>::deserialize(d)?;
                name.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

/// Checks a vocabulary's table: every name round-trips through `FromStr`, serde and `Display`,
/// and names are unique.
#[cfg(test)]
pub(crate) fn assert_round_trips<T>(all: &[T], names: &[&str])
where
    T: Copy
        + PartialEq
        + std::fmt::Debug
        + std::fmt::Display
        + std::str::FromStr
        + serde::Serialize
        + serde::de::DeserializeOwned,
    <T as std::str::FromStr>::Err: std::fmt::Debug,
{
    assert_eq!(all.len(), names.len());
    for (v, name) in all.iter().zip(names) {
        assert_eq!(v.to_string(), *name);
        assert_eq!(name.parse::<T>().expect("known name"), *v);
        let json = serde_json::to_value(v).expect("serialize");
        assert_eq!(json, serde_json::Value::String((*name).to_owned()));
        assert_eq!(serde_json::from_value::<T>(json).expect("deserialize"), *v);
    }
    let mut sorted = names.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "duplicate names in {names:?}");
    assert!("no-such-name".parse::<T>().is_err());
}
