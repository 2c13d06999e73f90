/* ssomw console: the only script. It makes the template and message editors' preview live:
   while you type, the "Preview" button's own submission (into the preview frame) is repeated.
   Everything works the same without it. Served as a file: the CSP allows no inline script. */
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-live-preview]");
  Array.prototype.forEach.call(forms, function (form) {
    var button = form.querySelector("[data-preview-button]");
    if (!button || typeof form.requestSubmit !== "function") {
      return;
    }
    var timer = null;
    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { form.requestSubmit(button); }, 400);
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  });
}());
