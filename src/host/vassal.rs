//! The container's vassal: the uWSGI config the server's Emperor runs as the container.
//!
//! uWSGI expands `@(…)`, `$(…)` and `%(…)` in every value while it parses a vassal, as root,
//! and its path hooks follow links. So a vassal holds no customer byte: every interpolated
//! value is a [`VassalText`] built from uids, numbers, [`DistroPath`]s and the operator's host
//! root, and every host-side path names only root-owned directories (see
//! [`crate::host::store`]). The built-in template is `templates/vassal.ini` (askama, no
//! escaping: the values are safe by type); an operator may replace it with a file of their own
//! using `{{name}}` placeholders, checked when the file is loaded.

use std::fmt;
use std::path::Path;

use askama::Template;

use crate::domain::values::{DistroPath, Uid};
use crate::host::store;
use crate::host::{HostError, ImageCheck, ImageRef};

/// A value uWSGI reads literally: none of its magic (`@`, `$`, `%`), no line break, comment
/// (`;`, `#`), section (`[`), quote, space or control character. Paths and numbers only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VassalText(String);

impl VassalText {
    pub fn new(value: impl Into<String>) -> Result<Self, HostError> {
        let value = value.into();
        match value.chars().find(|c| Self::forbidden(*c)) {
            None if !value.is_empty() => Ok(Self(value)),
            None => Err(HostError::Template("an empty value".to_owned())),
            Some(c) => Err(HostError::Template(format!(
                "{value:?} holds {c:?}, which uWSGI does not read literally"
            ))),
        }
    }

    fn forbidden(c: char) -> bool {
        matches!(
            c,
            '@' | '$' | '%' | ';' | '#' | '[' | ']' | '"' | '\'' | '`' | '\\'
        ) || c.is_whitespace()
            || c.is_control()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VassalText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the host keeps homes, distros and distropanel's own store, as the vassal names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLayout {
    /// The host root without its trailing `/` (empty for `/`).
    root: String,
}

impl HostLayout {
    /// `root` must be absolute, UTF-8 and made only of characters uWSGI reads literally: it is
    /// written into vassals.
    pub fn new(root: &Path) -> Result<Self, HostError> {
        let refused = || {
            HostError::refused(
                root.display(),
                "the host root must be an absolute UTF-8 path without spaces, control characters or any of @ $ % ; # [ ] quotes and backslashes",
            )
        };
        let text = root
            .to_str()
            .filter(|t| t.starts_with('/'))
            .ok_or_else(refused)?;
        VassalText::new(text).map_err(|_| refused())?;
        Ok(Self {
            root: text.trim_end_matches('/').to_owned(),
        })
    }

    pub fn root(&self) -> &str {
        if self.root.is_empty() {
            "/"
        } else {
            &self.root
        }
    }

    fn path(&self, below: &str) -> String {
        format!("{}/{below}", self.root)
    }

    pub fn home(&self, uid: Uid) -> String {
        self.path(&format!("containers/{uid}"))
    }

    pub fn platform_distro(&self, path: &DistroPath) -> String {
        self.path(&format!("distros/{path}"))
    }

    /// The root-owned directory the container's new root is mounted on before `pivot_root`.
    pub fn new_root(&self) -> String {
        self.path(store::NEW_ROOT)
    }

    /// An installed custom distro image, in distropanel's store.
    pub fn image(&self, image: &ImageRef) -> String {
        format!("{}/{}", self.images(image.storage_uid), image.path)
    }

    /// Every image of a storage container: its `~/distros` inside the container.
    pub fn images(&self, storage: Uid) -> String {
        self.path(&format!("{}/{}/{storage}", store::STORE, store::IMAGES))
    }

    /// The root-owned directory a container sees as `/containers`.
    pub fn view(&self, uid: Uid) -> String {
        self.path(&format!("{}/{}/{uid}", store::STORE, store::VIEWS))
    }
}

/// Which root filesystem the container boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boot {
    /// No distro at all: the host's root, and no mounts.
    Bare,
    Platform(DistroPath),
    /// The mapped custom distro, checked bootable at this restart.
    Custom {
        image: ImageRef,
    },
    /// The custom distro cannot boot: the default distro does, and `check` says why.
    Fallback {
        image: ImageRef,
        distro: DistroPath,
        check: ImageCheck,
    },
}

