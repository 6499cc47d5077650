//! A browser's `User-Agent` header in words people use: "Firefox on Linux", "Safari on iPhone".

/// The browser and system a `User-Agent` names, or the header itself (cut short) when it names
/// no browser we know; "unknown browser" when there is none.
pub fn describe(user_agent: &str) -> String {
    let ua = user_agent.trim();
    if ua.is_empty() {
        return "unknown browser".into();
    }
    match (browser(ua), system(ua)) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        (None, _) => ua.chars().take(60).collect(),
    }
}

/// The browser, tested in an order that matters: Edge and Opera also say "Chrome", Chrome also
/// says "Safari", and command-line clients name themselves first.
fn browser(ua: &str) -> Option<&'static str> {
    const KNOWN: [(&str, &str); 11] = [
        ("curl/", "curl"),
        ("Wget/", "Wget"),
        ("python-requests/", "Python requests"),
        ("Edg", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
    ];
    KNOWN
        .iter()
        .find(|(marker, _)| ua.contains(marker))
        .map(|(_, name)| *name)
        .or_else(|| (ua.contains("Safari/") && ua.contains("Version/")).then_some("Safari"))
}

/// The system; Android before Linux (it says both), iPhone and iPad before macOS ("like Mac OS X").
fn system(ua: &str) -> Option<&'static str> {
    const KNOWN: [(&str, &str); 9] = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Macintosh", "macOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
        ("BSD", "BSD"),
    ];
    KNOWN
        .iter()
        .find(|(marker, _)| ua.contains(marker))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_browsers_read_as_browser_on_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like \
                 Gecko) Version/18.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 HeadlessChrome/131.0.0.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
                "Opera on Linux",
            ),
        ];
        for (ua, expected) in cases {
            assert_eq!(describe(ua), expected, "{ua}");
        }
    }

    #[test]
    fn clients_without_a_system_are_named_alone_and_strangers_as_they_say() {
        assert_eq!(describe("curl/8.5.0"), "curl");
        assert_eq!(describe(""), "unknown browser");
        assert_eq!(describe("   "), "unknown browser");
        assert_eq!(describe("uptime-bot/2"), "uptime-bot/2");
        let long = "x".repeat(300);
        assert_eq!(describe(&long).chars().count(), 60);
    }
}
