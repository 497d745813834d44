// Opens the shared flyout whenever htmx fills it, and keeps its title in step with the
// fragment (a fragment may carry data-flyout-title on its first element).
document.addEventListener("htmx:afterSwap", function (event) {
  var body = document.getElementById("flyout-body");
  if (event.detail.target !== body) return;
  var first = body.firstElementChild;
  var title = first && first.dataset ? first.dataset.flyoutTitle : null;
  if (title) document.getElementById("flyout-title").textContent = title;
  bootstrap.Offcanvas.getOrCreateInstance(document.getElementById("flyout")).show();
});

// A fragment can ask to close the flyout (e.g. after a successful change).
document.body && document.body.addEventListener("close-flyout", function () {
  var flyout = bootstrap.Offcanvas.getInstance(document.getElementById("flyout"));
  if (flyout) flyout.hide();
});

// htmx does not swap 4xx answers, and django-htmx's debug handler shows them as a page. A
// refusal the server answers with HX-Retarget (a 400 or 409 with the reason, aimed at the
// flyout or the form) is meant to be read in place: let exactly those through.
(function () {
  function isRetargetedRefusal(event) {
    var xhr = event.detail && event.detail.xhr;
    return xhr && xhr.status >= 400 && xhr.status < 500 && !!xhr.getResponseHeader("HX-Retarget");
  }
  // Capture on window runs before document-level handlers (django-htmx's debug page swap).
  window.addEventListener("htmx:beforeOnLoad", function (event) {
    if (isRetargetedRefusal(event)) event.stopPropagation();
  }, true);
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (isRetargetedRefusal(event)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
