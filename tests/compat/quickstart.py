"""The custom distro quick start, driven by uwsgi.it's reference client (uwsgiit-py).

Usage: quickstart.py API_URL USERNAME PASSWORD STORAGE_UID WEB_UID
Every call is checked for `.uerror` and for the fields it returns; the first failed check
exits non-zero with what was expected and what came back.
"""

import json
import sys

import requests
from uwsgiit.api import UwsgiItClient

url, username, password, storage_uid, web_uid = sys.argv[1:6]
storage_uid, web_uid = int(storage_uid), int(web_uid)
client = UwsgiItClient(username, password, url)
steps = 0


def ok(response, what, status=200):
    global steps
    steps += 1
    body = response.text
    if response.uerror or response.status_code != status:
        sys.exit(f"FAIL {what}: expected {status}, got {response.status_code}: {body}")
    print(f"ok   {what}")
    return response.json()


def refused(response, what, status):
    global steps
    steps += 1
    if not response.uerror or response.status_code != status:
        sys.exit(f"FAIL {what}: expected an error {status}, got {response.status_code}: {response.text}")
    body = response.json()
    if "error" not in body:
        sys.exit(f"FAIL {what}: no 'error' in {body}")
    print(f"ok   {what} (refused {status}: {body.get('reason', '')})")
    return body


def check(condition, what):
    if not condition:
        sys.exit(f"FAIL {what}")


me = ok(client.me(), "me()")
for field in ("email", "company", "vat", "uuid", "containers", "servers"):
    check(field in me, f"me() has {field}")
check(set(me["containers"]) == {storage_uid, web_uid}, f"me() lists both containers: {me['containers']}")

containers = ok(client.containers(), "containers()")
check({c["uid"] for c in containers} == {storage_uid, web_uid}, "containers() lists both")
for field in ("uid", "name", "hostname", "ip", "memory", "storage", "uuid", "distro", "distro_name",
              "custom_distro", "custom_distro_name", "server", "server_address", "tags"):
    check(all(field in c for c in containers), f"containers() items have {field}")

web = ok(client.container(web_uid), "container(web)")
check(web["custom_distros_storage"] is False and web["custom_distro"] is None, "web is a plain container")
check(isinstance(web["ssh_keys"], list), "container() has ssh_keys")

distros = ok(client.distros(), "distros()")
check(any(d["id"] == web["distro"] for d in distros), "distros() lists web's default distro")

storage = ok(client.update_container(storage_uid, {"custom_distros_storage": True}),
             "update_container(storage, custom_distros_storage=True)")
check(storage["custom_distros_storage"] is True, "storage is now a custom distros storage")
check(storage["pending_jobs"] >= 1, "the restart is pending")

created = ok(client.post(["custom_distros", storage_uid],
                         {"name": "new_distro", "path": "ubuntu0001", "note": "Hello World"}),
             "post(custom_distros/<storage>)", status=201)
check(created["message"] == "Created", "created says Created")

mine = ok(client.get("custom_distros"), "get(custom_distros)")
check(len(mine) == 1 and mine[0]["name"] == "new_distro" and mine[0]["container"] == storage_uid,
      f"get(custom_distros) lists it: {mine}")
distro_id = mine[0]["id"]

usable = ok(client.get(["custom_distros", web_uid]), "get(custom_distros/<web>)")
check(usable == [{"id": distro_id, "name": "new_distro"}], f"web may use it: {usable}")
check(ok(client.get(["custom_distros", storage_uid]), "get(custom_distros/<storage>)") == [],
      "a storage container may use none")

one = ok(client.get(["custom_distro", distro_id]), "get(custom_distro/<id>)")
check(one["path"] == "ubuntu0001" and one["note"] == "Hello World" and one["container"] == storage_uid,
      f"get(custom_distro) fields: {one}")
check("uuid" in one, "get(custom_distro) has uuid")

renamed = ok(client.post(["custom_distro", distro_id], {"name": "Ubuntu 24.04"}), "post(custom_distro/<id>)")
check(renamed["name"] == "Ubuntu 24.04" and renamed["path"] == "ubuntu0001", f"renamed: {renamed}")

refused(client.post(["custom_distro", distro_id], {"path": "../etc"}), "a path with '..'", 422)

mapped = ok(client.update_container(web_uid, {"custom_distro": distro_id}), "update_container(web, custom_distro)")
check(mapped["custom_distro"] == distro_id and mapped["custom_distro_name"] == "Ubuntu 24.04",
      f"web boots it: {mapped}")

body = refused(client.delete(["custom_distro", distro_id]), "delete a mapped distro", 409)
check("web" in body["reason"], "the refusal names web")
refused(client.update_container(storage_uid, {"custom_distros_storage": False}),
        "storage off while it holds a distro", 409)

rebooted = ok(client.reboot_container(web_uid), "reboot_container(web)")
check(rebooted["last_reboot"] is not None, "last_reboot is set")

ok(client.create_alarm(web_uid, "disk almost full", {"level": 2, "color": "#ff0000", "class": "quota"}),
   "create_alarm(web)", status=201)
listed = ok(client.alarms({"container": web_uid, "with_total": 1}), "alarms(container, with_total)")
check(listed["total"] == 1 and len(listed["alarms"]) == 1, f"one alarm: {listed}")
alarm = listed["alarms"][0]
check(alarm["msg"] == json.dumps("disk almost full"), f"the message as the client sent it: {alarm['msg']}")
check(alarm["level"] == 2 and alarm["color"] == "#ff0000" and alarm["class"] == "quota"
      and alarm["container"] == web_uid, f"alarm fields: {alarm}")
check(ok(client.alarm(alarm["id"]), "alarm(id)")["id"] == alarm["id"], "alarm(id) is the same")
refused(client.create_alarm(web_uid, "x", {"level": 0}), "create_alarm level 0", 422)

key = ok(client.create_alarm_key(web_uid), "create_alarm_key(web)")
check(key["message"] == "Ok" and len(key["alarm_key"]) == 36, f"an alarm key: {key}")
raised = requests.post(f"{url}/alarms/raise/{web_uid}", params={"key": key["alarm_key"]}, data="from cron")
check(raised.status_code == 201, f"raising with the key needs no credentials: {raised.status_code} {raised.text}")
check(ok(client.alarms({"container": web_uid, "range": 1}), "alarms(range=1)")[0]["msg"] == "from cron",
      "the keyed alarm is the newest")

deleted = ok(client.delete_alarm(alarm["id"]), "delete_alarm(id)")
check(deleted["message"] == "Ok", "delete_alarm says Ok")
refused(client.alarm(alarm["id"]), "alarm(deleted id)", 403)

ok(client.update_container(web_uid, {"custom_distro": None}), "update_container(web, custom_distro=None)")
check(ok(client.delete(["custom_distro", distro_id]), "delete(custom_distro/<id>)")["message"] == "Ok",
      "delete says Ok")
check(ok(client.get("custom_distros"), "get(custom_distros) after delete") == [], "none left")

refused(client.container(99999), "container(someone else's or missing uid)", 403)
refused(UwsgiItClient(username, "wrong-password", url).me(), "me() with a wrong password", 401)

print(f"uwsgiit-py quick start: {steps} calls checked")
