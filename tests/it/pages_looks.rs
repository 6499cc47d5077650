//! The customer pages in a real browser, as a phone and a laptop show them, in the light and
//! the dark theme: axe-core (vendored from the npm registry, injected here) finds no serious
//! or critical problem, nothing is wider than a 360 px screen, the top bar folds into a menu,
//! destructive forms ask first, and a screenshot of each page is written for people to look at.

use std::path::{Path, PathBuf};

use base64::Engine;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use crate::api_client::{World, world};
use crate::browser::Browser;

const AXE: &str = include_str!("../fixtures/axe-core/axe.min.js");

/// A Chrome DevTools command, sent through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

async fn cdp(c: &Client, cmd: &'static str, params: Value) -> Value {
    c.issue_cmd(Cdp { cmd, params })
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Theme {
    Light,
    Dark,
}

impl Theme {
    fn name(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

/// Makes the page prefer a colour scheme, as the system setting would.
async fn prefer(c: &Client, theme: Theme) {
    let features = json!([{ "name": "prefers-color-scheme", "value": theme.name() }]);
    cdp(
        c,
        "Emulation.setEmulatedMedia",
        json!({ "features": features }),
    )
    .await;
}

/// A screen `width` px wide: a phone's below 500 px (its viewport follows the meta tag).
pub(crate) async fn screen(c: &Client, width: u32) {
    let height = if width < 500 { 844 } else { 800 };
    let params = json!({
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500
    });
    cdp(c, "Emulation.setDeviceMetricsOverride", params).await;
}

async fn number(c: &Client, script: &str) -> i64 {
    c.execute(script, vec![]).await.unwrap().as_i64().unwrap()
}

/// The serious and critical violations axe-core finds on the page shown, as
/// `rule: selector` lines.
async fn accessibility_violations(c: &Client) -> Vec<String> {
    let run = format!(
        "{AXE}\n;const done = arguments[arguments.length - 1];
        axe.run(document, {{ resultTypes: ['violations'] }}).then(r => done(
          r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
           .flatMap(v => v.nodes.map(n => v.id + ': ' + n.target.join(' ') + ' ' + n.failureSummary))));"
    );
    let found = c.execute_async(&run, vec![]).await.unwrap();
    serde_json::from_value(found).unwrap()
}

/// Where the screenshots go: `screenshots` in the build's target directory.
pub(crate) fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The whole page, not only what the screen holds.
async fn screenshot(c: &Client, width: u32, file: &Path) {
    let height = number(c, "return document.documentElement.scrollHeight").await;
    let clip = json!({ "x": 0, "y": 0, "width": width, "height": height, "scale": 1 });
    let shot = cdp(
        c,
        "Page.captureScreenshot",
        json!({ "format": "png", "captureBeyondViewport": true, "clip": clip }),
    )
    .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    std::fs::write(file, png).unwrap();
}

/// The customer pages of a world with a custom distro and an API token.
async fn customer_pages(w: &World) -> (i64, Vec<(&'static str, String)>) {
    let id = w
        .custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    w.app
        .api("alice")
        .post("/api/tokens", json!({ "name": "deploy" }))
        .await;
    let pages = vec![
        ("home", "/".to_owned()),
        ("dashboard", "/dashboard".into()),
        ("containers", "/containers".into()),
        ("container", format!("/containers/{}", w.web.uid())),
        (
            "storage-container",
            format!("/containers/{}", w.images.uid()),
        ),
        ("distros", "/distros".into()),
        ("distro", format!("/distros/{id}")),
        ("settings", "/settings".into()),
        ("alarms", "/alarms".into()),
        ("not-found", "/containers/1".into()),
    ];
    (id, pages)
}

/// Checks the page shown in both themes and all widths; what went wrong, if anything.
pub(crate) async fn look_at(c: &Client, name: &str, dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for theme in [Theme::Light, Theme::Dark] {
        prefer(c, theme).await;
        for width in [1366, 390] {
            screen(c, width).await;
            for violation in accessibility_violations(c).await {
                problems.push(format!("{name} {} {width}px: {violation}", theme.name()));
            }
            let file = dir.join(format!("{name}-{width}-{}.png", theme.name()));
            screenshot(c, width, &file).await;
        }
        screen(c, 360).await;
        let wide = number(c, "return document.documentElement.scrollWidth").await;
        let screen_width = number(c, "return window.innerWidth").await;
        if wide > screen_width {
            problems.push(format!("{name} {}: {wide} px wide at 360 px", theme.name()));
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread")]
async fn every_customer_page_passes_axe_fits_a_360_px_phone_and_is_screenshotted_light_and_dark() {
    let w = world().await;
    let (id, pages) = customer_pages(&w).await;
    let dir = screenshot_dir();
    eprintln!("screenshots of the customer pages: {}", dir.display());
    let browser = Browser::start().await;
    let c = &browser.client;

    c.goto(&w.app.url("/login")).await.unwrap();
    let mut problems = look_at(c, "login", &dir).await;
    screen(c, 1366).await;
    browser
        .log_in(&w.app.url("/login"), "alice", "alice-password")
        .await;
    for (name, path) in &pages {
        screen(c, 1366).await;
        c.goto(&w.app.url(path)).await.unwrap();
        problems.extend(look_at(c, name, &dir).await);
    }
    // the confirmation page, as a browser without JavaScript reaches it
    screen(c, 1366).await;
    c.goto(&w.app.url(&format!("/distros/{id}"))).await.unwrap();
    c.execute("document.querySelector('#delete form').submit()", vec![])
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("#confirm"))
        .await
        .unwrap();
    problems.extend(look_at(c, "confirm", &dir).await);

    assert!(problems.is_empty(), "{problems:#?}");
    let shots = std::fs::read_dir(&dir).unwrap().count();
    assert!(shots >= (pages.len() + 2) * 4, "{shots} screenshots");
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dark_mode_switches_the_background_and_the_text_with_the_system_setting() {
    let app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&app.url("/login")).await.unwrap();
    let colours = "const s = getComputedStyle(document.body); return [s.backgroundColor, s.color]";
    prefer(c, Theme::Light).await;
    let light = c.execute(colours, vec![]).await.unwrap();
    assert_eq!(light, json!(["rgb(246, 247, 249)", "rgb(29, 35, 41)"]));
    prefer(c, Theme::Dark).await;
    let dark = c.execute(colours, vec![]).await.unwrap();
    assert_eq!(dark, json!(["rgb(16, 20, 24)", "rgb(230, 233, 236)"]));
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_phone_the_top_bar_folds_into_a_menu_and_the_keyboard_finds_the_skip_link_first() {
    let app = crate::helpers::spawn_app().await;
    app.customer("alice");
    let browser = Browser::start().await;
    let c = &browser.client;
    browser
        .log_in(&app.url("/login"), "alice", "alice-password")
        .await;
    c.goto(&app.url("/containers")).await.unwrap();
    let current = c
        .find(Locator::Css("nav a[aria-current=page]"))
        .await
        .unwrap();
    assert_eq!(current.text().await.unwrap(), "Containers");

    screen(c, 360).await;
    let nav = c.find(Locator::Css(".topbar nav")).await.unwrap();
    assert!(!nav.is_displayed().await.unwrap(), "folded away");
    browser.click(".menu-button").await;
    assert!(nav.is_displayed().await.unwrap(), "the menu opens");
    assert!(
        number(c, "return document.querySelector('.topbar').offsetHeight").await < 300,
        "the open menu is a short list"
    );

    screen(c, 1366).await;
    c.goto(&app.url("/containers")).await.unwrap();
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("\u{E004}")
        .await
        .unwrap();
    let focused = c
        .execute(
            "const e = document.activeElement, s = getComputedStyle(e);
             return [e.className, e.getAttribute('href'), s.outlineStyle, e.getBoundingClientRect().top >= 0]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(focused, json!(["skip-link", "#main", "solid", true]));
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_confirmation_guards_deletion_with_a_dialog_with_javascript_and_a_page_without() {
    let w = world().await;
    let id = w
        .custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    let other = w
        .custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    let browser = Browser::start().await;
    let c = &browser.client;
    browser
        .log_in(&w.app.url("/login"), "alice", "alice-password")
        .await;
    let dialog_open = "return document.getElementById('confirm-dialog').open";

    // with JavaScript: a dialog; Cancel keeps the distro
    c.goto(&w.app.url(&format!("/distros/{id}"))).await.unwrap();
    browser.click("#delete button.danger").await;
    assert_eq!(c.execute(dialog_open, vec![]).await.unwrap(), json!(true));
    let question = c
        .find(Locator::Id("confirm-dialog-question"))
        .await
        .unwrap();
    assert!(question.text().await.unwrap().contains("“Alpine edge”"));
    browser.click("#confirm-dialog button[value=cancel]").await;
    assert_eq!(c.execute(dialog_open, vec![]).await.unwrap(), json!(false));
    assert_eq!(w.app.count("custom_distros"), 2, "cancelled");

    browser.click("#delete button.danger").await;
    browser.click("#confirm-dialog-yes").await;
    c.wait()
        .for_url(&url::Url::parse(&w.app.url("/distros?done=deleted")).unwrap())
        .await
        .unwrap();
    assert_eq!(w.app.count("custom_distros"), 1);

    // without JavaScript (a form sent past every script): the confirmation page
    c.goto(&w.app.url(&format!("/distros/{other}")))
        .await
        .unwrap();
    c.execute("document.querySelector('#delete form').submit()", vec![])
        .await
        .unwrap();
    let asked = c
        .wait()
        .for_element(Locator::Css("#confirm h1"))
        .await
        .unwrap();
    assert_eq!(asked.text().await.unwrap(), "Delete this custom distro?");
    assert_eq!(w.app.count("custom_distros"), 1, "asking deletes nothing");
    browser.click("#confirm button.danger").await;
    c.wait()
        .for_url(&url::Url::parse(&w.app.url("/distros?done=deleted")).unwrap())
        .await
        .unwrap();
    assert_eq!(w.app.count("custom_distros"), 0);
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_sent_twice_in_a_hurry_makes_one_token_and_its_secret_can_be_copied() {
    let app = crate::helpers::spawn_app().await;
    app.customer("alice");
    let browser = Browser::start().await;
    let c = &browser.client;
    browser
        .log_in(&app.url("/login"), "alice", "alice-password")
        .await;
    c.goto(&app.url("/settings")).await.unwrap();
    browser.fill("token_name", "laptop").await;
    c.execute(
        "const f = document.getElementById('token_name').form; f.requestSubmit(); f.requestSubmit();",
        vec![],
    )
    .await
    .unwrap();
    c.wait()
        .for_element(Locator::Css("#new-token-secret"))
        .await
        .unwrap();
    assert_eq!(app.count("api_tokens"), 1, "one token for two submits");
    assert_eq!(c.current_url().await.unwrap().path(), "/settings");

    let copy = c
        .find(Locator::Css("button[data-copy=new-token-secret]"))
        .await
        .unwrap();
    assert_eq!(copy.text().await.unwrap(), "Copy the token");
    // a reload shows the list, never the secret again
    c.refresh().await.unwrap();
    assert!(c.find(Locator::Id("new-token-secret")).await.is_err());
    assert_eq!(app.count("api_tokens"), 1);
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn turning_storage_off_asks_in_a_dialog_and_htmx_swaps_the_answer_in_place() {
    let w = world().await;
    let uid = w.images.uid();
    let browser = Browser::start().await;
    let c = &browser.client;
    browser
        .log_in(&w.app.url("/login"), "alice", "alice-password")
        .await;
    c.goto(&w.app.url(&format!("/containers/{uid}")))
        .await
        .unwrap();
    // a mark that a page load would wipe out
    c.execute("window.stillThisPage = true", vec![])
        .await
        .unwrap();
    browser.click("#storage button.danger").await;
    let question = c
        .find(Locator::Id("confirm-dialog-question"))
        .await
        .unwrap();
    assert!(
        question
            .text()
            .await
            .unwrap()
            .starts_with("Stop storing custom distros in images?")
    );
    browser.click("#confirm-dialog-yes").await;
    c.wait()
        .for_element(Locator::XPath(
            "//section[@id='storage']/p[.='It does not store custom distros.']",
        ))
        .await
        .unwrap();
    let kept = c.execute("return window.stillThisPage === true", vec![]);
    assert_eq!(
        kept.await.unwrap(),
        json!(true),
        "no page load: htmx swapped the answer in"
    );
    let storing = crate::personas::scalar(
        &w.app,
        &format!(
            "SELECT count(*) AS n FROM containers WHERE id = {} AND custom_distros_storage",
            w.images.id
        ),
    );
    assert_eq!(storing, 0);
    browser.stop().await;
}
