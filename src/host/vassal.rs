//! The container's vassal: the uWSGI config the server's Emperor runs as the container.
//!
//! Rendered from validated values only (uids, [`DistroPath`]s, paths checked at start), so
//! nothing a customer typed can add a line to it. The built-in template is
//! `templates/vassal.ini` (askama, no escaping: the values are safe by type); an operator may replace it with a
//! file of their own using `{{name}}` placeholders, checked when the file is loaded.

use std::path::Path;

use askama::Template;

use crate::domain::values::{DistroPath, Uid};
use crate::host::{HostError, ImageCheck, ImageRef};

/// Where the host keeps homes and distros, as the vassal must name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLayout {
    root: String,
}

impl HostLayout {
    /// `root` must be absolute UTF-8 without control characters: it is written into vassals.
    pub fn new(root: &Path) -> Result<Self, HostError> {
        let text = root
            .to_str()
            .filter(|t| t.starts_with('/') && !t.chars().any(char::is_control))
            .ok_or_else(|| {
                HostError::refused(
                    root.display(),
                    "the host root must be an absolute UTF-8 path without control characters",
                )
            })?;
        let trimmed = text.trim_end_matches('/');
        Ok(Self {
            root: if trimmed.is_empty() {
                String::new()
            } else {
                trimmed.to_owned()
            },
        })
    }

    pub fn root(&self) -> &str {
        if self.root.is_empty() {
            "/"
        } else {
            &self.root
        }
    }

    pub fn home(&self, uid: Uid) -> String {
        format!("{}/containers/{uid}", self.root)
    }

    pub fn platform_distro(&self, path: &DistroPath) -> String {
        format!("{}/distros/{path}", self.root)
    }

    pub fn image(&self, image: &ImageRef) -> String {
        format!("{}/distros/{}", self.home(image.storage_uid), image.path)
    }
}

/// Which root filesystem the container boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boot {
    /// No distro at all (a bare storage container): the host's root.
    Bare,
    Platform(DistroPath),
    /// The mapped custom distro; `fallback` is the default distro the vassal boots if the
    /// image breaks before the next restart.
    Custom {
        image: ImageRef,
        fallback: DistroPath,
    },
    /// The custom distro cannot boot: the default distro does, and `reasons` are the alarms.
    Fallback {
        image: ImageRef,
        distro: DistroPath,
        reasons: Vec<String>,
    },
}

impl Boot {
    /// The executor's decision at restart, from what the container maps and what the image
    /// holds. `check` is `None` when there is no custom distro to check.
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
                    reasons: check.danger_alarms(&image),
                    image,
                    distro,
                },
                _ => Boot::Custom {
                    image,
                    fallback: distro,
                },
            },
        }
    }

    /// The same decision from what the last restart recorded (for serving vassals without
    /// touching the host).
    pub fn recorded(
        distro: Option<DistroPath>,
        custom: Option<ImageRef>,
        fallback_reason: Option<&str>,
    ) -> Self {
        match (distro, custom, fallback_reason) {
            (Some(distro), Some(image), Some(reason)) => Boot::Fallback {
                image,
                distro,
                reasons: reason.lines().map(str::to_owned).collect(),
            },
            (distro, custom, _) => Boot::decide(distro, custom, None),
        }
    }

    /// What is stored on the container: why it runs its fallback, if it does.
    pub fn fallback_reason(&self) -> Option<String> {
        match self {
            Boot::Fallback { reasons, .. } => Some(reasons.join("\n")),
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
    ssh_keys: Vec<String>,
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
            ssh_keys: Vec::new(),
        }
    }

    /// Keeps the keys that fit on one line of the vassal; others cannot be written safely.
    pub fn with_ssh_keys(mut self, keys: impl IntoIterator<Item = String>) -> Self {
        self.ssh_keys = keys
            .into_iter()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty() && k.len() <= 16 * 1024 && !k.chars().any(char::is_control))
            .collect();
        self
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

    pub fn render(
        &self,
        layout: &HostLayout,
        spec: &VassalSpec,
    ) -> Result<RenderedVassal, HostError> {
        let view = VassalView::new(layout, spec);
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
        root: String,
    },
    Custom {
        image: String,
        label: String,
        fallback: String,
    },
    Fallback {
        root: String,
        reasons: Vec<String>,
    },
}

