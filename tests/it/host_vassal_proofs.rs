//! Two proofs about the vassals the built-in template renders, the file the host's Emperor
//! parses and runs as root:
//!
//! - uWSGI reads every value literally. Debian's real `uwsgi` parses each rendered vassal,
//!   with its `@(…)`, `$(…)`, `%(…)` and `%x` expansion passes, and prints back exactly the
//!   text that was written.
//! - Every path a vassal makes root resolve on the host, before `pivot_root`, passes only
//!   through root-owned directories that are not links, even when the customer owns their home
//!   and everything below it and has planted links at every entry of it.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use distropanel::domain::ids::ContainerId;
use distropanel::domain::values::{DistroPath, Uid};
use distropanel::host::local::LocalHost;
use distropanel::host::vassal::{Boot, HostLayout, SKELETON, VassalSpec, VassalTemplate};
use distropanel::host::{HostExecutor, ImageCheck, ImageRef};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// uWSGI reads every value literally
// ---------------------------------------------------------------------------------------------

/// One `key = value` line, split as uWSGI's ini reader splits it (core/ini.c): at the first
/// `=`, spaces and tabs trimmed around both.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OptionLine {
    key: String,
    value: String,
}

/// The option lines of a vassal, in order. A vassal has one section, `[uwsgi]`, first; every
/// other line is blank, a comment or an option.
fn option_lines(vassal: &str) -> Vec<OptionLine> {
    let mut in_section = false;
    let mut lines = Vec::new();
    for raw in vassal.split('\n') {
        let line = raw.trim_matches([' ', '\t', '\r']);
        if line.is_empty() || line.starts_with([';', '#']) {
            continue;
        }
        if line.starts_with('[') {
            assert!(
                !in_section && line == "[uwsgi]",
                "a section other than the one [uwsgi]: {line:?}"
            );
            in_section = true;
            continue;
        }
        assert!(in_section, "an option before [uwsgi]: {line:?}");
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("a line that is no option: {line:?}"));
        lines.push(OptionLine {
            key: key.trim_end_matches([' ', '\t']).to_owned(),
            value: value.trim_start_matches([' ', '\t']).to_owned(),
        });
    }
    lines
}

/// The vassal made harmless for uWSGI to parse, each value still where uWSGI expands it.
///
/// Every option line is followed by `probe-<n> = <its value>`, a key no option has, which
/// `uwsgi --get probe-<n>` prints once all expansion passes are done. Hooks become `log:`
/// lines carrying their value; `plugins` (loaded while the file is parsed) and `strict` (which
/// would refuse the probe keys) are left out. Every other option stays under its own key, so a
/// `%(uid)` resolves as it would in the real vassal: uWSGI only records those values before
/// `--get` prints and exits, right after the asap hooks and before it sets up logs, jails,
/// privileges, cgroups, alarms or an Emperor (core/uwsgi.c, 2.0.21).
fn probe_of(lines: &[OptionLine]) -> String {
    let mut probe = String::from("[uwsgi]\n");
    for (n, OptionLine { key, value }) in lines.iter().enumerate() {
        if key.starts_with("hook-") {
            probe.push_str(&format!("{key} = log:{value}\n"));
        } else if !matches!(key.as_str(), "plugins" | "plugin" | "strict") {
            probe.push_str(&format!("{key} = {value}\n"));
        }
        probe.push_str(&format!("probe-{n} = {value}\n"));
    }
    probe
}

/// What `HOME` holds for the probing uWSGI, so a `$(HOME)` would show.
const PROBE_HOME: &str = "/home-of-the-probe";