impl Boot {
    /// The executor's decision at restart, from what the container maps and what the image
    /// holds. `check` is `None` when the image could not be looked at (serving a vassal
    /// without touching the host): the image is then taken as bootable.
    pub fn decide(
        distro: Option<DistroPath>,
        custom: Option<ImageRef>,
        check: Option<ImageCheck>,
    ) -> Self {
        match (distro, custom) {
            (None, _) => Boot::Bare,
            (Some(distro), None) => Boot::Platform(distro),
            (Some(distro), Some(image)) => match check {
                Some(check) if !check.bootable() => Boot::Fallback {
                    image,
                    distro,
                    check,
                },
                _ => Boot::Custom { image },
            },
        }
    }

    /// The same decision from what the last restart recorded (for serving vassals without
    /// touching the host): the stored reason names what the image lacked.
    pub fn recorded(
        distro: Option<DistroPath>,
        custom: Option<ImageRef>,
        fallback_reason: Option<&str>,
    ) -> Self {
        let check = fallback_reason.map(|reason| ImageCheck {
            old_root: !reason.contains("/.old_root does not exist"),
            containers: !reason.contains("/containers does not exist"),
        });
        Boot::decide(distro, custom, check)
    }

    /// The level-0 alarms of a fallback, in uwsgi.it's words.
    pub fn fallback_alarms(&self) -> Vec<String> {
        match self {
            Boot::Fallback { image, check, .. } => check.danger_alarms(image),
            _ => Vec::new(),
        }
    }

    /// What is stored on the container: why it runs its fallback, if it does.
    pub fn fallback_reason(&self) -> Option<String> {
        match self {
            Boot::Fallback { .. } => Some(self.fallback_alarms().join("\n")),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Boot::Bare => "none",
            Boot::Platform(_) => "platform",
            Boot::Custom { .. } => "custom",
            Boot::Fallback { .. } => "fallback",
        }
    }
}

/// Everything a vassal says about one container.
#[derive(Debug, Clone)]
pub struct VassalSpec {
    pub uid: Uid,
    pub memory_mb: i32,
    pub storage_mb: i32,
    pub alarm_freq: i32,
    pub storage: bool,
    pub nofollow: bool,
    pub boot: Boot,
}

impl VassalSpec {
    pub fn new(uid: Uid, boot: Boot) -> Self {
        Self {
            uid,
            memory_mb: 64,
            storage_mb: 1024,
            alarm_freq: 60,
            storage: false,
            nofollow: false,
            boot,
        }
    }
}

/// A vassal ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedVassal(String);

impl RenderedVassal {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The built-in template, or an operator's replacement.
#[derive(Debug, Clone)]
pub enum VassalTemplate {
    Builtin,
    Custom(PlaceholderTemplate),
}

impl VassalTemplate {
    /// The operator's template file, or the built-in one.
    pub fn load(path: Option<&Path>) -> Result<Self, HostError> {
        match path {
            None => Ok(VassalTemplate::Builtin),
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| HostError::io(path.display(), e))?;
                PlaceholderTemplate::parse(&text)
                    .map(VassalTemplate::Custom)
                    .map_err(|why| HostError::Template(format!("{}: {why}", path.display())))
            }
        }
    }

    /// Renders the vassal; a value uWSGI would not read literally is refused, not written.
    pub fn render(
        &self,
        layout: &HostLayout,
        spec: &VassalSpec,
    ) -> Result<RenderedVassal, HostError> {
        let view = VassalView::new(layout, spec)?;
        match self {
            VassalTemplate::Builtin => BuiltinVassal { v: &view }
                .render()
                .map(RenderedVassal)
                .map_err(|e| HostError::Template(e.to_string())),
            VassalTemplate::Custom(template) => Ok(RenderedVassal(template.render(&view))),
        }
    }
}

#[derive(Debug)]
enum BootView {
    Bare,
    Platform {
        root: VassalText,
    },
    Custom {
        image: VassalText,
        label: VassalText,
    },
    Fallback {
        root: VassalText,
        label: VassalText,
        old_root_missing: bool,
        containers_missing: bool,
    },
}

impl BootView {
    fn new(layout: &HostLayout, boot: &Boot) -> Result<Self, HostError> {
        Ok(match boot {
            Boot::Bare => BootView::Bare,
            Boot::Platform(path) => BootView::Platform {
                root: VassalText::new(layout.platform_distro(path))?,
            },
            Boot::Custom { image } => BootView::Custom {
                image: VassalText::new(layout.image(image))?,
                label: VassalText::new(image.label())?,
            },
            Boot::Fallback {
                image,
                distro,
                check,
            } => BootView::Fallback {
                root: VassalText::new(layout.platform_distro(distro))?,
                label: VassalText::new(image.label())?,
                old_root_missing: !check.old_root,
                containers_missing: !check.containers,
            },
        })
    }

