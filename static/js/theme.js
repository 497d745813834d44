// Follows the browser's light or dark preference with Bootstrap 5.3's colour modes. Loaded in
// <head> (not deferred) so the page is painted in the right mode at once; a file, because the
// Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  var dark = window.matchMedia("(prefers-color-scheme: dark)");
  function apply() {
    document.documentElement.setAttribute("data-bs-theme", dark.matches ? "dark" : "light");
  }
  apply();
  dark.addEventListener("change", apply);
})();
