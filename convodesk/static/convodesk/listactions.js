/* Bulk actions and Excel export on the conversation list.
 * The grid owns <form id="bulk-form"> (row checkboxes name="ids", a checkbox name="all_matching",
 * the current filter in "filter_query"); the bulk buttons submit it to the bulk endpoint. */
(function () {
  "use strict";
  // The script comes with the list region, which htmx swaps (and may run again): bind once.
  if (window.convodeskListActions) return;
  window.convodeskListActions = true;

  function selection() {
    var form = document.getElementById("bulk-form");
    var n = 0, all = false;
    if (form) {
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name === "ids" && el.checked && !el.disabled) n += 1;
        if (el.name === "all_matching" && el.checked) all = true;
      });
    }
    return { n: n, all: all };
  }

  // The plural form of a count for the page's language: data-<prefix>-one / -many / -other.
  function plural(el, prefix, n) {
    var rule = "other";
    try { rule = new Intl.PluralRules(document.documentElement.lang || "en").select(n); } catch (err) { rule = n === 1 ? "one" : "other"; }
    return (el.getAttribute("data-" + prefix + "-" + rule) || el.getAttribute("data-" + prefix + "-other") || "").replace("__N__", String(n));
  }

  // Bulk buttons post through htmx (rows are updated in place, a toast says what happened);
  // htmx asks here before sending, so the question names how many conversations.
  document.addEventListener("htmx:confirm", function (e) {
    var button = e.target.closest && e.target.closest("[data-la-action]");
    if (!button) return;
    e.preventDefault();
    var sel = selection();
    if (!sel.all && !sel.n) return;
    if (button.value === "transfer") {
      var target = document.getElementById("la-transfer-to");
      if (target && !target.value) { target.focus(); return; }
    }
    if (button.value === "tag" || button.value === "untag") {
      var tag = document.getElementById("la-bulk-tag");
      if (tag && !tag.value) { tag.focus(); return; }
    }
    var group = button.closest("[data-la-bulk]");
    var what = sel.all ? group.dataset.all : plural(group, "some", sel.n);
    var question = group.dataset.question.replace("__ACTION__", button.dataset.confirm).replace("__WHAT__", what);
    if (window.confirm(question)) e.detail.issueRequest(true);
  });
  // A refused bulk action (400) still shows its toast.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
    if (elt && elt.closest && elt.closest("[data-la-bulk]") && e.detail.xhr.status === 400) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  // After a bulk action: nothing stays selected; an action on every matching row reloads the list.
  document.body.addEventListener("convodesk:bulk-done", function (e) {
    document.querySelectorAll("#bulk-form [data-check-page], #bulk-form [data-all-matching]").forEach(function (b) { b.checked = false; });
    document.querySelectorAll('#conversation-grid input[name="ids"]:checked').forEach(function (b) { b.checked = false; });
    var bar = document.querySelector("[data-bulk-bar]");
    if (bar) bar.hidden = true;
    if (e.detail && e.detail.reload && window.htmx) {
      window.htmx.ajax("GET", location.pathname + location.search, { target: "#list-region", swap: "outerHTML" });
    }
  });

  document.addEventListener("click", function (e) {
    var link = e.target.closest("[data-la-export]");
    if (link && !link.classList.contains("la-busy")) {
      var text = link.querySelector("[data-la-export-label]"), original = text.textContent;
      link.classList.add("la-busy");
      text.textContent = link.dataset.busy;
      setTimeout(function () { link.classList.remove("la-busy"); text.textContent = original; }, 3000);
    }
  });
})();
