/* The composer's quick replies by shortcut: "/" and the start of a shortcut (or any part of a
 * title) lists the matching replies above the reply box; ↑/↓ choose, Enter or Tab inserts the
 * text (placeholders already filled by the server), Escape closes. The replies are the buttons
 * the server rendered in the composer, so there is one source for what an employee is offered. */
(function () {
  "use strict";
  var list = null, items = [], active = 0, start = -1;

  function offered() {
    return Array.from(document.querySelectorAll("#ws-composer [data-quick]")).map(function (b) {
      return { text: b.getAttribute("data-quick"), title: b.textContent.trim(), shortcut: b.getAttribute("data-shortcut") || "" };
    });
  }

  function typed(box) {
    var before = box.value.slice(0, box.selectionStart);
    var m = /(^|\s)\/([^\s\/]*)$/.exec(before);
    return m ? { term: m[2].toLowerCase(), start: before.length - m[2].length - 1 } : null;
  }

  function close() {
    if (list) list.remove();
    list = null; items = [];
  }

  function choose(index) {
    active = (index + items.length) % items.length;
    Array.from(list.children).forEach(function (li, i) {
      li.setAttribute("aria-selected", i === active ? "true" : "false");
    });
    var box = document.getElementById("ws-text");
    if (box) box.setAttribute("aria-activedescendant", "ws-suggest-" + active);
  }

  function insert(box, item) {
    var before = box.value.slice(0, start), after = box.value.slice(box.selectionStart);
    box.value = before + item.text + after;
    var caret = before.length + item.text.length;
    box.setSelectionRange(caret, caret);
    close();
    box.focus();
  }

  function render(box) {
    if (list) list.remove();
    list = document.createElement("ul");
    list.className = "ws-suggest";
    list.id = "ws-suggest";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", box.getAttribute("data-quick-label") || "");
    items.forEach(function (item, i) {
      var li = document.createElement("li");
      li.id = "ws-suggest-" + i;
      li.setAttribute("role", "option");
      var key = document.createElement("b");
      key.textContent = item.shortcut ? "/" + item.shortcut : item.title;
      var text = document.createElement("span");
      text.textContent = item.shortcut ? item.title + " — " + item.text : item.text;
      li.appendChild(key); li.appendChild(text);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); insert(box, item); });
      list.appendChild(li);
    });
    box.form.appendChild(list);
    box.setAttribute("aria-controls", "ws-suggest");
    choose(0);
  }

  document.addEventListener("input", function (e) {
    if (e.target.id !== "ws-text") return;
    var q = typed(e.target);
    if (!q) { close(); return; }
    start = q.start;
    items = offered().filter(function (r) {
      return r.shortcut.toLowerCase().indexOf(q.term) === 0 || r.title.toLowerCase().indexOf(q.term) !== -1;
    }).slice(0, 8);
    if (!items.length) { close(); return; }
    render(e.target);
  });

  // Capture phase: while the list is open, Enter inserts instead of sending the reply.
  document.addEventListener("keydown", function (e) {
    if (e.target.id !== "ws-text" || !list) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      choose(active + (e.key === "ArrowDown" ? 1 : -1));
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault(); e.stopPropagation();
      insert(e.target, items[active]);
    } else if (e.key === "Escape") {
      e.preventDefault(); e.stopPropagation();
      close();
    }
  }, true);

  document.addEventListener("focusout", function (e) { if (e.target.id === "ws-text") close(); });
})();
