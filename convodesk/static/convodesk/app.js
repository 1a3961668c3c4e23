/* Behaviour every page shares, bound here instead of inline handlers (the Content-Security-Policy
 * allows no inline script): [data-print] prints, select[data-autosubmit] submits its form on
 * change, form[data-confirm] asks before submitting, input[data-select-on-focus] selects itself. */
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
})();
