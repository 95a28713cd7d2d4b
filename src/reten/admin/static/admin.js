// The panel's own behaviour. Everything works without this file; it only makes things nicer.
// No inline handlers anywhere (the CSP forbids them): behaviour is bound here by data attributes.
"use strict";

function bind(root) {
  // Copy buttons: <button data-copy-target="#id"> copies that input's value.
  root.querySelectorAll("[data-copy-target]").forEach(function (button) {
    if (button.dataset.bound) return;
    button.dataset.bound = "1";
    button.hidden = false;
    button.addEventListener("click", function () {
      var input = document.querySelector(button.dataset.copyTarget);
      if (!input) return;
      input.select();
      var done = function () {
        button.textContent = "Copied";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          document.execCommand("copy");
          done();
        });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });
  // Selects that submit their form on change (the tenant switcher).
  root.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    if (select.dataset.bound) return;
    select.dataset.bound = "1";
    select.addEventListener("change", function () {
      select.form.requestSubmit();
    });
  });
}

document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  bind(document);
});
// Fragments swapped in by htmx get the same behaviour.
document.addEventListener("htmx:load", function (event) {
  bind(event.target);
});
