/* Settings → Connections: copy buttons, the origins list editor and the live widget preview.
 * No inline script or style (the page's CSP): colours go through data-css-background (app.js). */
(function () {
  "use strict";

  function copyText(text, button) {
    function done() {
      var label = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", label);
      button.textContent = button.getAttribute("data-copied") || "✓";
      button.classList.add("copied");
      window.setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 1800);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else { fallback(text); done(); }
  }
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", "");
    area.className = "sr-only-copy";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(area);
  }

  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    if (!target) return;
    var copy = target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (source) copyText(source.value !== undefined && source.tagName === "INPUT" ? source.value : source.textContent, copy);
      return;
    }
    var add = target.closest("[data-origin-add]");
    if (add) {
      var list = add.closest("[data-origin-list]").querySelector(".origin-rows");
      var rows = list.querySelectorAll(".origin-row");
      var row = rows[rows.length - 1].cloneNode(true);
      row.querySelector("input").value = "";
      list.appendChild(row);
      row.querySelector("input").focus();
      return;
    }
    var remove = target.closest("[data-origin-remove]");
    if (remove) {
      var one = remove.closest(".origin-row");
      var all = one.parentNode.querySelectorAll(".origin-row");
      if (all.length > 1) one.parentNode.removeChild(one);
      else one.querySelector("input").value = "";
    }
  });

  // The preview follows the colour, title and asked fields as they are typed.
  function preview() {
    var box = document.querySelector("[data-widget-preview]");
    if (!box) return;
    var color = document.getElementById("id_color");
    var title = document.getElementById("id_title");
    if (color) color.addEventListener("input", function () {
      if (!/^#[0-9a-fA-F]{6}$/.test(color.value)) return;
      box.querySelectorAll("[data-preview-color]").forEach(function (el) {
        el.setAttribute("data-css-background", color.value);
      });
    });
    var greeting = document.getElementById("id_greeting");
    var welcome = box.querySelector("[data-preview-greeting]");
    if (greeting && welcome) greeting.addEventListener("input", function () {
      welcome.textContent = greeting.value.trim() || welcome.getAttribute("data-fallback");
    });
    var position = document.getElementById("id_position");
    if (position) position.addEventListener("change", function () {
      box.classList.toggle("widget-preview-left", position.value === "left");
    });
    var heading = box.querySelector("[data-preview-title]");
    if (title && heading) title.addEventListener("input", function () {
      heading.textContent = title.value.trim() || heading.getAttribute("data-fallback");
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", preview);
  else preview();
})();
