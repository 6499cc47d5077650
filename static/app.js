// Small helpers on top of plain forms; every page works without them.
// - A form with data-confirm asks in a <dialog> before it is sent, and then sends
//   confirmed=1, which spares the confirmation page the server shows without JavaScript.
// - A form is sent once: a second submit while the first is under way is dropped.
// - A button with data-copy copies the text of the element it names.
// - A table wider than its box (it scrolls on a phone) takes the keyboard focus, so that the
//   arrow keys scroll it.
(function () {
  "use strict";

  function busy(form, on) {
    form.toggleAttribute("data-busy", on);
    form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) {
      b.setAttribute("aria-disabled", on ? "true" : "false");
    });
  }

  function confirmed(form) {
    var field = form.querySelector("input[name=confirmed]");
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "confirmed";
      form.appendChild(field);
    }
    field.value = "1";
  }

  function ask(form) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") return false;
    document.getElementById("confirm-dialog-question").textContent = form.dataset.confirm;
    var yes = document.getElementById("confirm-dialog-yes");
    yes.textContent = form.dataset.confirmButton || "Yes, go on";
    dialog.returnValue = "";
    dialog.onclose = function () {
      if (dialog.returnValue !== "confirm") return;
      confirmed(form);
      form.dataset.asked = "1";
      form.requestSubmit();
    };
    dialog.showModal();
    return true;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method === "dialog") return;
    if (form.hasAttribute("data-busy")) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    if (form.dataset.confirm && !form.dataset.asked && ask(form)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    delete form.dataset.asked;
    busy(form, true);
  }, true);

  // an htmx form stays on the page: it may be sent again once its answer is in
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form instanceof HTMLFormElement) busy(form, false);
  });

  // back to a page kept in the browser's cache: its forms may be sent again
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-busy]").forEach(function (form) { busy(form, false); });
  });

  var tables = typeof ResizeObserver === "function" && new ResizeObserver(function (entries) {
    entries.forEach(function (entry) {
      var table = entry.target;
      if (table.scrollWidth > table.clientWidth) table.setAttribute("tabindex", "0");
      else table.removeAttribute("tabindex");
    });
  });
  function watchTables(root) {
    if (!tables || !root.querySelectorAll) return;
    if (root.tagName === "TABLE") tables.observe(root);
    root.querySelectorAll("table").forEach(function (table) { tables.observe(table); });
  }
  document.addEventListener("DOMContentLoaded", function () { watchTables(document); });
  document.addEventListener("htmx:load", function (event) { watchTables(event.target); });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = "Copied";
    });
  });
})();