/// The value uWSGI reads for each option line of `vassal`, in order: the real `uwsgi` parses
/// the probe of `vassal` in `workdir` (its working directory, where `@(file)` would look) with
/// a clean environment, and is killed if it runs for more than 10 s.
fn uwsgi_reading(vassal: &str, workdir: &Path) -> Vec<String> {
    let lines = option_lines(vassal);
    let probe = workdir.join("probe.ini");
    fs::write(&probe, probe_of(&lines)).unwrap();
    let stdout = workdir.join("stdout");
    let stderr = workdir.join("stderr");
    let mut command = Command::new("uwsgi");
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", PROBE_HOME)
        .current_dir(workdir)
        .arg("--ini")
        .arg(&probe)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout).unwrap())
        .stderr(fs::File::create(&stderr).unwrap());
    for n in 0..lines.len() {
        command.arg("--get").arg(format!("probe-{n}"));
    }
    let mut child = command
        .spawn()
        .expect("uwsgi is installed (scripts/setup installs uwsgi-core)");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("uwsgi ran for more than 10 s on {}", probe.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let errors = fs::read_to_string(&stderr).unwrap();
    assert!(status.success(), "uwsgi failed ({status}): {errors}");
    let read: Vec<String> = fs::read_to_string(&stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        read.len(),
        lines.len(),
        "one printed value per option line: {read:#?}\n{errors}"
    );
    read
}

/// The option lines of `vassal` whose value uWSGI reads as something else than the text
/// written, with what it read.
fn misread(vassal: &str, workdir: &Path) -> Vec<(OptionLine, String)> {
    option_lines(vassal)
        .into_iter()
        .zip(uwsgi_reading(vassal, workdir))
        .filter(|(line, read)| &line.value != read)
        .collect()
}

fn checks_missing_each_dir() -> [ImageCheck; 3] {
    [(false, true), (true, false), (false, false)].map(|(old_root, containers)| ImageCheck {
        old_root,
        containers,
    })
}

/// Every kind of boot, from the closest thing to hostile values the types admit.
fn every_boot(path: &DistroPath, image: &ImageRef) -> Vec<Boot> {
    let mut boots = vec![
        Boot::Bare,
        Boot::Platform(path.clone()),
        Boot::Custom {
            image: image.clone(),
        },
    ];
    for check in checks_missing_each_dir() {
        boots.push(Boot::Fallback {
            image: image.clone(),
            distro: path.clone(),
            check,
        });
    }
    boots
}

#[test]
fn uwsgi_reads_every_value_of_every_rendered_vassal_literally() {
    let max_uid = Uid::of(u32::MAX - 1 - i32::MAX as u32, ContainerId(i32::MAX));
    let least_uid = Uid::of(0, ContainerId(1));
    let paths = [
        format!("-.{}", "_".repeat(62)),
        "...".to_owned(),
        "-".to_owned(),
        "a.b-c_D9".to_owned(),
    ]
    .map(|p| DistroPath::parse(&p).unwrap());
    let roots = ["/", "/srv/h.o-s_t/", "/a/../b.-_/..."];
    let mut rendered = 0;
    for (r, root) in roots.iter().enumerate() {
        let layout = HostLayout::new(Path::new(root)).unwrap();
        for (p, path) in paths.iter().enumerate() {
            let image = ImageRef {
                storage_uid: if p % 2 == 0 { max_uid } else { least_uid },
                path: path.clone(),
            };
            for boot in every_boot(path, &image) {
                for storage in [false, true] {
                    let spec = VassalSpec {
                        memory_mb: if storage { i32::MAX } else { i32::MIN },
                        storage_mb: i32::MAX,
                        // the API keeps it at 60 or more; uWSGI refuses 0 and below
                        alarm_freq: if storage { 60 } else { i32::MAX },
                        storage,
                        nofollow: storage,
                        ..VassalSpec::new(
                            if (r + p) % 2 == 0 { max_uid } else { least_uid },
                            boot.clone(),
                        )
                    };
                    let vassal = VassalTemplate::Builtin.render(&layout, &spec).unwrap();
                    let workdir = tempfile::tempdir().unwrap();
                    let wrong = misread(vassal.as_str(), workdir.path());
                    assert!(
                        wrong.is_empty(),
                        "uWSGI read these values otherwise than written: {wrong:#?}\nin\n{}",
                        vassal.as_str()
                    );
                    rendered += 1;
                }
            }
        }
    }
    assert_eq!(rendered, roots.len() * paths.len() * 6 * 2);
}

