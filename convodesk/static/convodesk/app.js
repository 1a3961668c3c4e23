/* Behaviour every page shares, bound here instead of inline handlers: the Content-Security-Policy
 * allows no inline script and no style attribute. [data-print] prints, select[data-autosubmit]
 * submits its form on change, form[data-confirm] asks before submitting,
 * input[data-select-on-focus] selects itself, and data-css-width / data-css-background /
 * data-css-border-color set those properties through the CSSOM (which the policy allows), also on
 * content that htmx or a script adds later. */
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    if (target && target.closest("[data-print]")) { e.preventDefault(); window.print(); }
    var select = target && target.closest("input[data-select-on-focus]");
    if (select) select.select();
  });
  document.addEventListener("change", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    if (target && target.matches("select[data-autosubmit]") && target.form) target.form.submit();
  });
  document.addEventListener("submit", function (e) {
    var form = e.target instanceof Element ? e.target.closest("form[data-confirm]") : null;
    if (form && !window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
  }, true);

  var SELECTOR = "[data-css-width],[data-css-background],[data-css-border-color]";
  function paintOne(el) {
    var width = el.getAttribute("data-css-width");
    if (width !== null) { var n = parseFloat(width); el.style.width = (isFinite(n) ? n : 0) + "%"; }
    var bg = el.getAttribute("data-css-background");
    if (bg !== null) el.style.background = bg;
    var border = el.getAttribute("data-css-border-color");
    if (border !== null) el.style.borderColor = border;
  }
  function paint(root) {
    if (!(root instanceof Element || root instanceof Document)) return;
    if (root instanceof Element && root.matches(SELECTOR)) paintOne(root);
    root.querySelectorAll(SELECTOR).forEach(paintOne);
  }
  function start() {
    paint(document);
    new MutationObserver(function (records) {
      records.forEach(function (r) {
        if (r.type === "attributes") paintOne(r.target);
        else r.addedNodes.forEach(paint);
      });
    }).observe(document.documentElement, {
      childList: true, subtree: true, attributes: true,
      attributeFilter: ["data-css-width", "data-css-background", "data-css-border-color"]
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
