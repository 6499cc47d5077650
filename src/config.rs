//! Settings from the environment and flags, with defaults that run on a laptop.
//! Relative paths are resolved once, at start, against the working directory, so nothing later
//! depends on where the process happens to be.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use secrecy::SecretString;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines for a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Flags shared by every command that talks to the database or serves.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// PostgreSQL connection URL. Unset: the local server on its default socket (the
    /// `distropanel` database is created if missing), else a private cluster under <var>/pg.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Address the web server listens on.
    #[arg(long, env = "DISTROPANEL_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Directory for state the panel keeps on disk (session key, private PostgreSQL cluster).
    #[arg(long, env = "DISTROPANEL_VAR_DIR", default_value = "./var")]
    pub var_dir: PathBuf,

    /// Root of the container host: `<root>/containers/<uid>` homes, `<root>/distros/<path>`.
    #[arg(long, env = "DISTROPANEL_HOST_ROOT", default_value = "./var/host")]
    pub host_root: PathBuf,

    /// The uWSGI Emperor's vassals directory [default: <host root>/etc/uwsgi/vassals].
    #[arg(long, env = "DISTROPANEL_VASSALS_DIR")]
    pub vassals_dir: Option<PathBuf>,

    /// uid of the container with id 0; a container's uid is this plus its id.
    #[arg(long, env = "DISTROPANEL_BASE_UID", default_value_t = 30000)]
    pub base_uid: u32,

    /// Alarms kept per container; a new one beyond this deletes the oldest.
    #[arg(long, env = "DISTROPANEL_MAX_ALARMS", default_value_t = 100)]
    pub max_alarms: u32,

    /// Key signing session cookies, 64 bytes as 128 hex digits. Unset: generated once and
    /// kept in <var>/session.key.
    #[arg(long, env = "DISTROPANEL_SESSION_KEY", hide_env_values = true)]
    pub session_key: Option<String>,

    /// Mark cookies `Secure` (set it when the panel is served over TLS).
    #[arg(long, env = "DISTROPANEL_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Connections in the database pool.
    #[arg(long, env = "DISTROPANEL_DB_POOL", default_value_t = 16)]
    pub db_pool: u32,

    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "DISTROPANEL_WORKERS")]
    pub workers: Option<usize>,

    /// Customers' container rows kept in memory for the lists, over all customers (0: none).
    #[arg(long, env = "DISTROPANEL_LIST_ROWS", default_value_t = 20_000)]
    pub list_rows: usize,

    /// Log format.
    #[arg(long, env = "DISTROPANEL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// A vassal template replacing the built-in one; `{{uid}}`, `{{home}}`, `{{root}}`, ...
    /// placeholders (see the README).
    #[arg(long, env = "DISTROPANEL_VASSAL_TEMPLATE")]
    pub vassal_template: Option<PathBuf>,

    /// Servers (comma-separated names) whose jobs `serve` runs itself; empty: none
    /// [default: all].
    #[arg(long, env = "DISTROPANEL_LOCAL_SERVERS")]
    pub local_servers: Option<String>,

    /// Jobs a worker runs at once (of different containers).
    #[arg(long, env = "DISTROPANEL_JOB_SLOTS", default_value_t = 4)]
    pub job_slots: usize,

    /// Seconds a worker holds a job without renewing; after that another worker takes it.
    #[arg(long, env = "DISTROPANEL_JOB_LEASE_SECS", default_value_t = 60)]
    pub job_lease_secs: u64,

    /// Milliseconds between looks for new jobs.
    #[arg(long, env = "DISTROPANEL_JOB_POLL_MS", default_value_t = 1000)]
    pub job_poll_ms: u64,

    /// Seconds between a worker's reports of its servers: heartbeat and disk use.
    #[arg(long, env = "DISTROPANEL_REPORT_SECS", default_value_t = 60)]
    pub report_secs: u64,

    /// Milliseconds before the first retry of a failed job; doubled for each further one.
    #[arg(long, env = "DISTROPANEL_JOB_BACKOFF_MS", default_value_t = 5000)]
    pub job_backoff_ms: u64,

    /// Addresses of the reverse proxies in front of the panel (comma-separated). A request from
    /// one of them is attributed to the address it names in `X-Forwarded-For`, for login
    /// throttling and the logs; from anywhere else the header is ignored.
    #[arg(long, env = "DISTROPANEL_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// Client addresses (comma-separated IPs or CIDRs, e.g. `10.0.0.0/8`) that may read
    /// `/metrics`; a staff bearer token reads it from anywhere. Others get 404.
    #[arg(
        long,
        env = "DISTROPANEL_METRICS_FROM",
        default_value = "127.0.0.1,::1"
    )]
    pub metrics_from: String,

    /// Days a finished job is kept before it is deleted (its steps stay in the operation
    /// log); 0 keeps them forever.
    #[arg(long, env = "DISTROPANEL_JOB_RETENTION_DAYS", default_value_t = 30)]
    pub job_retention_days: u64,

    /// Days an audit entry is kept before the maintenance sweep deletes it; 0 keeps them
    /// forever.
    #[arg(long, env = "DISTROPANEL_AUDIT_RETENTION_DAYS", default_value_t = 400)]
    pub audit_retention_days: u64,

    /// Seconds a restart job may run (creating a storage directory and renaming an image too).
    #[arg(
        long,
        env = "DISTROPANEL_JOB_DEADLINE_RESTART_SECS",
        default_value_t = 120
    )]
    pub job_deadline_restart_secs: u64,

    /// Seconds an unpack job (an uploaded archive or one in the home) may run, its check
    /// included; rollbacks and purges of images too.
    #[arg(
        long,
        env = "DISTROPANEL_JOB_DEADLINE_UNPACK_SECS",
        default_value_t = 1800
    )]
    pub job_deadline_unpack_secs: u64,

    /// Seconds an image check job may run.
    #[arg(
        long,
        env = "DISTROPANEL_JOB_DEADLINE_CHECK_SECS",
        default_value_t = 1800
    )]
    pub job_deadline_check_secs: u64,

    /// Seconds a fetch job may run: download, unpack and check.
    #[arg(
        long,
        env = "DISTROPANEL_JOB_DEADLINE_FETCH_SECS",
        default_value_t = 7200
    )]
    pub job_deadline_fetch_secs: u64,

    /// Largest image archive, in MiB, that is taken by upload, read from a home or fetched.
    #[arg(long, env = "DISTROPANEL_MAX_IMAGE_MB", default_value_t = 4096)]
    pub max_image_mb: u64,

    /// Members an image archive may have.
    #[arg(
        long,
        env = "DISTROPANEL_MAX_IMAGE_ENTRIES",
        default_value_t = 1_000_000
    )]
    pub max_image_entries: u64,

    /// Let hosts fetch images from loopback, private and link-local addresses (refused by
    /// default, so a customer's URL cannot reach the host's own network).
    #[arg(long, env = "DISTROPANEL_FETCH_ALLOW_PRIVATE", default_value_t = false)]
    pub fetch_allow_private: bool,

    /// Seconds a fetch may wait for a connection or for the next bytes.
    #[arg(long, env = "DISTROPANEL_FETCH_TIMEOUT_SECS", default_value_t = 30)]
    pub fetch_timeout_secs: u64,

    /// Failed logins for one username from one address (IPv6: its /64) within 15 minutes
    /// before that pair is refused.
    #[arg(
        long,
        env = "DISTROPANEL_LOGIN_LIMIT_PER_USER_ADDRESS",
        default_value_t = 5
    )]
    pub login_limit_per_user_address: u32,

    /// Failed logins from one address (IPv6: its /64), any usernames, within 15 minutes.
    #[arg(
        long,
        env = "DISTROPANEL_LOGIN_LIMIT_PER_ADDRESS",
        default_value_t = 20
    )]
    pub login_limit_per_address: u32,

    /// Failed logins for one username from all addresses together within 15 minutes.
    #[arg(
        long,
        env = "DISTROPANEL_LOGIN_LIMIT_PER_USERNAME",
        default_value_t = 50
    )]
    pub login_limit_per_username: u32,

    /// Password verifications (argon2, 19 MiB each) run at once [default: one per core].
    #[arg(long, env = "DISTROPANEL_ARGON2_SLOTS")]
    pub argon2_slots: Option<usize>,

    /// Password verifications that may wait for a slot; beyond them the answer is 503.
    #[arg(long, env = "DISTROPANEL_ARGON2_QUEUE", default_value_t = 16)]
    pub argon2_queue: usize,
    /// Unfinished jobs a customer may have queued (restarts, storage set-up and the jobs the
    /// panel queues itself do not count).
    #[arg(long, env = "DISTROPANEL_MAX_PENDING_JOBS", default_value_t = 50)]
    pub max_pending_jobs: u32,

    /// MiB of uploaded archives not yet unpacked a customer may have stored
    /// [default: twice DISTROPANEL_MAX_IMAGE_MB].
    #[arg(long, env = "DISTROPANEL_MAX_UPLOAD_MB_IN_FLIGHT")]
    pub max_upload_mb_in_flight: Option<u64>,

    /// Custom distros one storage container may hold.
    #[arg(
        long,
        env = "DISTROPANEL_MAX_DISTROS_PER_STORAGE",
        default_value_t = 32
    )]
    pub max_distros_per_storage: u32,
}

