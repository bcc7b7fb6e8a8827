/* Overlays page: copy an overlay URL. */
(function () {
  "use strict";
  document.querySelectorAll(".copy-url").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var out = btn.parentNode.querySelector(".copied");
      var input = btn.parentNode.querySelector(".overlay-url");
      function done(ok) { out.textContent = ok ? "Copied" : "Select the URL and copy it (Ctrl+C)"; }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(btn.dataset.url).then(function () { done(true); }, function () { input.select(); done(false); });
      } else {
        input.select();
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        done(ok);
      }
    });
  });
})();