    /// The root directory the vassal boots, for placeholder templates.
    fn root(&self) -> &str {
        match self {
            BootView::Bare => "",
            BootView::Platform { root } | BootView::Fallback { root, .. } => root.as_str(),
            BootView::Custom { image, .. } => image.as_str(),
        }
    }
}

/// The values a template sees, each a number or a [`VassalText`].
#[derive(Debug)]
struct VassalView {
    uid: Uid,
    home: VassalText,
    inside_home: VassalText,
    host_root: VassalText,
    ns: VassalText,
    view: VassalText,
    images: VassalText,
    storage: bool,
    nofollow: bool,
    memory_bytes: i64,
    quota_blocks: i64,
    alarm_freq: i32,
    boot: BootView,
    boot_kind: &'static str,
}

/// The sub-directories of every home, in creation order.
pub const SKELETON: [&str; 7] = ["run", "tmp", "logs", "etc", "vassals", ".old_root", ".ssh"];

impl VassalView {
    fn new(layout: &HostLayout, spec: &VassalSpec) -> Result<Self, HostError> {
        // uWSGI reads uid and gid with atoi: anything past a system uid would wrap
        if u32::try_from(spec.uid.get()).map_or(true, |uid| uid == 0 || uid == u32::MAX) {
            return Err(HostError::Template(format!(
                "uid {} is not a container's system uid",
                spec.uid
            )));
        }
        let boot = BootView::new(layout, &spec.boot)?;
        let home = layout.home(spec.uid);
        let inside_home = if matches!(boot, BootView::Bare) {
            home.clone()
        } else {
            super::home_label(spec.uid)
        };
        Ok(Self {
            uid: spec.uid,
            home: VassalText::new(home)?,
            inside_home: VassalText::new(inside_home)?,
            host_root: VassalText::new(layout.root())?,
            ns: VassalText::new(layout.new_root())?,
            view: VassalText::new(layout.view(spec.uid))?,
            images: VassalText::new(layout.images(spec.uid))?,
            storage: spec.storage,
            nofollow: spec.nofollow,
            memory_bytes: i64::from(spec.memory_mb) * 1024 * 1024,
            quota_blocks: i64::from(spec.storage_mb) * 1024,
            alarm_freq: spec.alarm_freq,
            boot,
            boot_kind: spec.boot.kind(),
        })
    }

    fn pivots(&self) -> bool {
        !matches!(self.boot, BootView::Bare)
    }

    fn value(&self, name: &str) -> Option<String> {
        Some(match name {
            "uid" => self.uid.to_string(),
            "home" => self.home.to_string(),
            "inside_home" => self.inside_home.to_string(),
            "host_root" => self.host_root.to_string(),
            "root" => self.boot.root().to_owned(),
            "boot" => self.boot_kind.to_owned(),
            "storage" => self.storage.to_string(),
            "memory_bytes" => self.memory_bytes.to_string(),
            "quota_blocks" => self.quota_blocks.to_string(),
            "new_root" => self.ns.to_string(),
            "view" => self.view.to_string(),
            "images" => self.images.to_string(),
            _ => return None,
        })
    }
}

#[derive(Template)]
#[template(path = "vassal.ini", escape = "none")]
struct BuiltinVassal<'a> {
    v: &'a VassalView,
}

/// An operator's vassal template: text with `{{name}}` placeholders, where `name` is one of
/// [`PlaceholderTemplate::NAMES`]. No logic: the values already carry every decision.
#[derive(Debug, Clone)]
pub struct PlaceholderTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Value(String),
}

