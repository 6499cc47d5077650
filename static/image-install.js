// The install card of a distro's page. Without this script it is three plain forms under
// anchors; with it, the three are tabs, and an upload shows its progress: the bytes sent of
// the total, then the host's unpacking and checking (the image block, which follows the job).
(function () {
  "use strict";

  function tabs(card) {
    var nav = card.querySelector(".tabs");
    var links = Array.prototype.slice.call(card.querySelectorAll(".tabs a"));
    var panels = Array.prototype.slice.call(card.querySelectorAll(".tab-panel"));
    if (!nav || panels.length === 0) return;
    function show(id) {
      links.forEach(function (link) {
        var on = link.getAttribute("href") === "#" + id;
        link.setAttribute("aria-selected", on ? "true" : "false");
        link.setAttribute("tabindex", on ? "0" : "-1");
      });
      panels.forEach(function (panel) { panel.hidden = panel.id !== id; });
    }
    nav.setAttribute("role", "tablist");
    links.forEach(function (link) {
      link.setAttribute("role", "tab");
      link.setAttribute("aria-controls", link.getAttribute("href").slice(1));
      link.addEventListener("click", function (event) {
        event.preventDefault();
        show(link.getAttribute("href").slice(1));
      });
    });
    panels.forEach(function (panel) { panel.setAttribute("role", "tabpanel"); });
    var wanted = location.hash.slice(1);
    var known = panels.some(function (panel) { return panel.id === wanted; });
    show(known ? wanted : panels[0].id);
  }

  function size(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1048576) return (bytes / 1024).toFixed(1) + " KiB";
    if (bytes < 1073741824) return (bytes / 1048576).toFixed(1) + " MiB";
    return (bytes / 1073741824).toFixed(1) + " GiB";
  }

  // A refusal comes back as the page with its reason: the reason is what is shown.
  function reason(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var problem = page.querySelector(".flash.error");
    return problem ? problem.textContent : "The upload was refused.";
  }

  // The image block again, which shows the install job and follows it while it runs.
  function refreshImage(distro) {
    if (window.htmx) {
      window.htmx.ajax("GET", "/distros/" + distro, { target: "#image", swap: "outerHTML" });
    }
  }

  function upload(form) {
    var submit = form.querySelector("button[type=submit]");
    var cancel = form.querySelector("#upload-cancel");
    var status = form.querySelector("#upload-status");
    var bar = form.querySelector("#upload-progress");
    var sent = form.querySelector("#upload-sent");
    var message = form.querySelector("#upload-message");
    var distro = form.getAttribute("action").split("/")[2];

    function progress(loaded, total) {
      var percent = total > 0 ? Math.floor((loaded * 100) / total) : 100;
      bar.max = 100;
      bar.value = percent;
      sent.textContent = "Uploading: " + size(loaded) + " of " + size(total) + " sent (" + percent + " %).";
    }
    function running(on) {
      submit.disabled = on;
      cancel.hidden = !on;
      // the page stays: once this upload is over (sent, refused or cancelled), the form may
      // be sent again, which the once-only guard of app.js would otherwise drop
      if (!on) {
        form.removeAttribute("data-busy");
        submit.setAttribute("aria-disabled", "false");
      }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = new FormData(form); // the CSRF token is its first field
      var file = form.querySelector("#archive").files[0];
      var total = file ? file.size : 0;
      var xhr = new XMLHttpRequest();
      status.hidden = false;
      message.textContent = "";
      progress(0, total);
      running(true);
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) progress(Math.min(e.loaded, total || e.total), total || e.total);
      };
      xhr.upload.onload = function () { progress(total, total); };
      xhr.onload = function () {
        running(false);
        if (xhr.status >= 200 && xhr.status < 300) {
          progress(total, total);
          message.textContent = "Unpacking: the host unpacks and checks it next.";
          form.reset();
          refreshImage(distro);
        } else {
          message.textContent = reason(xhr.responseText);
        }
      };
      xhr.onerror = function () {
        running(false);
        message.textContent = "The upload broke off; nothing was installed. Send it again.";
      };
      xhr.onabort = function () {
        running(false);
        bar.value = 0;
        message.textContent = "The upload was cancelled; nothing was installed.";
      };
      cancel.onclick = function () { xhr.abort(); };
      xhr.open("POST", form.getAttribute("action"));
      xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
      xhr.send(body);
    });
  }

  // The plain forms are sent once: their button is disabled while the page answers.
  function once(form) {
    form.addEventListener("submit", function () {
      var submit = form.querySelector("button[type=submit]");
      if (submit) submit.disabled = true;
    });
  }

  function start() {
    var card = document.getElementById("install");
    if (!card) return;
    tabs(card);
    var form = document.getElementById("upload-form");
    if (form && window.FormData && window.XMLHttpRequest) upload(form);
    Array.prototype.forEach.call(card.querySelectorAll("form.install-form"), once);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
