//! `/api/alarms`: raising, listing, filtering, ranges, the cap, and alarm keys.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api_client::{Api, world};

fn msgs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a["msg"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_raised_alarm_is_stored_as_sent_and_listed_newest_first() {
    let w = world().await;
    let api = w.app.api("alice");
    let uid = w.web.uid();
    let answer = api
        .post_raw(
            &format!("/api/alarms/raise/{uid}?color=FF0000&class=cls&vassal=v.ini&line=12&func=f&filename=app.py&level=2"),
            "\"first\"",
        )
        .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    assert_eq!(answer.json["message"], "Created");
    api.post_raw(&format!("/api/alarms/trigger/{uid}"), "second")
        .await;
    let list = api.get("/api/alarms").await;
    assert_eq!(msgs(&list.json), ["second", "\"first\""]);
    let first = &list.json[1];
    assert_eq!(first["color"], "#ff0000");
    assert_eq!(first["class"], "cls");
    assert_eq!(first["vassal"], "v.ini");
    assert_eq!(first["line"], 12);
    assert_eq!(first["func"], "f");
    assert_eq!(first["filename"], "app.py");
    assert_eq!(first["level"], 2);
    assert_eq!(first["container"], uid);
    assert!(first["unix"].is_i64());
    assert_eq!(list.json[0]["level"], 1, "user level by default");

    let id = first["id"].as_i64().unwrap();
    let one = api.get(&format!("/api/alarms/{id}")).await;
    assert_eq!(one.json["msg"], "\"first\"");
    assert_eq!(
        api.delete(&format!("/api/alarms/{id}")).await.json,
        json!({"message": "Ok"})
    );
    assert_eq!(api.get(&format!("/api/alarms/{id}")).await.status, 403);
}

#[tokio::test]
async fn users_cannot_raise_level_0_and_bad_parameters_are_422() {
    let w = world().await;
    let api = w.app.api("alice");
    let uid = w.web.uid();
    let before = w.app.snapshot();
    for (query, field) in [
        ("level=0", "level"),
        ("level=5", "level"),
        ("level=x", "level"),
        ("color=red", "color"),
        ("color=%23ff00", "color"),
        ("line=x", "line"),
        ("unix=yesterday", "unix"),
        ("class=a%00b", "class"),
    ] {
        let answer = api
            .post_raw(&format!("/api/alarms/raise/{uid}?{query}"), "msg")
            .await;
        assert_eq!(answer.status, 422, "{query}: {answer:?}");
        assert!(
            answer.json["fields"][field].is_string(),
            "{query}: {answer:?}"
        );
    }
    assert_eq!(
        api.post_raw(&format!("/api/alarms/raise/{uid}"), "")
            .await
            .status,
        400
    );
    assert_eq!(
        api.post_raw(&format!("/api/alarms/raise/{uid}"), vec![0xff, 0xfe])
            .await
            .status,
        400
    );
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn the_unix_parameter_sets_the_alarm_time_and_the_order() {
    let w = world().await;
    let api = w.app.api("alice");
    let uid = w.web.uid();
    api.post_raw(&format!("/api/alarms/raise/{uid}?unix=1000000000"), "old")
        .await;
    api.post_raw(&format!("/api/alarms/raise/{uid}"), "now")
        .await;
    api.post_raw(
        &format!("/api/alarms/raise/{uid}?unix=1500000000"),
        "middle",
    )
    .await;
    let list = api.get("/api/alarms").await;
    assert_eq!(msgs(&list.json), ["now", "middle", "old"]);
    assert_eq!(list.json[2]["unix"], 1_000_000_000);
}

#[tokio::test]
async fn a_container_keeps_its_newest_100_alarms() {
    let w = world().await;
    let web = w.web.id;
    let alice = w
        .app
        .scalar("SELECT customer_id FROM users WHERE username = 'alice'");
    w.app
        .sql(&format!(
            "INSERT INTO alarms (container_id, customer_id, level, msg, unix)
             SELECT {web}, {alice}, 1, 'old ' || n, now() - interval '1 hour' + n * interval '1 second'
             FROM generate_series(1, 100) n"
        ))
        .unwrap();
    let answer = w
        .app
        .api("alice")
        .post_raw(&format!("/api/alarms/raise/{}", w.web.uid()), "newest")
        .await;
    assert_eq!(answer.status, 201);
    assert_eq!(w.app.count("alarms"), 100);
    assert_eq!(
        w.app
            .scalar("SELECT count(*) FROM alarms WHERE msg = 'old 1'"),
        "0",
        "the oldest went"
    );
    assert_eq!(
        w.app
            .scalar("SELECT count(*) FROM alarms WHERE msg = 'newest'"),
        "1"
    );
}

async fn seeded(w: &crate::api_client::World) {
    let api = w.app.api("alice");
    for n in 0..10 {
        let (uid, level) = if n % 2 == 0 {
            (w.web.uid(), 1)
        } else {
            (w.bare.uid(), 3)
        };
        let answer = api
            .post_raw(
                &format!(
                    "/api/alarms/raise/{uid}?level={level}&unix={}&vassal=v{}",
                    1_700_000_000 + n,
                    n % 3
                ),
                format!("a{n}"),
            )
            .await;
        assert_eq!(answer.status, 201);
    }
}

#[tokio::test]
async fn alarms_filter_by_every_field_and_count_with_total() {
    let w = world().await;
    seeded(&w).await;
    let api = w.app.api("alice");
    let web = w.web.uid();
    assert_eq!(
        msgs(&api.get(&format!("/api/alarms?container={web}")).await.json),
        ["a8", "a6", "a4", "a2", "a0"]
    );
    assert_eq!(
        msgs(&api.get("/api/alarms?level=3").await.json),
        ["a9", "a7", "a5", "a3", "a1"]
    );
    assert_eq!(
        msgs(&api.get("/api/alarms?vassal=v0").await.json),
        ["a9", "a6", "a3", "a0"]
    );
    assert_eq!(
        msgs(
            &api.get(&format!("/api/alarms?container={web}&vassal=v0"))
                .await
                .json
        ),
        ["a6", "a0"]
    );
    assert_eq!(
        msgs(&api.get("/api/alarms?color=ffffff&class=none").await.json),
        Vec::<String>::new()
    );
    let total = api
        .get(&format!("/api/alarms?container={web}&with_total=1&range=2"))
        .await;
    assert_eq!(total.json["total"], 5);
    assert_eq!(msgs(&total.json["alarms"]), ["a8", "a6"]);
}

#[tokio::test]
async fn ranges_slice_the_newest_first_list_numerically() {
    let w = world().await;
    seeded(&w).await;
    let api = w.app.api("alice");
    assert_eq!(
        msgs(&api.get("/api/alarms?range=3").await.json),
        ["a9", "a8", "a7"]
    );
    assert_eq!(
        msgs(&api.get("/api/alarms?range=2-4").await.json),
        ["a7", "a6"]
    );
    assert_eq!(
        msgs(&api.get("/api/alarms?range=4-2").await.json),
        ["a6", "a7"],
        "reversed"
    );
    assert_eq!(
        msgs(&api.get("/api/alarms?range=9-10").await.json),
        ["a0"],
        "numbers, not strings"
    );
    assert_eq!(
        msgs(&api.get("/api/alarms?range=8-100").await.json),
        ["a1", "a0"]
    );
    for bad in ["x", "1-2-3", "-1", "1-", ""] {
        let answer = api.get(&format!("/api/alarms?range={bad}")).await;
        assert_eq!(answer.status, 416, "{bad}: {answer:?}");
        assert_eq!(answer.error(), "Requested Range Not Satisfiable");
    }
}

#[tokio::test]
async fn an_alarm_key_lets_a_container_raise_without_credentials() {
    let w = world().await;
    let uid = w.web.uid();
    let key = w
        .app
        .api("alice")
        .get(&format!("/api/alarm_key/{uid}"))
        .await;
    assert_eq!(key.status, 200, "{key:?}");
    assert_eq!(key.json["message"], "Ok");
    let key = key.json["alarm_key"].as_str().unwrap().to_owned();

    let anonymous = Api::anonymous(&w.app);
    let raised = anonymous
        .post_raw(
            &format!("/api/alarms/raise/{uid}?key={key}&level=2"),
            "from cron",
        )
        .await;
    assert_eq!(raised.status, 201, "{raised:?}");
    assert_eq!(w.app.scalar("SELECT msg FROM alarms"), "from cron");

    let before = w.app.snapshot();
    for wrong in [
        format!("/api/alarms/raise/{uid}?key=00000000-0000-0000-0000-000000000000"),
        format!("/api/alarms/raise/{uid}?key=garbage"),
        format!("/api/alarms/raise/{}?key={key}", w.bare.uid()),
    ] {
        assert_eq!(anonymous.post_raw(&wrong, "x").await.status, 403, "{wrong}");
    }
    assert_eq!(
        anonymous
            .post_raw(&format!("/api/alarms/raise/{uid}"), "x")
            .await
            .status,
        401
    );
    assert_eq!(w.app.snapshot(), before);

    let renewed = w
        .app
        .api("alice")
        .get(&format!("/api/alarm_key/{uid}"))
        .await;
    assert_ne!(
        renewed.json["alarm_key"].as_str().unwrap(),
        key,
        "a new key retires the old"
    );
    assert_eq!(
        anonymous
            .post_raw(&format!("/api/alarms/raise/{uid}?key={key}"), "x")
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn raising_answers_only_post() {
    let w = world().await;
    let api = w.app.api("alice");
    for method in [Method::GET, Method::DELETE, Method::PUT] {
        let answer = api
            .send(api.request(
                method.clone(),
                &format!("/api/alarms/raise/{}", w.web.uid()),
            ))
            .await;
        assert_eq!(answer.status, 405, "{method}");
    }
}