impl PlaceholderTemplate {
    pub const NAMES: [&'static str; 12] = [
        "uid",
        "home",
        "inside_home",
        "host_root",
        "root",
        "boot",
        "storage",
        "memory_bytes",
        "quota_blocks",
        "new_root",
        "view",
        "images",
    ];

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            parts.push(Part::Text(rest[..start].to_owned()));
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| "a '{{' is never closed".to_owned())?;
            let name = after[..end].trim();
            if !Self::NAMES.contains(&name) {
                return Err(format!(
                    "unknown placeholder '{{{{{name}}}}}'; known: {}",
                    Self::NAMES.join(", ")
                ));
            }
            parts.push(Part::Value(name.to_owned()));
            rest = &after[end + 2..];
        }
        parts.push(Part::Text(rest.to_owned()));
        Ok(Self { parts })
    }

    fn render(&self, view: &VassalView) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Value(name) => out.push_str(&view.value(name).unwrap_or_default()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ContainerId;

    fn uid(id: i32) -> Uid {
        Uid::of(30000, ContainerId(id))
    }

    fn image() -> ImageRef {
        ImageRef {
            storage_uid: uid(1),
            path: DistroPath::parse("ubuntu0001").unwrap(),
        }
    }

    fn jammy() -> DistroPath {
        DistroPath::parse("jammy").unwrap()
    }

    fn render_at(root: &str, spec: &VassalSpec) -> String {
        let layout = HostLayout::new(Path::new(root)).unwrap();
        VassalTemplate::Builtin.render(&layout, spec).unwrap().0
    }

    fn render(boot: Boot) -> String {
        render_at("/", &VassalSpec::new(uid(2), boot))
    }

    fn lines_with<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
        text.lines()
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix(" = "))
            .collect()
    }

    #[test]
    fn a_custom_distro_is_mounted_from_the_store_and_nothing_is_checked_by_path() {
        let text = render(Boot::decide(Some(jammy()), Some(image()), None));
        assert!(text.contains(
            "hook-pre-jail = mount:none /var/lib/distropanel/images/30001/ubuntu0001 /ns bind"
        ));
        assert!(text.contains("pivot_root = /ns /ns/.old_root"));
        assert!(!text.lines().any(|l| l.starts_with("if-")), "{text}");
        assert!(
            !text
                .lines()
                .any(|l| !l.starts_with(';') && l.contains("/containers/30001")),
            "the storage home is nowhere: {text}"
        );
    }

    #[test]
    fn a_fallback_logs_uwsgi_its_alarms_from_the_template_and_boots_the_default_distro() {
        let check = ImageCheck {
            old_root: false,
            containers: true,
        };
        let boot = Boot::decide(Some(jammy()), Some(image()), Some(check));
        assert_eq!(
            boot.fallback_reason().as_deref(),
            Some(
                "[DANGER] /containers/30001/distros/ubuntu0001/.old_root does not exist as a custom distro"
            )
        );
        let text = render(boot.clone());
        let logged: Vec<&str> = lines_with(&text, "hook-pre-jail")
            .into_iter()
            .filter_map(|v| v.strip_prefix("log:"))
            .collect();
        assert_eq!(logged, boot.fallback_alarms());
        assert!(text.contains("hook-pre-jail = mount:none /distros/jammy /ns bind"));
        assert!(!text.contains("/var/lib/distropanel/images"));
        let both = ImageCheck {
            old_root: false,
            containers: false,
        };
        let boot = Boot::decide(Some(jammy()), Some(image()), Some(both));
        assert_eq!(
            Boot::recorded(
                Some(jammy()),
                Some(image()),
                boot.fallback_reason().as_deref()
            ),
            boot
        );
        assert_eq!(boot.fallback_alarms().len(), 2);
    }

    #[test]
    fn the_home_is_reached_only_after_the_pivot_and_the_host_is_gone() {
        let spec = VassalSpec {
            storage: true,
            ..VassalSpec::new(uid(2), Boot::Platform(jammy()))
        };
        let text = render_at("/srv/host", &spec);
        assert!(text.contains(
            "hook-pre-jail = mount:none /srv/host/containers/30002 /srv/host/ns/containers/30002 bind"
        ));
        assert!(text.contains(
            "hook-pre-jail = mount:none /srv/host/var/lib/distropanel/images/30002 /srv/host/ns/containers/.images bind"
        ));
        let as_root = lines_with(&text, "hook-as-root");
        assert_eq!(
            as_root[..3],
            [
                "umount:/.old_root detach",
                "mount:none /containers/.images /containers/30002/distros bind",
                "umount:/containers/.images",
            ]
        );
        assert!(
            as_root
                .iter()
                .all(|l| !l.contains(".old_root/") && !l.contains("/srv/host"))
        );
        assert_eq!(
            lines_with(&text, "logto2"),
            ["/containers/30002/logs/emperor.log"]
        );
        assert!(lines_with(&text, "logto").is_empty());
    }

    #[test]
    fn a_bare_container_mounts_nothing() {
        let text = render(Boot::Bare);
        assert!(!text.contains("mount:none /"), "{text}");
        assert!(!text.contains("pivot_root ="));
        assert_eq!(lines_with(&text, "emperor"), ["/containers/30002/vassals"]);
    }

    #[test]
    fn the_home_rc_local_runs_as_the_container_and_the_emperor_looks_for_uwsgi_in_order() {
        let text = render(Boot::Platform(jammy()));
        assert_eq!(
            lines_with(&text, "hook-as-user"),
            [
                "safeexec:test ! -f /containers/30002/etc/rc.local || /bin/sh /containers/30002/etc/rc.local &"
            ]
        );
        let wrappers: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("emperor-wrapper"))
            .collect();
        assert_eq!(
            wrappers,
            [
                "emperor-wrapper-override = /containers/30002/bin/uwsgi",
                "emperor-wrapper-override = /usr/local/bin/uwsgi",
                "emperor-wrapper = /opt/unbit/uwsgi/uwsgi",
            ]
        );
    }

    const HOSTILE: [&str; 12] = [
        "@(exec://id -u)",
        "@(/etc/shadow)",
        "$(HOME)",
        "%(uid)",
        "%d",
        "a\nhook-asap = exec:id",
        "[uwsgi]",
        "x;y",
        "a\"b",
        "a'b",
        "a b",
        "#x",
    ];

    #[test]
    fn the_renderer_refuses_every_value_uwsgi_would_not_read_literally() {
        for hostile in HOSTILE {
            assert!(VassalText::new(hostile).is_err(), "{hostile:?}");
            assert!(
                VassalText::new(format!("/srv/{hostile}")).is_err(),
                "{hostile:?}"
            );
            assert!(
                HostLayout::new(Path::new(&format!("/srv/{hostile}"))).is_err(),
                "{hostile:?}"
            );
            assert!(DistroPath::parse(hostile).is_err(), "{hostile:?}");
        }
        assert!(VassalText::new("/containers/30002/distros/a.b_c-1").is_ok());
    }

    /// Every field a vassal takes, at its most hostile reachable value: the text has exactly
    /// the template's lines, and no value holds uWSGI magic.
    #[test]
    fn the_real_template_rendered_from_extreme_values_holds_no_magic() {
        let odd_path = DistroPath::parse(&format!("-.{}", "_".repeat(62))).unwrap();
        let odd_image = ImageRef {
            // the largest system uid a container can have
            storage_uid: Uid::of(u32::MAX - 1 - i32::MAX as u32, ContainerId(i32::MAX)),
            path: odd_path.clone(),
        };
        let checks = [(false, false), (true, false), (false, true), (true, true)];
        let mut boots = vec![Boot::Bare, Boot::Platform(odd_path.clone())];
        for (old_root, containers) in checks {
            boots.push(Boot::decide(
                Some(odd_path.clone()),
                Some(odd_image.clone()),
                Some(ImageCheck {
                    old_root,
                    containers,
                }),
            ));
        }
        for boot in boots {
            for storage in [false, true] {
                let spec = VassalSpec {
                    memory_mb: i32::MIN,
                    storage_mb: i32::MAX,
                    alarm_freq: i32::MIN,
                    storage,
                    nofollow: true,
                    ..VassalSpec::new(odd_image.storage_uid, boot.clone())
                };
                let text = render_at("/srv/h.o-s_t/", &spec);
                for line in text
                    .lines()
                    .filter(|l| !l.starts_with(';') && !l.is_empty())
                {
                    assert!(
                        line == "[uwsgi]" || line.contains(" = "),
                        "a line that is no option: {line:?}"
                    );
                    assert!(
                        !line.contains(['@', '$', '%', '"', '\'']),
                        "magic in {line:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_uid_past_what_a_system_uid_holds_is_refused_not_wrapped() {
        let layout = HostLayout::new(Path::new("/")).unwrap();
        for uid in [
            Uid::of(u32::MAX, ContainerId(i32::MAX)),
            Uid::of(0, ContainerId(0)),
        ] {
            let spec = VassalSpec::new(uid, Boot::Platform(jammy()));
            assert!(
                VassalTemplate::Builtin.render(&layout, &spec).is_err(),
                "{uid}"
            );
        }
    }

    #[test]
    fn a_placeholder_template_knows_its_names() {
        let t =
            PlaceholderTemplate::parse("[uwsgi]\n; {{ uid }} boots {{root}} ({{boot}})\n").unwrap();
        let layout = HostLayout::new(Path::new("/h")).unwrap();
        let view =
            VassalView::new(&layout, &VassalSpec::new(uid(3), Boot::Platform(jammy()))).unwrap();
        assert_eq!(
            t.render(&view),
            "[uwsgi]\n; 30003 boots /h/distros/jammy (platform)\n"
        );
        let t = PlaceholderTemplate::parse("{{new_root}} {{view}} {{images}}").unwrap();
        assert_eq!(
            t.render(&view),
            "/h/ns /h/var/lib/distropanel/views/30003 /h/var/lib/distropanel/images/30003"
        );
        assert!(PlaceholderTemplate::parse("{{ password }}").is_err());
        assert!(PlaceholderTemplate::parse("{{ uid").is_err());
    }
}
