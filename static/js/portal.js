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

// The customer picker of a large partner (subscriptions/filters.py CustomerPicker, on the
// subscriptions list): typing loads options (htmx) and is a name search only on Enter or Apply; choosing an option puts
// its tenant id into the hidden "customer" input and refreshes the list.
(function () {
  var picker = document.querySelector("[data-customer-picker]");
  if (!picker) return;
  var text = picker.querySelector('input[type="search"]');
  var hidden = picker.querySelector('input[type="hidden"]');
  var options = picker.querySelector("[data-customer-options]");
  var textName = text.name;
  function close() { options.innerHTML = ""; }
  // Leaving the text field is not a filter change: the form would search by a half-typed name.
  text.addEventListener("change", function (event) { event.stopPropagation(); });
  text.addEventListener("input", function () { hidden.value = ""; text.name = textName; });
  text.addEventListener("keydown", function (event) { if (event.key === "Escape" || event.key === "Enter") close(); });
  options.addEventListener("click", function (event) {
    var option = event.target.closest("[data-tenant-id]");
    if (!option) return;
    hidden.value = option.dataset.tenantId;
    text.value = option.dataset.name;
    // The chosen tenant filters; its name in the address would only repeat it.
    text.removeAttribute("name");
    close();
    hidden.dispatchEvent(new Event("change", { bubbles: true }));
  });
  document.addEventListener("click", function (event) { if (!picker.contains(event.target)) close(); });
})();

// Small behaviours the templates ask for with data attributes (the Content-Security-Policy
// allows no inline script or event handler):
//   data-autosubmit        on a form field: a change submits its form
//   data-confirm="…"       on a form: submitting asks first
//   data-disable-on-submit on a form: its submit button is disabled once sent (no double order)
//   data-select-on-focus   on an input: focusing selects its text (a token to copy)
document.addEventListener("change", function (event) {
  if (event.target.matches && event.target.matches("[data-autosubmit]") && event.target.form) {
    event.target.form.submit();
  }
});
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset.confirm !== undefined && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (form.dataset.disableOnSubmit !== undefined) {
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
  }
});
document.addEventListener("focusin", function (event) {
  if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
});

// Progress bars carry their width as data-progress (a style attribute would need
// 'unsafe-inline'); set it on load and whenever htmx swaps a fresh bar in.
htmx.onLoad(function (root) {
  var bars = root.querySelectorAll ? root.querySelectorAll("[data-progress]") : [];
  if (root.matches && root.matches("[data-progress]")) bars = [root].concat(Array.prototype.slice.call(bars));
  Array.prototype.forEach.call(bars, function (bar) {
    bar.style.width = Math.max(0, Math.min(100, Number(bar.dataset.progress) || 0)) + "%";
  });
});
