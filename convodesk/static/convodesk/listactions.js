/* Bulk actions and Excel export on the conversation list.
 * The grid owns <form id="bulk-form"> (row checkboxes name="ids", a checkbox name="all_matching",
 * the current filter in "filter_query"); the bulk buttons submit it to the bulk endpoint. */
(function () {
  "use strict";

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

  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-la-action]");
    if (button) {
      var sel = selection();
      if (!sel.all && !sel.n) { e.preventDefault(); return; }
      if (button.value === "transfer") {
        var target = document.getElementById("la-transfer-to");
        if (target && !target.value) { e.preventDefault(); target.focus(); return; }
      }
      var group = button.closest("[data-la-bulk]");
      var what = sel.all ? group.dataset.all : group.dataset.some.replace("__N__", sel.n);
      var question = group.dataset.question.replace("__ACTION__", button.dataset.confirm).replace("__WHAT__", what);
      if (!window.confirm(question)) e.preventDefault();
      return;
    }
    var link = e.target.closest("[data-la-export]");
    if (link && !link.classList.contains("la-busy")) {
      var text = link.querySelector("[data-la-export-label]"), original = text.textContent;
      link.classList.add("la-busy");
      text.textContent = link.dataset.busy;
      setTimeout(function () { link.classList.remove("la-busy"); text.textContent = original; }, 3000);
    }
  });
})();
