//! The rules of custom distros (DESIGN.md, "The rules"), as pure functions over facts the
//! caller has loaded. The schema enforces the same rules again; these give the refusals their
//! words and decide what a change sets in motion.

use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId, DistroId, ServerId};
use crate::domain::refusal::{ContainerRef, Refusal};

/// A container as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFacts {
    pub id: ContainerId,
    pub customer: CustomerId,
    pub server: ServerId,
    pub storage: bool,
    pub default_distro: Option<DistroId>,
    /// The custom distro it boots now, with its name.
    pub custom_distro: Option<(CustomDistroId, String)>,
}

/// A custom distro as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistroFacts {
    pub id: CustomDistroId,
    pub name: String,
    pub customer: CustomerId,
    pub server: ServerId,
    pub storage_container: ContainerId,
}

/// Rule 3 (and 7): whether container `c` may boot distro `d`, and if not, why.
pub fn usable_by(c: &ContainerFacts, d: &DistroFacts) -> Result<(), Refusal> {
    if d.customer != c.customer {
        return Err(Refusal::DistroOfAnotherCustomer);
    }
    if c.storage {
        return Err(Refusal::StorageCannotMap);
    }
    if d.storage_container == c.id {
        return Err(Refusal::DistroStoredInItself {
            distro: d.name.clone(),
        });
    }
    if d.server != c.server {
        return Err(Refusal::DistroOnOtherServer {
            distro: d.name.clone(),
        });
    }
    Ok(())
}

/// Rule 3: the distros among `candidates` that `c` may boot, in the given order.
pub fn usable_distros<'a>(
    c: &ContainerFacts,
    candidates: &'a [DistroFacts],
) -> Vec<&'a DistroFacts> {
    candidates
        .iter()
        .filter(|d| usable_by(c, d).is_ok())
        .collect()
}

/// A requested change of a container's fields that the rules care about. `None` leaves a
/// field as it is; `custom_distro: Some(None)` goes back to the default distro.
#[derive(Debug, Clone, Default)]
pub struct ContainerChange<'a> {
    pub storage: Option<bool>,
    pub default_distro: Option<DistroId>,
    pub custom_distro: Option<Option<&'a DistroFacts>>,
    pub ssh_keys_changed: bool,
    pub reboot: bool,
}

/// What an allowed change sets in motion on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Effects {
    pub restart: bool,
    /// `<home>/distros` must exist: storage was just turned on.
    pub ensure_storage_dir: bool,
}

/// Rules 1 and 4 over one change of container `current`. `stored` names the custom distros
/// the container stores now (needed only when storage is being turned off).
pub fn plan_container_change(
    current: &ContainerFacts,
    stored: &[String],
    change: &ContainerChange<'_>,
) -> Result<Effects, Refusal> {
    let storage_after = change.storage.unwrap_or(current.storage);
    let storage_toggled = storage_after != current.storage;
    if storage_toggled && !storage_after && !stored.is_empty() {
        return Err(Refusal::StorageHoldsDistros {
            distros: stored.to_vec(),
        });
    }

    let as_it_will_be = ContainerFacts {
        storage: storage_after,
        ..current.clone()
    };
    let custom_after = match change.custom_distro {
        None => current.custom_distro.as_ref().map(|(id, _)| *id),
        Some(None) => None,
        Some(Some(target)) => {
            usable_by(&as_it_will_be, target)?;
            Some(target.id)
        }
    };
    if storage_after && custom_after.is_some() {
        let distro = current
            .custom_distro
            .as_ref()
            .map(|(_, name)| name.clone())
            .unwrap_or_default();
        return Err(Refusal::StorageWhileMapped { distro });
    }
    let default_after = change.default_distro.or(current.default_distro);
    if custom_after.is_some() && default_after.is_none() {
        return Err(Refusal::NoDefaultDistro);
    }

    let custom_changed = custom_after != current.custom_distro.as_ref().map(|(id, _)| *id);
    let distro_changed = default_after != current.default_distro;
    Ok(Effects {
        restart: storage_toggled
            || custom_changed
            || distro_changed
            || change.ssh_keys_changed
            || change.reboot,
        ensure_storage_dir: storage_toggled && storage_after,
    })
}

/// Rule 2: custom distros are created only in a storage container.
pub fn may_store_distros(c: &ContainerFacts, named: ContainerRef) -> Result<(), Refusal> {
    if c.storage {
        Ok(())
    } else {
        Err(Refusal::NotAStorageContainer { container: named })
    }
}

/// Rule 5: a distro's path stays while containers boot it.
pub fn may_change_path(distro: &str, mapped_by: &[ContainerRef]) -> Result<(), Refusal> {
    if mapped_by.is_empty() {
        Ok(())
    } else {
        Err(Refusal::PathOfMappedDistro {
            distro: distro.to_owned(),
            containers: mapped_by.to_vec(),
        })
    }
}

