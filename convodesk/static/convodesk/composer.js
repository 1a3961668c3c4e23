/* The composer's private-note switch and its files (picker, drag and drop, paste).
 * The files wait in a list under the text until the reply or note is sent; workspace.js adds
 * them to the form it posts (window.convodeskComposer.files). The size and type checks here only
 * save a round trip: the server checks the same limits and answers with a message. */
(function () {
  "use strict";
  var pending = [];

  function form() { return document.querySelector("#ws-composer .ws-reply"); }

  function extension(name) { var i = name.lastIndexOf("."); return i < 0 ? "" : name.slice(i).toLowerCase(); }

  function say(text) {
    var flash = document.getElementById("ws-flash");
    if (!flash) { window.alert(text); return; }
    flash.textContent = "";
    var div = document.createElement("div");
    div.className = "ws-flash-error";
    div.setAttribute("data-flash", "");
    div.textContent = text;
    flash.appendChild(div);
  }

  function render() {
    var list = document.getElementById("ws-pending");
    if (!list) return;
    list.textContent = "";
    pending.forEach(function (file, index) {
      var li = document.createElement("li");
      li.className = "ws-chip";
      var label = document.createElement("span");
      label.textContent = file.name;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "ws-chip-remove";
      remove.setAttribute("data-remove-file", String(index));
      remove.setAttribute("aria-label", "×");
      remove.textContent = "×";
      li.appendChild(label);
      li.appendChild(remove);
      list.appendChild(li);
    });
  }

  function add(files) {
    var f = form();
    if (!f) return;
    var max = Number(f.getAttribute("data-max-bytes")) || 0;
    var accept = (document.getElementById("ws-files") || {}).accept || "";
    var allowed = accept.split(",").filter(Boolean);
    Array.from(files || []).forEach(function (file) {
      var name = file.name || "pasted.png";
      if (allowed.length && allowed.indexOf(extension(name)) < 0) { say("“" + name + "”: " + f.getAttribute("data-bad-type")); return; }
      if (max && file.size > max) { say("“" + name + "” " + f.getAttribute("data-too-large")); return; }
      pending.push(file);
    });
    render();
  }

  function setMode(note) {
    var f = form();
    if (!f) return;
    f.classList.toggle("is-note", note);
    var text = document.getElementById("ws-text");
    if (text) {
      if (!text.hasAttribute("data-reply-placeholder")) text.setAttribute("data-reply-placeholder", text.placeholder);
      text.placeholder = note ? text.getAttribute("data-note-placeholder") : text.getAttribute("data-reply-placeholder");
    }
    var send = f.querySelector("button[type=submit]");
    if (send) send.textContent = send.getAttribute(note ? "data-note-label" : "data-send-label");
  }

  document.addEventListener("change", function (e) {
    if (e.target.id === "ws-files") { add(e.target.files); e.target.value = ""; return; }
    if (e.target.name === "note" && e.target.closest(".ws-reply")) setMode(e.target.value === "1");
  });

  document.addEventListener("click", function (e) {
    var remove = e.target.closest("[data-remove-file]");
    if (!remove) return;
    pending.splice(Number(remove.getAttribute("data-remove-file")), 1);
    render();
  });

  document.addEventListener("dragover", function (e) {
    var f = form();
    if (!f || !e.target.closest || !e.target.closest("#ws-composer")) return;
    e.preventDefault();
    f.classList.add("is-dropping");
  });
  document.addEventListener("dragleave", function (e) {
    var f = form();
    if (f && e.target.closest && !e.target.closest("#ws-composer .ws-reply")) f.classList.remove("is-dropping");
  });
  document.addEventListener("drop", function (e) {
    var f = form();
    if (!f || !e.target.closest || !e.target.closest("#ws-composer")) return;
    e.preventDefault();
    f.classList.remove("is-dropping");
    if (e.dataTransfer) add(e.dataTransfer.files);
  });
  document.addEventListener("paste", function (e) {
    if (e.target.id !== "ws-text" || !e.clipboardData || !e.clipboardData.files.length) return;
    e.preventDefault();
    add(e.clipboardData.files);
  });

  window.convodeskComposer = {
    files: function () { return pending.slice(); },
    clear: function () { pending = []; render(); },
    isNote: function () { var f = form(); return !!(f && f.classList.contains("is-note")); },
    add: add,
    render: render
  };
})();