/// Which servers' jobs `serve` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalServers {
    All,
    Named(Vec<String>),
}

impl LocalServers {
    pub fn parse(raw: Option<&str>) -> Self {
        match raw {
            None => LocalServers::All,
            Some(list) => LocalServers::Named(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
        }
    }
}

/// How job workers pace themselves.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// How long finished jobs are kept; `None`: forever.
    pub retention: Option<Duration>,
    pub slots: usize,
    pub lease: Duration,
    pub poll: Duration,
    pub backoff: Duration,
    pub deadlines: JobDeadlines,
    /// How often a worker reports its servers' heartbeat and disk use.
    pub report: Duration,
}

/// How long one attempt of a job may run, by kind. Work past it stops where it is, undoes what
/// it began, and fails the job for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobDeadlines {
    pub restart: Duration,
    pub unpack: Duration,
    pub check: Duration,
    pub fetch: Duration,
}

impl Default for JobDeadlines {
    fn default() -> Self {
        Self {
            restart: Duration::from_secs(120),
            unpack: Duration::from_secs(1800),
            check: Duration::from_secs(1800),
            fetch: Duration::from_secs(7200),
        }
    }
}

/// Bounds on image archives, and how hosts fetch them.
#[derive(Debug, Clone)]
pub struct ImageSettings {
    pub max_archive_bytes: u64,
    pub max_entries: u64,
    pub fetch_allow_private: bool,
    pub fetch_timeout: Duration,
}

