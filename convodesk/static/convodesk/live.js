/* Live updates from /ws/operator/ (DESIGN rule 8).
 *
 * ConvodeskLive.connect({last, onEvent, onOpen}) keeps one socket open, reconnects with
 * back-off and resumes from the last event id it saw; an id is handed to onEvent once.
 *
 * The conversation list: a <tbody id="rows" data-live-list data-rows-url="/…/rows/"> whose rows
 * are <tr data-id="<conversation id>">. For an event about a row on the page the row is fetched
 * again (GET rows-url + the page's own query + &ids=<id>) and swapped in place; for an event about
 * a conversation not on the page, the same request says whether it matches the page's filter, and
 * matching rows wait behind a "N new — show" bar (element #live-new, created when missing) until
 * the user asks for them. The page's filter, selection (checked boxes) and scroll are kept.
 * The rows endpoint answers only rows that match the filter and that the user may see.
 * Optional on the tbody: data-last-event="<id>" (the newest event id when the page was rendered),
 * data-new-one / data-new-many / data-new-other="%(n)s new — show" (each plural form, translated;
 * Intl.PluralRules picks one for the count).
 */
(function () {
  "use strict";

  function connect(options) {
    var last = Number(options.last) || 0;
    var seen = new Set();
    var socket = null;
    var attempt = 0;
    var opened = null;
    var closedByUs = false;

    function url() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      return scheme + location.host + (options.path || "/ws/operator/") + (last ? "?last=" + last : "");
    }

    function send(obj) {
      if (socket && socket.readyState === 1) { socket.send(JSON.stringify(obj)); return true; }
      return false;
    }

    function open() {
      socket = new WebSocket(url());
      socket.onopen = function () {
        attempt = 0;
        document.documentElement.removeAttribute("data-live-offline");
        if (opened) send({ type: "open", conversation: Number(opened) });
        if (options.watch) send({ type: "watch", ids: options.watch() });
        if (options.onOpen) options.onOpen();
      };
      socket.onmessage = function (e) {
        var data;
        try { data = JSON.parse(e.data); } catch (err) { return; }
        if (data.id) {
          if (seen.has(data.id)) return;
          seen.add(data.id);
          if (seen.size > 5000) seen = new Set(Array.from(seen).slice(-2500));
          if (data.id > last) last = data.id;
        }
        if (data.type === "hello" && data.last > last) last = data.last;
        if (options.onEvent) options.onEvent(data);
      };
      socket.onclose = function (e) {
        if (closedByUs) return;
        document.documentElement.setAttribute("data-live-offline", "");
        if (e.code === 4401) return; // logged out: no point retrying
        attempt = Math.min(attempt + 1, 7);
        var delay = Math.min(30000, 400 * Math.pow(2, attempt)) * (0.75 + Math.random() / 2);
        setTimeout(open, delay);
      };
    }
    open();

    return {
      send: send,
      open: function (id) { opened = id; send({ type: "open", conversation: Number(id) }); },
      watch: function (ids) { send({ type: "watch", ids: ids }); },
      lastId: function () { return last; },
      close: function () { closedByUs = true; if (socket) socket.close(); }
    };
  }

  window.ConvodeskLive = { connect: connect };

  // The conversation list ----------------------------------------------------------------

  function initList() {
    // The list region may be swapped by htmx (sorting, filtering): always look the body up again.
    function body() { return document.querySelector("[data-live-list]"); }
    var pending = new Map();
    var queued = new Set();
    var timer = null;

    function bar() {
      var node = document.getElementById("live-new");
      var tbody = body();
      if (!node && tbody) {
        node = document.createElement("button");
        node.type = "button";
        node.id = "live-new";
        node.className = "btn btn-primary live-new";
        node.hidden = true;
        var anchor = tbody.closest("#list-region") || tbody.closest("table") || tbody;
        anchor.parentNode.insertBefore(node, anchor);
        node.addEventListener("click", showPending);
      }
      return node;
    }

    function showBar() {
      var node = bar();
      if (!node) return;
      var tbody = body();
      var rule = "other";
      try { rule = new Intl.PluralRules(document.documentElement.lang || "en").select(pending.size); } catch (e) { rule = pending.size === 1 ? "one" : "other"; }
      var template = (tbody && (tbody.getAttribute("data-new-" + rule) || tbody.getAttribute("data-new-other"))) || "%(n)s new — show";
      node.hidden = pending.size === 0;
      node.textContent = template.replace("%(n)s", String(pending.size));
    }

    function rowIds() {
      var tbody = body();
      if (!tbody) return [];
      return Array.prototype.map.call(tbody.querySelectorAll("tr[data-id]"), function (tr) { return Number(tr.getAttribute("data-id")); });
    }

    function fetchRows(ids) {
      var tbody = body();
      var rowsUrl = tbody && tbody.getAttribute("data-rows-url");
      if (!rowsUrl) return Promise.resolve(new Map());
      var params = new URLSearchParams(location.search);
      params.set("ids", ids.join(","));
      return fetch(rowsUrl + (rowsUrl.indexOf("?") >= 0 ? "&" : "?") + params.toString(), {
        credentials: "same-origin", headers: { "HX-Request": "true", "X-Requested-With": "fetch" }
      }).then(function (r) { return r.ok ? r.text() : ""; }).then(function (html) {
        var doc = new DOMParser().parseFromString("<table><tbody>" + html + "</tbody></table>", "text/html");
        var found = new Map();
        doc.querySelectorAll("tr[data-id]").forEach(function (tr) { found.set(tr.getAttribute("data-id"), tr); });
        return found;
      });
    }

    function flush() {
      timer = null;
      var ids = Array.from(queued);
      queued.clear();
      if (!ids.length) return;
      fetchRows(ids).then(function (found) {
        var tbody = body();
        if (!tbody) return;
        ids.forEach(function (id) {
          var key = String(id);
          var old = tbody.querySelector('tr[data-id="' + key + '"]');
          var fresh = found.get(key);
          if (old && fresh) {
            var box = old.querySelector("input[type=checkbox]");
            var node = document.importNode(fresh, true);
            var freshBox = node.querySelector("input[type=checkbox]");
            if (box && freshBox) freshBox.checked = box.checked && !freshBox.disabled;
            old.replaceWith(node);
            if (window.htmx) window.htmx.process(node);
          } else if (!old && fresh) {
            pending.set(key, fresh);
          } else if (old && !fresh) {
            old.classList.add("live-stale");
          }
        });
        showBar();
      });
    }

    function queue(id) {
      queued.add(id);
      if (!timer) timer = setTimeout(flush, 250);
    }

    function showPending() {
      var tbody = body();
      if (!tbody) return;
      Array.from(pending.values()).reverse().forEach(function (tr) {
        var node = document.importNode(tr, true);
        tbody.insertBefore(node, tbody.firstElementChild);
        if (window.htmx) window.htmx.process(node);
      });
      var empty = tbody.querySelector("tr:not([data-id])");
      if (empty && pending.size) empty.remove();
      pending.clear();
      showBar();
      tbody.dispatchEvent(new CustomEvent("live:rows-added", { bubbles: true }));
    }

    document.body.addEventListener("htmx:afterSwap", function () { pending.clear(); showBar(); });

    var first = body();
    var live = connect({
      last: Number(first.getAttribute("data-last-event")) || undefined,
      watch: rowIds,
      onEvent: function (data) {
        if (data.type === "event" || data.type === "gone") queue(data.conversation);
      }
    });
    document.body.addEventListener("htmx:afterSwap", function () { live.watch(rowIds()); });
  }

  function boot() {
    if (document.querySelector("[data-live-list]")) initList();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
})();
