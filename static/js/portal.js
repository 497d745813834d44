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