/// Login throttling and the bound on password verifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginSettings {
    /// Failures per (username, address) within the window.
    pub per_user_address: u32,
    /// Failures per address within the window.
    pub per_address: u32,
    /// Failures per username, all addresses together, within the window.
    pub per_username: u32,
    /// Verifications run at once.
    pub argon2_slots: usize,
    /// Verifications waiting for a slot.
    pub argon2_queue: usize,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            per_user_address: 5,
            per_address: 20,
            per_username: 50,
            argon2_slots: cores(),
            argon2_queue: 16,
        }
    }
}

/// What one customer may hold of the parts every customer shares (the job queue, the
/// database's disk). One pending image job per distro and one upload in flight per distro are
/// rules, not settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub max_pending_jobs: u32,
    pub max_upload_bytes_in_flight: u64,
    pub max_distros_per_storage: u32,
}

impl Quotas {
    /// The defaults for archives of at most `max_archive_bytes`.
    pub fn for_archives(max_archive_bytes: u64) -> Self {
        Self {
            max_pending_jobs: 50,
            max_upload_bytes_in_flight: max_archive_bytes.saturating_mul(2),
            max_distros_per_storage: 32,
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Validated configuration: every path absolute, every secret present.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: SecretString,
    pub bind: SocketAddr,
    pub var_dir: PathBuf,
    pub host_root: PathBuf,
    pub vassals_dir: PathBuf,
    pub base_uid: u32,
    pub max_alarms: u32,
    pub session_key: SecretKey,
    pub secure_cookies: bool,
    pub db_pool: u32,
    pub workers: Option<usize>,
    /// Container rows the lists keep in memory, over all customers.
    pub list_rows: usize,
    pub vassal_template: Option<PathBuf>,
    pub local_servers: LocalServers,
    pub jobs: JobSettings,
    pub images: ImageSettings,
    pub quotas: Quotas,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Who may read `/metrics` without a staff token.
    pub metrics_from: Vec<IpNetwork>,
    pub login: LoginSettings,
    /// How long audit entries are kept; `None`: forever.
    pub audit_retention: Option<Duration>,
}

/// An IP network: an address and a prefix length (a bare address is a network of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: std::net::IpAddr,
    prefix: u8,
}

impl IpNetwork {
    pub fn contains(&self, candidate: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let candidate = match candidate {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(candidate, IpAddr::V4),
            v4 => v4,
        };
        let (ours, theirs, width) = match (self.address, candidate) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a).into(), u32::from(b).into(), 32),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
            _ => return false,
        };
        let shift = width - u32::from(self.prefix);
        shift >= width || (ours >> shift) == (theirs >> shift)
    }
}

