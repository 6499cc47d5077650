//! Why the rules refuse a request, naming what blocks it. The web and API layers render a
//! refusal; nothing here knows about HTTP.

use std::fmt;

use crate::domain::values::Uid;

/// A container as a refusal names it: by name and uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRef {
    pub uid: Uid,
    pub name: String,
}

impl fmt::Display for ContainerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' ({})", self.name, self.uid)
    }
}

/// What a refusal is, as far as the caller is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The request clashes with the current state; it may work once that changes.
    Conflict,
    /// The request is never allowed for this target.
    Forbidden,
    /// The target is not the caller's: answered exactly like a missing one.
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Rule 1: a storage container cannot boot a custom distro.
    StorageWhileMapped { distro: String },
    /// Rule 1: storage cannot be turned off while distros live in the container.
    StorageHoldsDistros { distros: Vec<String> },
    /// Rule 2: custom distros live only in storage containers.
    NotAStorageContainer { container: ContainerRef },
    /// Rule 3/4: the distro is stored on another server than the container's.
    DistroOnOtherServer { distro: String },
    /// Rule 3/4: a container cannot boot a distro it stores itself.
    DistroStoredInItself { distro: String },
    /// Rule 3/4: a storage container only serves images.
    StorageCannotMap,
    /// Rule 4: no default distro to fall back to.
    NoDefaultDistro,
    /// Rule 7: the distro belongs to another customer.
    DistroOfAnotherCustomer,
    /// Rule 5: the path cannot change while containers boot the distro.
    PathOfMappedDistro {
        distro: String,
        containers: Vec<ContainerRef>,
    },
    /// Rule 5: a distro cannot be deleted while containers boot it.
    DeleteMappedDistro {
        distro: String,
        containers: Vec<ContainerRef>,
    },
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted(names: &[String]) -> String {
    list(&names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>())
}

impl Refusal {
    pub fn kind(&self) -> RefusalKind {
        match self {
            Refusal::DistroOfAnotherCustomer => RefusalKind::NotFound,
            Refusal::NotAStorageContainer { .. } => RefusalKind::Forbidden,
            _ => RefusalKind::Conflict,
        }
    }

    /// One sentence that says what blocks the request and what to do about it.
    pub fn reason(&self) -> String {
        match self {
            Refusal::StorageWhileMapped { distro } => format!(
                "The container boots the custom distro '{distro}'; a storage container cannot. \
                 Set custom_distro to null first."
            ),
            Refusal::StorageHoldsDistros { distros } => format!(
                "The container still stores the custom distros {}; delete them before turning \
                 custom_distros_storage off.",
                quoted(distros)
            ),
            Refusal::NotAStorageContainer { container } => format!(
                "Container {container} is not a custom distros storage container; set its \
                 custom_distros_storage to true first."
            ),
            Refusal::DistroOnOtherServer { distro } => format!(
                "The custom distro '{distro}' is stored on another server; a container can only \
                 use custom distros stored on its own server."
            ),
            Refusal::DistroStoredInItself { distro } => format!(
                "The custom distro '{distro}' is stored in this very container; a container \
                 cannot boot a distro it stores."
            ),
            Refusal::StorageCannotMap => "This is a custom distros storage container: it only \
                 serves images and cannot use a custom distro."
                .into(),
            Refusal::NoDefaultDistro => "The container has no default distro to fall back to; \
                 set distro first."
                .into(),
            Refusal::DistroOfAnotherCustomer => "There is nothing here, or it is not yours.".into(),
            Refusal::PathOfMappedDistro { distro, containers } => format!(
                "The custom distro '{distro}' is used by the containers {}; map them to another \
                 distro before changing its path.",
                list(containers)
            ),
            Refusal::DeleteMappedDistro { distro, containers } => format!(
                "The custom distro '{distro}' is used by the containers {}; map them to another \
                 distro before deleting it.",
                list(containers)
            ),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

impl std::error::Error for Refusal {}

/// A rule PostgreSQL enforced on a write, against a change made meanwhile that the checks
/// before the write could not see. The front ends word it for their own audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Race {
    /// The container came to store distros, or stopped being a storage container.
    StorageChanged,
    /// The custom distro is gone, or is not on the container's server.
    CustomDistroGone,
    /// A storage container was given a custom distro.
    StorageWithCustomDistro,
    /// A custom distro was mapped on a container without a default distro.
    NoFallback,
    /// The storage container already holds a distro of that name.
    DuplicateName,
    /// The storage container already holds a distro of that path.
    DuplicatePath,
}
