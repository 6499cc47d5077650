//! `distropanel demo`: a database (found or started), the schema, demo data, and the panel on
//! 127.0.0.1. Seeding is idempotent: running the demo again keeps what is there, including
//! passwords a user changed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use diesel::prelude::*;

use crate::cli::admin::{self, ContainerSpec, CustomerSpec};
use crate::config::Settings;
use crate::db::models::container::Container;
use crate::db::models::custom_distro::NewCustomDistro;
use crate::db::models::server::ServerMode;
use crate::db::queries::containers::ContainerChangeset;
use crate::db::queries::{containers, custom_distros, distros, images, jobs, servers, users};
use crate::domain::ids::{ContainerId, CustomerId, DistroId};
use crate::domain::staff_role::StaffRole;
use crate::domain::values::{DistroPath, Uid};
use crate::host::check::CheckFacts;
use crate::host::deadline::Deadline;
use crate::host::report::{Level, ReportLine};
use crate::host::unpack::{Limits, Unpacked};
use crate::host::{HostExecutor, sample_image};

pub const STAFF: (&str, &str) = ("staff", "staff-demo");
pub const CUSTOMERS: [(&str, &str, &str); 2] = [
    ("kratos", "deimos", "Olympus Hosting"),
    ("ares", "phobos", "Mars Labs"),
];
const SERVER: (&str, &str) = ("demo1", "127.0.0.1");
const PLATFORM_DISTROS: [(&str, &str, &str); 2] = [
    ("Debian 12 (bookworm)", "bookworm", "the platform default"),
    ("Ubuntu 24.04 (noble)", "noble", ""),
];
const CONTAINER_ROLES: [&str; 5] = ["web", "api", "worker", "db", "cache"];

pub async fn run(mut settings: Settings) -> anyhow::Result<()> {
    settings.bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), settings.bind.port());
    // a demo on a laptop fetches images from the laptop itself
    settings.fetch_allow_private = true;
    let config = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let config = super::load_config(settings)?;
        let url = secrecy::ExposeSecret::expose_secret(&config.database_url).to_owned();
        let mut conn = PgConnection::establish(&url)?;
        crate::db::migrate(&mut conn)?;
        seed(&mut conn, config.base_uid)?;
        Ok((config, conn))
    })
    .await??;
    let (config, mut conn) = config;
    let (host, _) = crate::host::open_local(&config).await?;
    let base_uid = config.base_uid;
    tokio::task::spawn_blocking(move || seed_image(&mut conn, host.as_ref(), base_uid)).await??;
    let host_root = config.host_root.clone();
    super::serve(config, |port| {
        println!("distropanel demo is running at http://127.0.0.1:{port}/");
        println!("  staff:    {} / {}", STAFF.0, STAFF.1);
        for (username, password, _) in CUSTOMERS {
            println!("  customer: {username} / {password}");
        }
        println!("  host root: {}", host_root.display());
    })
    .await
}

const SAMPLE: (&str, &str, &str) = ("BusyBox (demo)", "busybox", "a tiny real root filesystem");

/// Puts the busybox sample image into kratos's storage container and boots `kratos-web` into
/// it, unless that distro exists already. Without Debian's busybox-static it says so and goes on.
pub fn seed_image(
    conn: &mut PgConnection,
    host: &dyn HostExecutor,
    base_uid: u32,
) -> anyhow::Result<()> {
    let Some(targets) = SampleTargets::without_sample(conn)? else {
        return Ok(());
    };
    let busybox = std::path::Path::new(sample_image::BUSYBOX);
    if !busybox.exists() {
        println!(
            "  (no {} here: install busybox-static for the sample image)",
            busybox.display()
        );
        return Ok(());
    }
    let installed = install_sample(host, &targets, busybox, base_uid)?;
    conn.transaction(|conn| record_sample(conn, &targets, &installed))
}

/// kratos's storage container, which gets the sample image, and the container that boots it.
struct SampleTargets {
    customer: CustomerId,
    storage: Container,
    web: Container,
}

impl SampleTargets {
    /// `None` when the storage container has the sample distro already.
    fn without_sample(conn: &mut PgConnection) -> anyhow::Result<Option<Self>> {
        let customer = users::by_username(conn, "kratos")?
            .and_then(|u| u.customer_id)
            .ok_or_else(|| anyhow::anyhow!("the demo customer kratos is missing"))?;
        let mut find = |name: &str| -> anyhow::Result<Container> {
            containers::by_customer_and_name(conn, customer, name)?
                .ok_or_else(|| anyhow::anyhow!("the demo container {name} is missing"))
        };
        let storage = find("kratos-distros")?;
        let web = find("kratos-web")?;
        let seeded = custom_distros::names_in(conn, storage.id)?
            .iter()
            .any(|n| n == SAMPLE.0);
        Ok((!seeded).then_some(Self {
            customer,
            storage,
            web,
        }))
    }
}

/// The sample image as unpacked into the storage container, and what its check found.
struct InstalledSample {
    unpacked: Unpacked,
    report: Vec<ReportLine>,
}