impl std::str::FromStr for IpNetwork {
    type Err = anyhow::Error;

    fn from_str(raw: &str) -> anyhow::Result<Self> {
        let (address, prefix) = match raw.split_once('/') {
            Some((address, bits)) => (address, Some(bits)),
            None => (raw, None),
        };
        let address: std::net::IpAddr = address
            .parse()
            .with_context(|| format!("{raw:?} is not an IP address or network"))?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(bits) => bits
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= width)
                .with_context(|| format!("{raw:?} has no valid prefix length"))?,
        };
        Ok(Self { address, prefix })
    }
}

fn parse_networks(raw: &str) -> anyhow::Result<Vec<IpNetwork>> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

/// 64 random bytes; `Debug` never prints them.
#[derive(Clone)]
pub struct SecretKey(pub [u8; 64]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    pub fn parse_hex(raw: &str) -> anyhow::Result<Self> {
        let bytes = hex::decode(raw.trim()).context("the session key is not hexadecimal")?;
        let key: [u8; 64] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("the session key must be 64 bytes (128 hex digits)"))?;
        Ok(Self(key))
    }

    pub fn generate() -> Self {
        let mut key = [0u8; 64];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        Self(key)
    }

    /// Reads the key kept in `path`, or creates it (mode 0600) on first use. Processes starting
    /// at once agree on one key: each writes its own in full, and only the first link wins.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                Self::parse_hex(&text).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn create(path: &Path) -> anyhow::Result<Self> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let key = Self::generate();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let draft = path.with_extension(format!("new.{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&draft)
            .with_context(|| format!("creating {}", draft.display()))?;
        writeln!(file, "{}", hex::encode(key.0))?;
        file.sync_all()?;
        let linked = std::fs::hard_link(&draft, path);
        let _ = std::fs::remove_file(&draft);
        match linked {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Self::parse_hex(&text).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
}

fn parse_proxies(raw: &str) -> anyhow::Result<Vec<std::net::IpAddr>> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .with_context(|| format!("trusted proxy {s:?} is not an IP address"))
        })
        .collect()
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

impl Settings {
    /// Resolves paths and the session key. The database URL comes from the caller, which
    /// may have had to find or start a server (see `db::bootstrap`).
    pub fn into_config(self, database_url: SecretString) -> anyhow::Result<Config> {
        let var_dir = absolute(&self.var_dir)?;
        let host_root = absolute(&self.host_root)?;
        let vassals_dir = match &self.vassals_dir {
            Some(dir) => absolute(dir)?,
            None => host_root.join("etc/uwsgi/vassals"),
        };
        let session_key = match &self.session_key {
            Some(hex) => SecretKey::parse_hex(hex)?,
            None => SecretKey::load_or_create(&var_dir.join("session.key"))?,
        };
        self.ensure_bounds()?;
        let jobs = self.job_settings();
        let images = self.image_settings();
        Ok(Config {
            database_url,
            bind: self.bind,
            var_dir,
            host_root,
            vassals_dir,
            base_uid: self.base_uid,
            max_alarms: self.max_alarms,
            session_key,
            secure_cookies: self.secure_cookies,
            db_pool: self.db_pool,
            workers: self.workers,
            list_rows: self.list_rows,
            vassal_template: self.vassal_template.as_deref().map(absolute).transpose()?,
            local_servers: LocalServers::parse(self.local_servers.as_deref()),
            jobs,
            trusted_proxies: parse_proxies(&self.trusted_proxies)?,
            metrics_from: parse_networks(&self.metrics_from)?,
            images,
            login: self.login_settings(),
            quotas: self.quotas(),
            audit_retention: (self.audit_retention_days > 0)
                .then(|| Duration::from_secs(self.audit_retention_days.saturating_mul(86_400))),
        })
    }