#[test]
fn the_comparison_sees_uwsgi_expand_a_placeholder_a_variable_a_file_or_a_magic_value() {
    let uid = Uid::of(30000, ContainerId(2));
    let layout = HostLayout::new(Path::new("/srv/host")).unwrap();
    let spec = VassalSpec::new(uid, Boot::Platform(DistroPath::parse("jammy").unwrap()));
    let vassal = VassalTemplate::Builtin.render(&layout, &spec).unwrap();
    let vassal = vassal.as_str();
    let targets = [
        "logto2 = ",
        "hook-pre-jail = mount:none /srv/host/distros/jammy",
    ];
    for target in targets {
        let line = vassal
            .lines()
            .find(|l| l.starts_with(target))
            .unwrap_or_else(|| panic!("the vassal has a line {target:?}"));
        let written = line.split_once(" = ").unwrap().1;
        let workdir = tempfile::tempdir().unwrap();
        fs::write(workdir.path().join("planted"), "the planted file\n").unwrap();
        let probe_dir = format!("{}/", workdir.path().display());
        for (magic, uwsgi_makes_it) in [
            ("%(uid)", "30002"),
            ("$(HOME)", PROBE_HOME),
            ("@(planted)", "the planted file"),
            ("%d", probe_dir.as_str()),
        ] {
            let doctored = vassal.replacen(line, &format!("{line}{magic}"), 1);
            let wrong = misread(&doctored, workdir.path());
            assert_eq!(
                wrong,
                [(
                    OptionLine {
                        key: line.split_once(" = ").unwrap().0.to_owned(),
                        value: format!("{written}{magic}"),
                    },
                    format!("{written}{uwsgi_makes_it}")
                )],
                "{magic} in {line:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Host-side paths resolve through root-owned directories that are not links
// ---------------------------------------------------------------------------------------------

/// Why root, resolving `path` on the host, could be led somewhere by someone else: a link at
/// any component, or a directory on the way that is not root's alone (owned by another uid,
/// or writable by group or others without the sticky bit). `last_may_be_a_containers`: the
/// directory a mount source names, when it is a home or an image, may belong to a container,
/// but must not be a link either.
fn walk(path: &str, last_may_be_a_containers: bool) -> Vec<String> {
    let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
    let mut at = PathBuf::from("/");
    let mut why = Vec::new();
    if let Some(not_roots) = not_roots_alone(&at) {
        why.push(format!("{path}: / {not_roots}"));
    }
    for (i, name) in names.iter().enumerate() {
        at.push(name);
        let last = i + 1 == names.len();
        match fs::symlink_metadata(&at) {
            Err(e) => {
                why.push(format!("{path}: {}: {e}", at.display()));
                break;
            }
            Ok(meta) if meta.file_type().is_symlink() => {
                why.push(format!("{path}: {} is a link", at.display()));
                break;
            }
            Ok(meta) if !last && !meta.is_dir() => {
                why.push(format!("{path}: {} is no directory", at.display()));
                break;
            }
            Ok(_) if last && last_may_be_a_containers => {}
            Ok(_) => {
                if let Some(not_roots) = not_roots_alone(&at) {
                    why.push(format!("{path}: {} {not_roots}", at.display()));
                }
            }
        }
    }
    why
}

fn not_roots_alone(at: &Path) -> Option<String> {
    let meta = fs::symlink_metadata(at).ok()?;
    let mode = meta.mode() & 0o7777;
    if meta.uid() != 0 {
        Some(format!("is owned by uid {}", meta.uid()))
    } else if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        Some(format!("is writable by group or others (mode {mode:o})"))
    } else {
        None
    }
}

/// `path` is `dir` or below it.
fn is_within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path == dir || path.starts_with(&format!("{dir}/"))
}

/// The host's own directories a vassal names (the host root `/` aside, never under the host
/// root): they are not the platform's to vouch for.
fn hosts_own(path: &str) -> bool {
    matches!(path, "/" | "/dev" | "/dev/pts") || path.starts_with("/sys/fs/cgroup/")
}

/// A path a host-side line makes root resolve.
struct HostPath {
    path: String,
    mount_source: bool,
}

/// A home (`<root>/containers/<uid>`) or an installed image
/// (`<root>/var/lib/distropanel/images/<uid>/<path>`): a directory a container owns, whose
/// entry in its root-owned parent only the platform can replace.
fn a_containers_own(path: &str, root: &str) -> bool {
    let root = root.trim_end_matches('/');
    let below = |dir: &str, depth: usize| {
        path.strip_prefix(&format!("{root}/{dir}/"))
            .is_some_and(|rest| rest.split('/').count() == depth && !rest.contains("//"))
    };
    below("containers", 1) || below("var/lib/distropanel/images", 2)
}

/// The paths root resolves on the host for the hook `value` (`action:args`). Mount targets
/// below the new root are left out: they are the container's business, since the vassal mounts
/// in a private mount namespace of its own, so no mount there reaches the host's.
fn hook_paths(value: &str, new_root: &str) -> Vec<HostPath> {
    let (action, args) = value.split_once(':').unwrap_or((value, ""));
    let absolute = |t: &&str| t.starts_with('/');
    match action {
        // a message, an environment variable: nothing is resolved
        "log" | "putenv" => Vec::new(),
        "mount" => {
            let args: Vec<&str> = args.split_whitespace().collect();
            let arg = |n: usize| args.get(n).copied().filter(absolute);
            let mut paths = Vec::new();
            if let Some(source) = arg(1) {
                paths.push(HostPath {
                    path: source.to_owned(),
                    mount_source: true,
                });
            }
            if let Some(target) = arg(2)
                && !is_within(target, &format!("{new_root}/"))
            {
                paths.push(HostPath {
                    path: target.to_owned(),
                    mount_source: false,
                });
            }
            paths
        }
        _ => args
            .split_whitespace()
            .filter(absolute)
            .map(|t| HostPath {
                path: t.to_owned(),
                mount_source: false,
            })
            .collect(),
    }
}

/// Every way the vassal could make root, on the host, follow something a customer controls;
/// empty when none. `root` is the host root, `uid` the container's.
fn host_side_violations(vassal: &str, root: &str, uid: Uid) -> Vec<String> {
    let new_root = format!("{}/ns", root.trim_end_matches('/'));
    let lines = option_lines(vassal);
    let pivots = lines
        .iter()
        .any(|l| matches!(l.key.as_str(), "pivot_root" | "pivot-root"));
    let mut why = Vec::new();
    let mut host_paths = Vec::new();
    for OptionLine { key, value } in &lines {
        let line = format!("{key} = {value}");
        match key.as_str() {
            "hook-asap" | "hook-pre-jail" => host_paths.extend(hook_paths(value, &new_root)),
            "hook-as-root" if !pivots => host_paths.extend(hook_paths(value, &new_root)),
            "cgroup" => host_paths.push(HostPath {
                path: value.clone(),
                mount_source: false,
            }),
            "pivot_root" | "pivot-root" => {
                let mut args = value.split_whitespace();
                let (new, old) = (args.next().unwrap_or(""), args.next().unwrap_or(""));
                if new != new_root || !is_within(old, &format!("{new_root}/")) {
                    why.push(format!("{line}: not onto the root-owned {new_root}"));
                }
                host_paths.push(HostPath {
                    path: new.to_owned(),
                    mount_source: false,
                });
            }
            "logto" => why.push(format!("{line}: a log opened as root, by path")),
            k if k.starts_with("if-") => why.push(format!("{line}: a condition resolved as root")),
            // inside the new root, or after privileges are dropped
            "hook-as-root"
            | "hook-as-user"
            | "logto2"
            | "emperor"
            | "emperor-wrapper"
            | "emperor-wrapper-override"
            | "emperor-wrapper-fallback" => {
                let names_the_host = value
                    .split([' ', ':', '='])
                    .any(|token| root != "/" && is_within(token, root));
                if pivots && names_the_host {
                    why.push(format!("{line}: names the host root after pivot_root"));
                }
            }
            "uid" | "gid" => {
                if value != &uid.to_string() {
                    why.push(format!("{line}: privileges are not dropped to {uid}"));
                }
            }
            "strict"
            | "plugins"
            | "auto-procname"
            | "procname-prefix-spaced"
            | "cgroup-dir-mode"
            | "alarm"
            | "alarm-freq"
            | "jailed"
            | "exit-on-reload"
            | "log-maxsize"
            | "emperor-nofollow" => {
                if value.split_whitespace().any(|t| t.starts_with('/')) {
                    why.push(format!("{line}: a path in an option taken for pathless"));
                }
            }
            _ => why.push(format!(
                "{line}: an option this proof does not know; classify it"
            )),
        }
    }
    for key in ["uid", "gid"] {
        if !lines.iter().any(|l| l.key == key) {
            why.push(format!("no {key} line: privileges are never dropped"));
        }
    }
    for HostPath { path, mount_source } in host_paths {
        if hosts_own(&path) {
            if root != "/" && is_within(&path, root) {
                why.push(format!(
                    "{path}: the host's own directory is under the host root"
                ));
            }
            continue;
        }
        why.extend(walk(&path, mount_source && a_containers_own(&path, root)));
    }
    why
}

/// Gives `path` and everything below it to `uid`, links included, as a customer's files are.
fn give_tree(path: &Path, uid: u32) {
    lchown(path, Some(uid), Some(uid)).unwrap();
    let meta = fs::symlink_metadata(path).unwrap();
    if meta.is_dir() {
        fs::set_permissions(path, fs::Permissions::from_mode(0o777)).unwrap();
        for entry in fs::read_dir(path).unwrap() {
            give_tree(&entry.unwrap().path(), uid);
        }
    }
}

/// Replaces `dir/name` with a link to `target`, owned by `uid`.
fn plant_link(dir: &Path, name: &str, target: &Path, uid: u32) {
    let at = dir.join(name);
    match fs::symlink_metadata(&at) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(&at).unwrap(),
        Ok(_) => fs::remove_file(&at).unwrap(),
        Err(_) => {}
    }
    symlink(target, &at).unwrap();
    lchown(&at, Some(uid), Some(uid)).unwrap();
}

/// Where the store keeps `image` below the host root `root`.
fn installed_image(root: &Path, image: &ImageRef) -> PathBuf {
    root.join("var/lib/distropanel/images")
        .join(image.storage_uid.to_string())
        .join(image.path.as_str())
}

fn raw(uid: Uid) -> u32 {
    u32::try_from(uid.get()).unwrap()
}

#[derive(Debug, Clone)]
enum BootKind {
    Bare,
    Platform,
    Custom,
    Fallback(ImageCheck),
}

#[derive(Debug, Clone)]
struct HostCase {
    /// Below a fresh temporary directory.
    root_below: Vec<String>,
    uid: Uid,
    storage: bool,
    nofollow: bool,
    path: DistroPath,
    boot: BootKind,
    /// The storage container of the image; `None`: the container itself.
    image_owner: Option<Uid>,
}

/// A fresh host root where `case`'s container has its home, owned by the container down to its
/// last entry, a platform distro, and the image it maps installed in the store.
struct HostileHost {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
    host: LocalHost,
    spec: VassalSpec,
}

impl HostileHost {
    fn build(case: &HostCase) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = case
            .root_below
            .iter()
            .fold(tmp.path().to_path_buf(), |dir, name| dir.join(name));
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let host = LocalHost::open(&root, &tmp.path().join("vassals")).unwrap();
        let uid = case.uid;
        host.ensure_home(uid).unwrap();
        if case.storage {
            host.ensure_storage_dir(uid).unwrap();
        }
        let platform = root.join("distros").join(case.path.as_str());
        fs::create_dir_all(&platform).unwrap();
        fs::set_permissions(&platform, fs::Permissions::from_mode(0o755)).unwrap();
        let image = ImageRef {
            storage_uid: case.image_owner.unwrap_or(uid),
            path: case.path.clone(),
        };
        if matches!(case.boot, BootKind::Custom | BootKind::Fallback(_)) {
            host.ensure_home(image.storage_uid).unwrap();
            host.ensure_storage_dir(image.storage_uid).unwrap();
            let installed = installed_image(&root, &image);
            for dir in [".old_root", "containers", "etc"] {
                fs::create_dir_all(installed.join(dir)).unwrap();
            }
            give_tree(&installed, raw(image.storage_uid));
        }
        give_tree(&root.join("containers").join(uid.to_string()), raw(uid));
        let boot = match &case.boot {
            BootKind::Bare => Boot::Bare,
            BootKind::Platform => Boot::Platform(case.path.clone()),
            BootKind::Custom => Boot::Custom { image },
            BootKind::Fallback(check) => Boot::Fallback {
                image,
                distro: case.path.clone(),
                check: *check,
            },
        };
        let spec = VassalSpec {
            storage: case.storage,
            nofollow: case.nofollow,
            ..VassalSpec::new(uid, boot)
        };
        Self {
            _tmp: tmp,
            root,
            outside,
            host,
            spec,
        }
    }

    fn home(&self) -> PathBuf {
        self.root.join("containers").join(self.spec.uid.to_string())
    }

    fn vassal(&self) -> String {
        VassalTemplate::Builtin
            .render(self.host.layout(), &self.spec)
            .unwrap()
            .as_str()
            .to_owned()
    }

    fn violations(&self, vassal: &str) -> Vec<String> {
        host_side_violations(vassal, self.host.layout().root(), self.spec.uid)
    }

    /// The customer replaces every entry of the home the platform made, and the image's
    /// directories, with links out of it; the executor then ensures the home again.
    fn plant_links_everywhere(&self) {
        let uid = raw(self.spec.uid);
        let home = self.home();
        for name in SKELETON.iter().chain(&["distros"]) {
            plant_link(&home, name, &self.outside, uid);
        }
        if let Boot::Custom { image } | Boot::Fallback { image, .. } = &self.spec.boot {
            let installed = installed_image(&self.root, image);
            for name in [".old_root", "containers"] {
                plant_link(&installed, name, Path::new("/"), raw(image.storage_uid));
            }
        }
        let skipped = self.host.ensure_home(self.spec.uid).unwrap();
        assert!(!skipped.is_empty(), "the planted links are reported");
    }
}

