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
 * Optional: data-last-event="<id>" on the tbody (the newest event id when the page was rendered).
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

  function initList(tbody) {
    var rowsUrl = tbody.getAttribute("data-rows-url");
    if (!rowsUrl) return;
    var pending = new Map();
    var queued = new Set();
    var timer = null;

    var bar = document.getElementById("live-new");
    if (!bar) {
      bar = document.createElement("button");
      bar.type = "button";
      bar.id = "live-new";
      bar.className = "btn btn-primary live-new";
      bar.hidden = true;
      var table = tbody.closest("table");
      (table && table.parentNode ? table.parentNode : tbody.parentNode).insertBefore(bar, table || tbody);
    }
    var template = bar.getAttribute("data-template") || "%(n)s new — show";

    function showBar() {
      bar.hidden = pending.size === 0;
      bar.textContent = template.replace("%(n)s", String(pending.size));
    }

    function rowIds() {
      return Array.prototype.map.call(tbody.querySelectorAll("tr[data-id]"), function (tr) { return Number(tr.getAttribute("data-id")); });
    }

    function fetchRows(ids) {
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
        ids.forEach(function (id) {
          var key = String(id);
          var old = tbody.querySelector('tr[data-id="' + key + '"]');
          var fresh = found.get(key);
          if (old && fresh) {
            var box = old.querySelector("input[type=checkbox]");
            var freshBox = fresh.querySelector("input[type=checkbox]");
            if (box && freshBox) freshBox.checked = box.checked && !freshBox.disabled;
            old.replaceWith(document.importNode(fresh, true));
            if (window.htmx) window.htmx.process(tbody.querySelector('tr[data-id="' + key + '"]'));
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

    bar.addEventListener("click", function () {
      var first = tbody.firstElementChild;
      Array.from(pending.values()).reverse().forEach(function (tr) {
        var node = document.importNode(tr, true);
        tbody.insertBefore(node, tbody.firstElementChild);
        if (window.htmx) window.htmx.process(node);
      });
      var empty = tbody.querySelector("tr:not([data-id])");
      if (empty && pending.size) empty.remove();
      pending.clear();
      showBar();
      if (first) tbody.dispatchEvent(new CustomEvent("live:rows-added", { bubbles: true }));
    });

    connect({
      last: Number(tbody.getAttribute("data-last-event")) || undefined,
      watch: rowIds,
      onEvent: function (data) {
        if (data.type === "event" || data.type === "gone") queue(data.conversation);
      }
    });
  }

  function boot() {
    var tbody = document.querySelector("[data-live-list]");
    if (tbody) initList(tbody);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
})();