/// The values a template sees, all derived from validated types.
#[derive(Debug)]
struct VassalView {
    uid: Uid,
    home: String,
    inside_home: String,
    host_root: String,
    skeleton: [&'static str; 7],
    storage: bool,
    nofollow: bool,
    memory_bytes: i64,
    quota_blocks: i64,
    alarm_freq: i32,
    ssh_keys: Vec<String>,
    boot: BootView,
    boot_kind: &'static str,
}

/// The sub-directories of every home, in creation order.
pub const SKELETON: [&str; 7] = ["run", "tmp", "logs", "etc", "vassals", ".old_root", ".ssh"];

impl VassalView {
    fn new(layout: &HostLayout, spec: &VassalSpec) -> Self {
        let boot = match &spec.boot {
            Boot::Bare => BootView::Bare,
            Boot::Platform(path) => BootView::Platform {
                root: layout.platform_distro(path),
            },
            Boot::Custom { image, fallback } => BootView::Custom {
                image: layout.image(image),
                label: image.label(),
                fallback: layout.platform_distro(fallback),
            },
            Boot::Fallback {
                distro, reasons, ..
            } => BootView::Fallback {
                root: layout.platform_distro(distro),
                reasons: reasons.clone(),
            },
        };
        let pivots = !matches!(boot, BootView::Bare);
        let home = layout.home(spec.uid);
        Self {
            uid: spec.uid,
            inside_home: if pivots {
                super::home_label(spec.uid)
            } else {
                home.clone()
            },
            home,
            host_root: layout.root().to_owned(),
            skeleton: SKELETON,
            storage: spec.storage,
            nofollow: spec.nofollow,
            memory_bytes: i64::from(spec.memory_mb) * 1024 * 1024,
            quota_blocks: i64::from(spec.storage_mb) * 1024,
            alarm_freq: spec.alarm_freq,
            ssh_keys: spec.ssh_keys.clone(),
            boot,
            boot_kind: spec.boot.kind(),
        }
    }

    fn pivots(&self) -> bool {
        !matches!(self.boot, BootView::Bare)
    }

    /// The root directory the vassal boots, for placeholder templates.
    fn root(&self) -> &str {
        match &self.boot {
            BootView::Bare => "",
            BootView::Platform { root } | BootView::Fallback { root, .. } => root,
            BootView::Custom { image, .. } => image,
        }
    }

    fn value(&self, name: &str) -> Option<String> {
        Some(match name {
            "uid" => self.uid.to_string(),
            "home" => self.home.clone(),
            "inside_home" => self.inside_home.clone(),
            "host_root" => self.host_root.clone(),
            "root" => self.root().to_owned(),
            "boot" => self.boot_kind.to_owned(),
            "storage" => self.storage.to_string(),
            "memory_bytes" => self.memory_bytes.to_string(),
            "quota_blocks" => self.quota_blocks.to_string(),
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
    pub const NAMES: [&'static str; 9] = [
        "uid",
        "home",
        "inside_home",
        "host_root",
        "root",
        "boot",
        "storage",
        "memory_bytes",
        "quota_blocks",
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

    fn render(boot: Boot) -> String {
        let layout = HostLayout::new(Path::new("/")).unwrap();
        VassalTemplate::Builtin
            .render(&layout, &VassalSpec::new(uid(2), boot))
            .unwrap()
            .0
    }

    #[test]
    fn a_custom_distro_is_bind_mounted_as_the_root_with_the_boot_time_checks() {
        let text = render(Boot::decide(Some(jammy()), Some(image()), None));
        assert!(text.contains("if-dir = /containers/30001/distros/ubuntu0001/.old_root\nhook-pre-jail = mount:none /containers/30001/distros/ubuntu0001 /ns bind"));
        assert!(text.contains("log:[DANGER] /containers/30001/distros/ubuntu0001/.old_root does not exist as a custom distro\nhook-pre-jail = mount:none /distros/jammy /ns bind"));
        assert!(text.contains("pivot_root = /ns /ns/.old_root"));
    }

    #[test]
    fn an_image_without_old_root_boots_the_default_distro() {
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
        let text = render(boot);
        assert!(text.contains("hook-pre-jail = mount:none /distros/jammy /ns bind"));
        assert!(!text.contains("mount:none /containers/30001/distros"));
    }

    #[test]
    fn the_home_rc_local_runs_and_the_emperor_looks_for_uwsgi_in_order() {
        let text = render(Boot::Platform(jammy()));
        assert!(text.contains("if-file = /containers/30002/etc/rc.local\nhook-as-user = safeexec:/bin/sh /containers/30002/etc/rc.local &"));
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

    #[test]
    fn ssh_keys_that_would_break_a_line_are_left_out() {
        let spec = VassalSpec::new(uid(2), Boot::Platform(jammy())).with_ssh_keys([
            "ssh-ed25519 AAAA good".to_owned(),
            "ssh-rsa AAAA\nhook-asap = exec:rm -rf /".to_owned(),
        ]);
        let layout = HostLayout::new(Path::new("/srv/host/")).unwrap();
        let text = VassalTemplate::Builtin.render(&layout, &spec).unwrap().0;
        assert!(text.contains("uwsgi_authorized_keys ssh-ed25519 AAAA good"));
        assert!(!text.contains("exec:rm"));
        assert!(text.contains("if-not-dir = /srv/host/containers/30002/logs"));
    }

    #[test]
    fn a_placeholder_template_knows_its_names() {
        let t =
            PlaceholderTemplate::parse("[uwsgi]\n; {{ uid }} boots {{root}} ({{boot}})\n").unwrap();
        let layout = HostLayout::new(Path::new("/h")).unwrap();
        let view = VassalView::new(&layout, &VassalSpec::new(uid(3), Boot::Platform(jammy())));
        assert_eq!(
            t.render(&view),
            "[uwsgi]\n; 30003 boots /h/distros/jammy (platform)\n"
        );
        assert!(PlaceholderTemplate::parse("{{ password }}").is_err());
        assert!(PlaceholderTemplate::parse("{{ uid").is_err());
    }
}
