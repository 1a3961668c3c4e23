/* Bulk actions and Excel export on the conversation list.
 * The grid owns <form id="bulk-form"> with row checkboxes name="ids" and a checkbox
 * name="all_matching"; these controls submit that form, always with the list's current URL
 * query (the filter and sort), which may have changed through htmx since the page loaded. */
(function () {
  "use strict";

  function bulkForm() { return document.getElementById("bulk-form"); }

  function selection() {
    var form = bulkForm();
    if (!form) return { n: 0, all: false };
    var n = 0, all = false;
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name === "ids" && el.checked && !el.disabled) n += 1;
      if (el.name === "all_matching" && el.checked) all = true;
    });
    return { n: n, all: all };
  }

  function describe(bar, sel) {
    var label = bar.querySelector("[data-la-count]");
    if (sel.all) return label.dataset.all;
    if (sel.n) return label.dataset.some.replace("__N__", sel.n);
    return label.dataset.none;
  }

  function refresh() {
    document.querySelectorAll("[data-la-bar]").forEach(function (bar) {
      var sel = selection(), any = sel.all || sel.n > 0;
      bar.querySelector("[data-la-count]").textContent = describe(bar, sel);
      bar.classList.toggle("la-has-selection", any);
      bar.querySelectorAll("[data-la-action]").forEach(function (b) { b.disabled = !any; });
      var transfer = bar.querySelector("[data-la-transfer]");
      if (transfer) {
        transfer.classList.toggle("la-disabled", !any);
        if (!any) transfer.open = false;
      }
    });
  }

  document.addEventListener("change", function (e) {
    if (e.target.name === "ids" || e.target.name === "all_matching" || e.target.form === bulkForm()) refresh();
  });
  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-la-action]");
    if (button) {
      var sel = selection();
      if (!sel.all && !sel.n) { e.preventDefault(); return; }
      if (button.value === "transfer") {
        var target = document.getElementById("la-transfer-to");
        if (target && !target.value) { e.preventDefault(); target.focus(); return; }
      }
      button.formAction = button.dataset.base + window.location.search;
      var bar = button.closest("[data-la-bar]");
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm + "\n" + describe(bar, sel))) {
        e.preventDefault();
      }
      return;
    }
    var link = e.target.closest("[data-la-export]");
    if (link) {
      link.href = link.dataset.base + window.location.search;
      var text = link.querySelector("[data-la-export-label]"), original = text.textContent;
      link.classList.add("la-busy");
      text.textContent = link.dataset.busy;
      setTimeout(function () { link.classList.remove("la-busy"); text.textContent = original; }, 4000);
      return;
    }
    if (bulkForm() && bulkForm().contains(e.target)) setTimeout(refresh, 0);  // "select all" helpers
  });
  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
  if (document.readyState !== "loading") refresh();
})();
