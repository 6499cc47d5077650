//! Random bodies, query strings and path ids against every JSON handler: whatever arrives,
//! the answer is a 2xx or a 4xx with a JSON body, never a 500, and the app keeps serving.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::api_client::{World, world};

/// Field names the handlers read, so random bodies reach past "unknown field" often.
const FIELDS: &[&str] = &[
    "name",
    "path",
    "note",
    "company",
    "vat",
    "email",
    "quota_threshold",
    "alarm_freq",
    "nofollow",
    "custom_distros_storage",
    "ssh_keys",
    "distro",
    "custom_distro",
    "tags",
    "reboot",
    "jid",
    "jid_destinations",
    "pushover_user",
    "pushover_token",
    "pushover_sound",
    "pushbullet_token",
    "slack_webhook",
    "container",
];

const PARAMS: &[&str] = &[
    "container",
    "level",
    "line",
    "color",
    "vassal",
    "class",
    "filename",
    "func",
    "with_total",
    "range",
    "unix",
    "key",
    "tags",
    "purge",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-2i64..70_000).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        "[a-z0-9._/ -]{0,70}".prop_map(Value::String),
        Just(Value::String("\u{0}".into())),
        Just(Value::String("..".into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,12}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let object = prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..6)
        .prop_map(|kv| {
            let map: Map<String, Value> = kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            Value::Object(map).to_string().into_bytes()
        });
    prop_oneof![
        4 => object,
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..300),
        1 => any::<String>().prop_map(String::into_bytes),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        any::<String>(),
        "[0-9-]{0,25}",
        "#?[0-9a-fA-F]{0,8}",
        Just("%00".to_owned()),
        Just("%zz".to_owned()),
    ];
    let pair = (prop::sample::select(PARAMS), value).prop_map(|(k, v)| {
        if v.starts_with('%') {
            format!("{k}={v}")
        } else {
            format!("{k}={}", urlencode(&v))
        }
    });
    prop_oneof![
        4 => prop::collection::vec(pair, 0..5).prop_map(|pairs| pairs.join("&")),
        1 => "[ -~]{0,60}".prop_map(|raw| raw.replace(['#', ' '], "")),
    ]
}

fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Path segments where a uid or id goes: the caller's, someone else's, nonsense.
fn segment(w: &World) -> impl Strategy<Value = String> + use<> {
    let own = vec![
        w.web.uid(),
        w.images.uid(),
        w.bare.uid(),
        w.bobs.uid(),
        1,
        2,
        0,
    ];
    prop_oneof![
        prop::sample::select(own).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("99999999999999999999999".to_owned()),
        Just("abc".to_owned()),
        Just("%00".to_owned()),
        Just("-1".to_owned()),
    ]
}

const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/me"),
    ("POST", "/api/me"),
    ("GET", "/api/containers"),
    ("GET", "/api/containers/{}"),
    ("POST", "/api/containers/{}"),
    ("GET", "/api/distros"),
    ("GET", "/api/custom_distros"),
    ("GET", "/api/custom_distros/{}"),
    ("POST", "/api/custom_distros/{}"),
    ("GET", "/api/custom_distro/{}"),
    ("POST", "/api/custom_distro/{}"),
    ("DELETE", "/api/custom_distro/{}"),
    ("GET", "/api/alarms"),
    ("GET", "/api/alarms/{}"),
    ("DELETE", "/api/alarms/{}"),
    ("POST", "/api/alarms/raise/{}"),
    ("POST", "/api/alarms/trigger/{}"),
    ("GET", "/api/alarm_key/{}"),
    ("GET", "/api/jobs"),
    ("GET", "/api/jobs/{}"),
    ("PUT", "/api/custom_distro/{}/image"),
    ("POST", "/api/custom_distro/{}/unpack"),
    ("POST", "/api/custom_distro/{}/fetch"),
    ("POST", "/api/custom_distro/{}/rollback"),
    ("GET", "/api/custom_distro/{}/check"),
    ("POST", "/api/custom_distro/{}/check"),
    ("PUT", "/api/containers/{}"),
];

#[test]
fn random_bodies_query_strings_and_ids_never_get_a_500() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let w = runtime.block_on(world());
    // a distro to aim at, so custom_distro routes meet real rows too
    runtime.block_on(w.custom_distro("alice", &w.images, "Debian", "debian"));
    let cases = std::env::var("DISTROPANEL_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (prop::sample::select(ROUTES), segment(&w), body(), query());
    runner
        .run(&strategy, |((method, template), id, body, query)| {
            // a random new password would lock the caller out for the rest of the run
            if template == "/api/me" && String::from_utf8_lossy(&body).contains("password") {
                return Ok(());
            }
            let path = template.replace("{}", &id);
            let url = if query.is_empty() {
                path.clone()
            } else {
                format!("{path}?{query}")
            };
            let api = w.app.api("alice");
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let answer =
                runtime.block_on(api.send(api.request(method.clone(), &url).body(body.clone())));
            prop_assert!(
                answer.status.as_u16() < 500,
                "{method} {url} with body {:?} answered {}: {}",
                String::from_utf8_lossy(&body),
                answer.status,
                answer.text
            );
            if !answer.status.is_success() {
                prop_assert!(
                    answer.json["error"].is_string(),
                    "{method} {url}: {}",
                    answer.text
                );
            }
            Ok(())
        })
        .unwrap();
    let still = runtime.block_on(w.app.api("alice").get("/api/me"));
    assert_eq!(still.status, 200, "the app still serves");
}