fn distro_path() -> impl Strategy<Value = DistroPath> {
    "[A-Za-z0-9._-]{1,64}"
        .prop_filter("one directory entry", |p| p != "." && p != "..")
        .prop_map(|p| DistroPath::parse(&p).unwrap())
}

fn root_component() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._-]{1,24}".prop_filter("one directory entry", |p| p != "." && p != "..")
}

/// Uids that fit the system's `uid_t`, up to the largest the base and a container id make.
fn container_uid() -> impl Strategy<Value = Uid> {
    (0u32..=2_000_000_000, 1i32..=i32::MAX).prop_map(|(base, id)| Uid::of(base, ContainerId(id)))
}

fn boot_kind() -> impl Strategy<Value = BootKind> {
    prop_oneof![
        Just(BootKind::Bare),
        Just(BootKind::Platform),
        Just(BootKind::Custom),
        prop::sample::select(checks_missing_each_dir().to_vec()).prop_map(BootKind::Fallback),
    ]
}

fn host_case() -> impl Strategy<Value = HostCase> {
    (
        prop::collection::vec(root_component(), 1..=3),
        container_uid(),
        any::<bool>(),
        any::<bool>(),
        distro_path(),
        boot_kind(),
        prop::option::of(container_uid()),
    )
        .prop_map(
            |(root_below, uid, storage, nofollow, path, boot, image_owner)| HostCase {
                root_below,
                uid,
                storage,
                nofollow,
                path,
                boot,
                image_owner,
            },
        )
}