/// Rule 5: a distro stays while containers boot it.
pub fn may_delete(distro: &str, mapped_by: &[ContainerRef]) -> Result<(), Refusal> {
    if mapped_by.is_empty() {
        Ok(())
    } else {
        Err(Refusal::DeleteMappedDistro {
            distro: distro.to_owned(),
            containers: mapped_by.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::refusal::RefusalKind;
    use crate::domain::values::Uid;

    const ALICE: CustomerId = CustomerId(1);
    const BOB: CustomerId = CustomerId(2);
    const S1: ServerId = ServerId(1);
    const S2: ServerId = ServerId(2);
    const BOOKWORM: DistroId = DistroId(1);

    fn web() -> ContainerFacts {
        ContainerFacts {
            id: ContainerId(10),
            customer: ALICE,
            server: S1,
            storage: false,
            default_distro: Some(BOOKWORM),
            custom_distro: None,
        }
    }

    fn images() -> ContainerFacts {
        ContainerFacts {
            id: ContainerId(1),
            storage: true,
            default_distro: None,
            ..web()
        }
    }

    fn distro(id: i32, storage: &ContainerFacts) -> DistroFacts {
        DistroFacts {
            id: CustomDistroId(id),
            name: format!("img{id}"),
            customer: storage.customer,
            server: storage.server,
            storage_container: storage.id,
        }
    }

    fn maps<'a>(d: &'a DistroFacts) -> ContainerChange<'a> {
        ContainerChange {
            custom_distro: Some(Some(d)),
            ..Default::default()
        }
    }

    fn named(id: i64, name: &str) -> ContainerRef {
        ContainerRef {
            uid: Uid::of(30000, ContainerId(id as i32)),
            name: name.into(),
        }
    }

    #[test]
    fn a_container_may_boot_a_distro_of_its_customer_stored_on_its_server() {
        let d = distro(1, &images());
        assert_eq!(usable_by(&web(), &d), Ok(()));
        let effects = plan_container_change(&web(), &[], &maps(&d)).unwrap();
        assert_eq!(
            effects,
            Effects {
                restart: true,
                ensure_storage_dir: false
            }
        );
    }

    #[test]
    fn a_distro_of_another_server_customer_or_the_container_itself_is_not_usable() {
        let other_server = ContainerFacts {
            server: S2,
            ..images()
        };
        let other_customer = ContainerFacts {
            customer: BOB,
            ..images()
        };
        let cases = [
            (
                distro(1, &other_server),
                web(),
                Refusal::DistroOnOtherServer {
                    distro: "img1".into(),
                },
            ),
            (
                distro(2, &other_customer),
                web(),
                Refusal::DistroOfAnotherCustomer,
            ),
            (
                distro(3, &images()),
                ContainerFacts {
                    storage: false,
                    default_distro: Some(BOOKWORM),
                    ..images()
                },
                Refusal::DistroStoredInItself {
                    distro: "img3".into(),
                },
            ),
            (distro(4, &images()), images(), Refusal::StorageCannotMap),
        ];
        for (d, c, refusal) in cases {
            assert_eq!(usable_by(&c, &d), Err(refusal.clone()));
            assert_eq!(plan_container_change(&c, &[], &maps(&d)), Err(refusal));
        }
    }

    #[test]
    fn another_customers_distro_is_refused_as_if_it_did_not_exist() {
        assert_eq!(
            Refusal::DistroOfAnotherCustomer.kind(),
            RefusalKind::NotFound
        );
    }

    #[test]
    fn mapping_needs_a_default_distro_which_the_same_change_may_set() {
        let bare = ContainerFacts {
            default_distro: None,
            ..web()
        };
        let d = distro(1, &images());
        assert_eq!(
            plan_container_change(&bare, &[], &maps(&d)),
            Err(Refusal::NoDefaultDistro)
        );
        let with_default = ContainerChange {
            default_distro: Some(BOOKWORM),
            ..maps(&d)
        };
        assert!(plan_container_change(&bare, &[], &with_default).is_ok());
    }

    #[test]
    fn unmapping_restarts_and_unmapping_an_unmapped_container_does_not() {
        let mapped = ContainerFacts {
            custom_distro: Some((CustomDistroId(1), "img1".into())),
            ..web()
        };
        let unmap = ContainerChange {
            custom_distro: Some(None),
            ..Default::default()
        };
        assert!(plan_container_change(&mapped, &[], &unmap).unwrap().restart);
        assert!(!plan_container_change(&web(), &[], &unmap).unwrap().restart);
    }

    #[test]
    fn turning_storage_on_needs_no_custom_distro_and_creates_the_distros_dir() {
        let on = ContainerChange {
            storage: Some(true),
            ..Default::default()
        };
        assert_eq!(
            plan_container_change(&web(), &[], &on),
            Ok(Effects {
                restart: true,
                ensure_storage_dir: true
            })
        );
        let mapped = ContainerFacts {
            custom_distro: Some((CustomDistroId(1), "img1".into())),
            ..web()
        };
        assert_eq!(
            plan_container_change(&mapped, &[], &on),
            Err(Refusal::StorageWhileMapped {
                distro: "img1".into()
            })
        );
        let on_and_unmap = ContainerChange {
            custom_distro: Some(None),
            ..on
        };
        assert!(plan_container_change(&mapped, &[], &on_and_unmap).is_ok());
        assert_eq!(
            plan_container_change(&images(), &[], &on),
            Ok(Effects::default()),
            "already on: nothing to do"
        );
    }

    #[test]
    fn turning_storage_off_is_refused_naming_the_distros_it_holds() {
        let off = ContainerChange {
            storage: Some(false),
            ..Default::default()
        };
        let held = vec!["debian".to_string(), "alpine".to_string()];
        let refusal = plan_container_change(&images(), &held, &off).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::StorageHoldsDistros {
                distros: held.clone()
            }
        );
        assert!(refusal.reason().contains("'debian', 'alpine'"));
        assert_eq!(
            plan_container_change(&images(), &[], &off),
            Ok(Effects {
                restart: true,
                ensure_storage_dir: false
            })
        );
    }

    #[test]
    fn ssh_keys_distro_and_reboot_restart() {
        for change in [
            ContainerChange {
                ssh_keys_changed: true,
                ..Default::default()
            },
            ContainerChange {
                reboot: true,
                ..Default::default()
            },
            ContainerChange {
                default_distro: Some(DistroId(2)),
                ..Default::default()
            },
        ] {
            assert!(plan_container_change(&web(), &[], &change).unwrap().restart);
        }
        let same_distro = ContainerChange {
            default_distro: Some(BOOKWORM),
            ..Default::default()
        };
        assert!(
            !plan_container_change(&web(), &[], &same_distro)
                .unwrap()
                .restart
        );
    }

    #[test]
    fn distros_are_created_only_in_storage_containers() {
        assert!(may_store_distros(&images(), named(1, "images")).is_ok());
        let refusal = may_store_distros(&web(), named(10, "web")).unwrap_err();
        assert_eq!(refusal.kind(), RefusalKind::Forbidden);
        assert!(refusal.reason().contains("'web' (30010)"));
    }

    #[test]
    fn a_mapped_distro_keeps_its_path_and_stays_naming_who_maps_it() {
        let users = [named(10, "web"), named(11, "api")];
        assert!(may_change_path("img", &[]).is_ok());
        assert!(may_delete("img", &[]).is_ok());
        let refusal = may_change_path("img", &users).unwrap_err();
        assert_eq!(refusal.kind(), RefusalKind::Conflict);
        assert!(refusal.reason().contains("'web' (30010), 'api' (30011)"));
        assert!(
            may_delete("img", &users)
                .unwrap_err()
                .reason()
                .contains("before deleting")
        );
    }

    fn any_container() -> impl Strategy<Value = ContainerFacts> {
        (1..6i32, 1..3i32, 1..3i32, any::<bool>(), any::<bool>()).prop_map(
            |(id, customer, server, storage, has_default)| ContainerFacts {
                id: ContainerId(id),
                customer: CustomerId(customer),
                server: ServerId(server),
                storage,
                default_distro: has_default.then_some(BOOKWORM),
                custom_distro: None,
            },
        )
    }

    fn any_distro() -> impl Strategy<Value = DistroFacts> {
        (1..50i32, 1..3i32, 1..3i32, 1..6i32).prop_map(|(id, customer, server, storage)| {
            DistroFacts {
                id: CustomDistroId(id),
                name: format!("d{id}"),
                customer: CustomerId(customer),
                server: ServerId(server),
                storage_container: ContainerId(storage),
            }
        })
    }

    proptest! {
        #[test]
        fn usable_distros_are_exactly_same_customer_same_server_not_itself(
            c in any_container(),
            candidates in prop::collection::vec(any_distro(), 0..20),
        ) {
            let usable = usable_distros(&c, &candidates);
            if c.storage {
                prop_assert!(usable.is_empty());
            }
            for d in &candidates {
                let expected = !c.storage
                    && d.customer == c.customer
                    && d.server == c.server
                    && d.storage_container != c.id;
                prop_assert_eq!(usable.iter().any(|u| u.id == d.id && *u == d), expected);
            }
        }

        #[test]
        fn an_allowed_change_never_leaves_a_storage_container_booting_a_custom_distro(
            c in any_container(),
            d in any_distro(),
            storage in proptest::option::of(any::<bool>()),
            unmap in any::<bool>(),
        ) {
            let change = ContainerChange {
                storage,
                custom_distro: Some(if unmap { None } else { Some(&d) }),
                ..Default::default()
            };
            if plan_container_change(&c, &[], &change).is_ok() {
                let storage_after = storage.unwrap_or(c.storage);
                prop_assert!(unmap || !storage_after);
                prop_assert!(unmap || c.default_distro.is_some());
                prop_assert!(unmap || (d.server == c.server && d.customer == c.customer));
            }
        }
    }
}
