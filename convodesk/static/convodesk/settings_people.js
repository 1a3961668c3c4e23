/* Settings › API tokens: [data-copy-target] copies the value of the element it names. */
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var button = e.target instanceof Element ? e.target.closest("[data-copy-target]") : null;
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) return;
    var done = function () {
      var label = button.getAttribute("data-copied-label");
      if (label) button.textContent = label;
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done, function () { source.select(); });
    } else {
      source.select();
      try { document.execCommand("copy"); done(); } catch (err) { /* selected for a manual copy */ }
    }
  });
})();