fn assert_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this proof gives homes to container uids: run the tests as root"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn every_host_side_path_of_a_vassal_passes_only_through_root_owned_directories_that_are_not_links(
        case in host_case()
    ) {
        assert_root();
        let host = HostileHost::build(&case);
        let vassal = host.vassal();
        let lines = option_lines(&vassal);
        prop_assert!(!lines.iter().any(|l| l.key == "logto" || l.key.starts_with("if-")));
        prop_assert_eq!(
            lines.iter().any(|l| l.key == "pivot_root"),
            !matches!(case.boot, BootKind::Bare),
            "every boot but a bare one pivots"
        );
        let first = host.violations(&vassal);
        prop_assert!(first.is_empty(), "{:#?}\nin\n{}", first, vassal);

        host.plant_links_everywhere();
        let vassal = host.vassal();
        let second = host.violations(&vassal);
        prop_assert!(second.is_empty(), "{:#?}\nin\n{}", second, vassal);
    }
}

#[test]
fn the_walk_catches_a_source_inside_a_home_a_link_a_root_log_a_condition_and_the_host_after_the_pivot()
 {
    assert_root();
    let case = HostCase {
        root_below: vec!["h.o-s_t".to_owned()],
        uid: Uid::of(30000, ContainerId(2)),
        storage: true,
        nofollow: false,
        path: DistroPath::parse("jammy").unwrap(),
        boot: BootKind::Platform,
        image_owner: None,
    };
    let host = HostileHost::build(&case);
    let vassal = host.vassal();
    assert_eq!(host.violations(&vassal), Vec::<String>::new());
    let root = host.root.display().to_string();
    let home = host.home().display().to_string();

    // the customer's logs directory as a mount source: the walk passes through their home,
    // and ends on a directory that is neither a home nor an image
    let inside = vassal.replacen(
        &format!("mount:none {home} "),
        &format!("mount:none {home}/logs "),
        1,
    );
    let uid = case.uid;
    assert_eq!(
        host.violations(&inside),
        [
            format!("{home}/logs: {home} is owned by uid {uid}"),
            format!("{home}/logs: {home}/logs is owned by uid {uid}"),
        ]
    );

    // a link to the platform distro, planted where the host root is writable
    symlink(
        host.root.join("distros/jammy"),
        host.root.join("distros/linked"),
    )
    .unwrap();
    let linked = vassal.replacen("/distros/jammy ", "/distros/linked ", 1);
    assert_eq!(
        host.violations(&linked),
        [format!(
            "{root}/distros/linked: {root}/distros/linked is a link"
        )]
    );

    let logged = format!("{vassal}\nlogto = {home}/logs/emperor.log\n");
    assert_eq!(
        host.violations(&logged),
        [format!(
            "logto = {home}/logs/emperor.log: a log opened as root, by path"
        )]
    );

    let conditioned = format!("{vassal}\nif-dir = {home}/logs\n");
    assert_eq!(
        host.violations(&conditioned),
        [format!(
            "if-dir = {home}/logs: a condition resolved as root"
        )]
    );

    let after_pivot = format!("{vassal}\nhook-as-root = chown:{home}/logs 0 0\n");
    assert_eq!(
        host.violations(&after_pivot),
        [format!(
            "hook-as-root = chown:{home}/logs 0 0: names the host root after pivot_root"
        )]
    );
}
