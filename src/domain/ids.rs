//! Row ids as distinct types, so passing a server id where a container id belongs does not compile.

use diesel_derive_newtype::DieselNewType;
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($name:ident, $inner:ty) => {
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            DieselNewType,
            Serialize,
            Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                raw.parse().map(Self)
            }
        }
    };
}

id_type!(CustomerId, i32);
id_type!(UserId, i32);
id_type!(ServerId, i32);
id_type!(DistroId, i32);
id_type!(ContainerId, i32);
id_type!(CustomDistroId, i32);
id_type!(ApiTokenId, i32);
id_type!(AlarmId, i64);
id_type!(JobId, i64);
id_type!(EventId, i64);
id_type!(UploadId, i64);