/// Builds the busybox root filesystem (with a passwd line for the web container) and installs
/// and checks it as the storage container's `busybox` image.
fn install_sample(
    host: &dyn HostExecutor,
    targets: &SampleTargets,
    busybox: &std::path::Path,
    base_uid: u32,
) -> anyhow::Result<InstalledSample> {
    let (storage, web) = (&targets.storage, &targets.web);
    let (storage_uid, web_uid) = (Uid::of(base_uid, storage.id), Uid::of(base_uid, web.id));
    let web_uid = u32::try_from(web_uid.get())?;
    let tarball = sample_image::busybox_rootfs(busybox, &[(web.name.as_str(), web_uid)])?;
    let path = DistroPath::parse(SAMPLE.1).map_err(|e| anyhow::anyhow!(e))?;
    host.ensure_home(storage_uid)?;
    host.ensure_storage_dir(storage_uid)?;
    let limits = Limits {
        max_bytes: u64::try_from(storage.storage_mb)? << 20,
        max_entries: 100_000,
        max_archive_bytes: u64::try_from(tarball.len())?,
        deadline: Deadline::NONE,
    };
    let facts = CheckFacts {
        mapped_uids: vec![web_uid],
        homes_with_uwsgi: Vec::new(),
        deadline: Deadline::NONE,
    };
    let progress = crate::host::progress::Progress::none();
    let gate = crate::host::image::Gate {
        facts: &facts,
        force: false,
        progress: &progress,
    };
    let installed =
        host.install_image(storage_uid, &path, &mut &tarball[..], None, limits, &gate)?;
    let (unpacked, report) = (installed.unpacked, installed.report);
    Ok(InstalledSample { unpacked, report })
}

/// Records the sample distro and its image, maps the web container to it and restarts it.
fn record_sample(
    conn: &mut PgConnection,
    targets: &SampleTargets,
    installed: &InstalledSample,
) -> anyhow::Result<()> {
    let (storage, web) = (&targets.storage, &targets.web);
    let distro = custom_distros::insert(
        conn,
        &NewCustomDistro {
            container_id: storage.id,
            server_id: storage.server_id,
            customer_id: targets.customer,
            name: SAMPLE.0,
            path: SAMPLE.1,
            note: SAMPLE.2,
        },
    )?;
    let broken = installed.report.iter().any(|l| l.level == Level::Error);
    images::record_installed(
        conn,
        distro.id,
        i64::try_from(installed.unpacked.bytes)?,
        installed.unpacked.sha256.as_str(),
        serde_json::to_value(&installed.report)?,
        images::state_after_check(true, broken),
    )?;
    let mapping = ContainerChangeset {
        custom_distro_id: Some(Some(distro.id)),
        last_reboot: Some(chrono::Utc::now()),
        ..Default::default()
    };
    containers::update(conn, web.id, &mapping)?;
    jobs::enqueue(conn, &crate::jobs::restart(web))?;
    Ok(())
}

/// Queues what the host does for a new container: its storage directory if it is a storage
/// container, and a first start, so the demo's worker lays out its home and writes its vassal.
fn boot(conn: &mut PgConnection, customer: CustomerId, id: i64) -> anyhow::Result<()> {
    let id = ContainerId(i32::try_from(id)?);
    let container = containers::find_for_customer(conn, customer, id)?
        .ok_or_else(|| anyhow::anyhow!("the container just created is gone"))?;
    if container.custom_distros_storage {
        jobs::enqueue(conn, &crate::jobs::ensure_storage_dir(&container))?;
    }
    jobs::enqueue(conn, &crate::jobs::restart(&container))?;
    Ok(())
}

/// Creates whatever part of the demo data is missing.
pub fn seed(conn: &mut PgConnection, base_uid: u32) -> anyhow::Result<()> {
    let default_distro = seed_platform(conn)?;
    for customer in CUSTOMERS {
        seed_customer(conn, base_uid, customer, default_distro)?;
    }
    Ok(())
}

/// The staff user, the platform distros and the server; returns the default distro.
fn seed_platform(conn: &mut PgConnection) -> anyhow::Result<Option<DistroId>> {
    if users::by_username(conn, STAFF.0)?.is_none() {
        admin::add_staff(
            conn,
            STAFF.0,
            "staff@distropanel.test",
            STAFF.1,
            StaffRole::Admin,
        )?;
    }
    let mut default_distro = None;
    for (name, path, note) in PLATFORM_DISTROS {
        let distro = match distros::by_path(conn, path)? {
            Some(d) => d.id,
            None => DistroId(
                admin::add_distro(conn, name, path, note)?["id"]
                    .as_i64()
                    .unwrap_or_default() as i32,
            ),
        };
        default_distro.get_or_insert(distro);
    }
    if servers::by_name(conn, SERVER.0)?.is_none() {
        admin::add_server(
            conn,
            SERVER.0,
            SERVER.1,
            Some(65536),
            Some(1_048_576),
            ServerMode::Agent,
        )?;
    }
    Ok(default_distro)
}

/// A demo customer with its login and containers (kratos has a storage container too).
fn seed_customer(
    conn: &mut PgConnection,
    base_uid: u32,
    (username, password, company): (&str, &str, &str),
    default_distro: Option<DistroId>,
) -> anyhow::Result<()> {
    let user = match users::by_username(conn, username)? {
        Some(user) => user,
        None => {
            let email = format!("{username}@distropanel.test");
            admin::add_customer(
                conn,
                &CustomerSpec {
                    username,
                    email: &email,
                    password,
                    company,
                    vat: "",
                },
            )?;
            users::by_username(conn, username)?.expect("just created")
        }
    };
    let customer = user.customer_id.expect("demo users are customers");
    let mut wanted: Vec<(String, i64, bool)> = CONTAINER_ROLES
        .iter()
        .map(|role| (format!("{username}-{role}"), 512, false))
        .collect();
    if username == "kratos" {
        wanted.push(("kratos-distros".into(), 64, true));
    }
    for (name, memory, storage_container) in wanted {
        if containers::by_customer_and_name(conn, customer, &name)?.is_some() {
            continue;
        }
        let created = admin::add_container(
            conn,
            base_uid,
            &ContainerSpec {
                customer: username,
                server: SERVER.0,
                name: &name,
                memory,
                storage: 2048,
                distro: default_distro.map(|d| d.0),
                storage_container,
            },
        )?;
        boot(conn, customer, created["id"].as_i64().unwrap_or_default())?;
    }
    Ok(())
}