    /// Refuses the numbers that would leave the panel unable to work.
    fn ensure_bounds(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.job_slots >= 1, "a job worker needs at least one slot");
        anyhow::ensure!(
            self.argon2_slots != Some(0),
            "password checks need at least one argon2 slot"
        );
        anyhow::ensure!(
            self.login_limit_per_user_address >= 1
                && self.login_limit_per_address >= 1
                && self.login_limit_per_username >= 1,
            "a login limit must allow at least one attempt"
        );
        anyhow::ensure!(
            self.job_lease_secs >= 1,
            "a job lease lasts at least a second"
        );
        anyhow::ensure!(
            self.max_image_mb >= 1,
            "max image size must be at least 1 MiB"
        );
        anyhow::ensure!(
            self.fetch_timeout_secs >= 1,
            "a fetch timeout lasts at least a second"
        );
        anyhow::ensure!(
            [
                self.job_deadline_restart_secs,
                self.job_deadline_unpack_secs,
                self.job_deadline_check_secs,
                self.job_deadline_fetch_secs,
            ]
            .iter()
            .all(|secs| *secs >= 1),
            "a job deadline lasts at least a second"
        );
        anyhow::ensure!(self.max_alarms >= 1, "max alarms must be at least 1");
        anyhow::ensure!(
            self.max_pending_jobs >= 1 && self.max_distros_per_storage >= 1,
            "max pending jobs and max distros per storage must be at least 1"
        );
        anyhow::ensure!(
            self.db_pool >= 1,
            "the database pool needs at least one connection"
        );
        Ok(())
    }

    fn job_settings(&self) -> JobSettings {
        JobSettings {
            retention: (self.job_retention_days > 0)
                .then(|| Duration::from_secs(self.job_retention_days.saturating_mul(86_400))),
            slots: self.job_slots,
            lease: Duration::from_secs(self.job_lease_secs),
            poll: Duration::from_millis(self.job_poll_ms),
            backoff: Duration::from_millis(self.job_backoff_ms),
            report: Duration::from_secs(self.report_secs.max(1)),
            deadlines: JobDeadlines {
                restart: Duration::from_secs(self.job_deadline_restart_secs),
                unpack: Duration::from_secs(self.job_deadline_unpack_secs),
                check: Duration::from_secs(self.job_deadline_check_secs),
                fetch: Duration::from_secs(self.job_deadline_fetch_secs),
            },
        }
    }

    fn login_settings(&self) -> LoginSettings {
        LoginSettings {
            per_user_address: self.login_limit_per_user_address,
            per_address: self.login_limit_per_address,
            per_username: self.login_limit_per_username,
            argon2_slots: self.argon2_slots.unwrap_or_else(cores),
            argon2_queue: self.argon2_queue,
        }
    }

    fn quotas(&self) -> Quotas {
        let max_image_bytes = self.max_image_mb.saturating_mul(1024 * 1024);
        Quotas {
            max_pending_jobs: self.max_pending_jobs,
            max_upload_bytes_in_flight: self
                .max_upload_mb_in_flight
                .map_or(max_image_bytes.saturating_mul(2), |mb| {
                    mb.saturating_mul(1024 * 1024)
                }),
            max_distros_per_storage: self.max_distros_per_storage,
        }
    }

    fn image_settings(&self) -> ImageSettings {
        ImageSettings {
            max_archive_bytes: self.max_image_mb.saturating_mul(1024 * 1024),
            max_entries: self.max_image_entries,
            fetch_allow_private: self.fetch_allow_private,
            fetch_timeout: Duration::from_secs(self.fetch_timeout_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(raw: &str) -> IpNetwork {
        raw.parse().unwrap()
    }

    #[test]
    fn networks_hold_their_addresses_and_no_others() {
        assert!(network("10.0.0.0/8").contains("10.200.3.4".parse().unwrap()));
        assert!(!network("10.0.0.0/8").contains("11.0.0.1".parse().unwrap()));
        assert!(network("127.0.0.1").contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!network("127.0.0.1").contains("127.0.0.2".parse().unwrap()));
        assert!(network("fd00::/8").contains("fd12::1".parse().unwrap()));
        assert!(!network("fd00::/8").contains("10.0.0.1".parse().unwrap()));
        assert!(network("0.0.0.0/0").contains("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn malformed_networks_are_refused() {
        for raw in [
            "10.0.0.0/33",
            "10.0.0/8",
            "::1/129",
            "localhost",
            "10.0.0.0/",
        ] {
            assert!(raw.parse::<IpNetwork>().is_err(), "{raw}");
        }
    }
}
