/* Conversation list: filter panel fields, column picker ordering, menus, row selection. No framework. */
(function () {
  "use strict";

  function closestField(el) { return el.closest("[data-field]"); }

  function syncAddField(form) {
    var select = form.querySelector("[data-add-field]");
    if (!select) return;
    Array.prototype.forEach.call(select.options, function (opt) {
      if (!opt.value) return;
      var field = form.querySelector('[data-field="' + opt.value + '"]');
      opt.disabled = !!(field && !field.hidden);
    });
  }

  function msText(details) {
    var out = details.querySelector("[data-ms-text]");
    var checked = details.querySelectorAll("input:checked");
    if (!out) return;
    if (!checked.length) { out.textContent = out.getAttribute("data-empty"); return; }
    var first = checked[0].parentNode.textContent.trim();
    out.textContent = checked.length > 1 ? first + " +" + (checked.length - 1) : first;
  }

  function rangeToggle(select) {
    var field = closestField(select);
    var dates = field.querySelector("[data-range-dates]");
    var opt = select.options[select.selectedIndex];
    var inputs = dates.querySelectorAll("input");
    var hint = field.querySelector("[data-range-hint]");
    if (select.value === "custom") { dates.hidden = false; if (hint) hint.textContent = ""; return; }
    dates.hidden = true;
    inputs[0].value = opt && opt.dataset.from ? opt.dataset.from : "";
    inputs[1].value = opt && opt.dataset.to ? opt.dataset.to : "";
    if (hint) hint.textContent = inputs[0].value ? inputs[0].value + " – " + inputs[1].value : "";
  }

  function restoreOpen(root) {
    root.querySelectorAll("[data-remember]").forEach(function (el) {
      var key = "convodesk:" + el.getAttribute("data-remember");
      var stored = window.localStorage ? localStorage.getItem(key) : null;
      if (stored !== null && !el.querySelector(".filter-errors")) el.open = stored === "1";
      el.addEventListener("toggle", function () {
        try { localStorage.setItem(key, el.open ? "1" : "0"); } catch (e) { /* private mode */ }
      });
    });
  }

  function selectedCount(root) {
    var bar = root.querySelector("[data-bulk-bar]");
    if (!bar) return;
    var boxes = root.querySelectorAll('input[name="ids"]:checked');
    var all = root.querySelector("[data-all-matching]");
    bar.hidden = !boxes.length && !(all && all.checked);
    var out = bar.querySelector("[data-selected-count]");
    if (out) out.textContent = boxes.length ? boxes.length + " ✓" : "";
  }

  function init(root) {
    restoreOpen(root);
    root.querySelectorAll("details[data-ms]").forEach(msText);
    root.querySelectorAll("#filter-form").forEach(syncAddField);
  }

  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t.matches("[data-add-field]")) {
      var form = t.form;
      var field = form.querySelector('[data-field="' + t.value + '"]');
      if (field) {
        field.hidden = false;
        var input = field.querySelector("input, select, summary");
        if (input) input.focus();
      }
      t.value = "";
      syncAddField(form);
    } else if (t.matches("[data-range-select]")) {
      rangeToggle(t);
    } else if (t.closest("details[data-ms]")) {
      msText(t.closest("details[data-ms]"));
    } else if (t.matches("[data-check-page]")) {
      document.querySelectorAll('#conversation-grid input[name="ids"]:not(:disabled)').forEach(function (b) { b.checked = t.checked; });
      selectedCount(document);
    } else if (t.matches('input[name="ids"], [data-all-matching]')) {
      selectedCount(document);
    }
  });

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    var remove = t.closest("[data-remove-field]");
    if (remove) {
      var field = closestField(remove);
      field.querySelectorAll("input, select").forEach(function (el) {
        if (el.type === "checkbox" || el.type === "radio") el.checked = false;
        else if (el.tagName === "SELECT" && el.name.slice(-5) === "_unit") el.value = "s";
        else el.value = "";
      });
      field.hidden = true;
      syncAddField(field.closest("form"));
      return;
    }
    var move = t.closest("[data-move]");
    if (move) {
      var li = move.closest("li");
      if (move.dataset.move === "up" && li.previousElementSibling) li.parentNode.insertBefore(li, li.previousElementSibling);
      if (move.dataset.move === "down" && li.nextElementSibling) li.parentNode.insertBefore(li.nextElementSibling, li);
      move.focus();
      return;
    }
    // Close other open menus when one opens or when clicking outside.
    document.querySelectorAll("details[data-menu][open], details[data-ms][open], details[data-rate][open]").forEach(function (d) {
      if (!d.contains(t)) d.open = false;
    });
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape") return;
    document.querySelectorAll("details[data-menu][open], details[data-ms][open], details[data-rate][open]").forEach(function (d) { d.open = false; });
  });

  // Drag and drop in the column picker.
  var dragged = null;
  document.addEventListener("dragstart", function (ev) {
    var li = ev.target.closest && ev.target.closest("[data-picker] li");
    if (!li) return;
    dragged = li;
    li.classList.add("dragging");
    ev.dataTransfer.effectAllowed = "move";
    try { ev.dataTransfer.setData("text/plain", li.dataset.key); } catch (e) { /* old browsers */ }
  });
  document.addEventListener("dragover", function (ev) {
    var li = ev.target.closest && ev.target.closest("[data-picker] li");
    if (!dragged || !li || li === dragged) return;
    ev.preventDefault();
    var rect = li.getBoundingClientRect();
    var after = ev.clientY > rect.top + rect.height / 2;
    li.parentNode.insertBefore(dragged, after ? li.nextElementSibling : li);
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
  });

  // Popovers inside the scrolling grid are placed in the viewport so the grid's overflow never clips them.
  function placePopover(details) {
    var pop = details.querySelector(":scope > .menu-pop, :scope > .rate-pop");
    if (!pop) return;
    if (!details.open) { pop.removeAttribute("style"); return; }
    var r = details.querySelector("summary").getBoundingClientRect();
    pop.style.position = "fixed";
    pop.style.right = Math.max(8, window.innerWidth - r.right) + "px";
    pop.style.left = "auto";
    var below = window.innerHeight - r.bottom;
    var height = pop.offsetHeight;
    if (below < height + 12 && r.top > below) {
      pop.style.top = "auto";
      pop.style.bottom = (window.innerHeight - r.top + 4) + "px";
    } else {
      pop.style.bottom = "auto";
      pop.style.top = (r.bottom + 4) + "px";
    }
  }
  // Row menus and rating editors come on demand (details[data-load]): the first time one is
  // opened its content is fetched through htmx, which also wires its buttons.
  function loadOnce(details) {
    // data-load-url, or data-load="menu" / "rate": <conversations base>/<row id>/<kind>/ (the tbody
    // carries the base, so a row does not repeat its URLs).
    var url = details.getAttribute("data-load-url") || "";
    var kind = details.getAttribute("data-load");
    var row = details.closest("tr[data-id]");
    var tbody = details.closest("[data-row-base]");
    if (!url && row && tbody && /^[a-z]+$/.test(kind)) url = tbody.getAttribute("data-row-base") + row.getAttribute("data-id") + "/" + kind + "/";
    var pop = details.querySelector(":scope > .menu-pop, :scope > .rate-pop, :scope > [data-lazy]");
    if (!url || !pop || details.hasAttribute("data-loaded") || !window.htmx) return;
    details.setAttribute("data-loaded", "");
    pop.setAttribute("aria-busy", "true");
    window.htmx.ajax("GET", url, { target: pop, swap: "innerHTML" }).then(function () {
      pop.removeAttribute("aria-busy");
      if (details.closest(".grid-wrap")) placePopover(details);
      var first = pop.querySelector("a, button, input");
      if (first && details.hasAttribute("data-menu")) first.focus();
    }, function () { details.removeAttribute("data-loaded"); pop.removeAttribute("aria-busy"); });
  }
  document.addEventListener("toggle", function (ev) {
    var d = ev.target;
    if (d.tagName !== "DETAILS") return;
    if (d.open && d.hasAttribute("data-load")) loadOnce(d);
    if (d.closest(".grid-wrap")) placePopover(d);
  }, true);
  function replaceOpen() { document.querySelectorAll(".grid-wrap details[open]").forEach(placePopover); }
  document.addEventListener("scroll", replaceOpen, true);
  window.addEventListener("resize", replaceOpen);

  // Density: compact by default; "Comfortable" is remembered in this browser.
  function applyDensity() {
    var comfortable = false;
    try { comfortable = localStorage.getItem("convodesk:density") === "comfortable"; } catch (e) { /* private mode */ }
    document.querySelectorAll("[data-density]").forEach(function (t) { t.classList.toggle("comfortable", comfortable); });
    document.querySelectorAll("[data-density-toggle]").forEach(function (b) { b.setAttribute("aria-pressed", comfortable ? "true" : "false"); });
  }
  document.addEventListener("click", function (ev) {
    var b = ev.target instanceof Element ? ev.target.closest("[data-density-toggle]") : null;
    if (!b) return;
    var next = b.getAttribute("aria-pressed") === "true" ? "compact" : "comfortable";
    try { localStorage.setItem("convodesk:density", next); } catch (e) { /* private mode */ }
    applyDensity();
  });
  document.addEventListener("DOMContentLoaded", applyDensity);
  document.addEventListener("htmx:afterSwap", applyDensity);

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("#toast").forEach(function (t) {
      if (!t.textContent.trim()) return;
      t.classList.add("show");
      clearTimeout(t._timer);
      t._timer = setTimeout(function () { t.classList.remove("show"); }, 5000);
    });
  });
})();
