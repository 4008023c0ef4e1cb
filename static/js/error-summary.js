// After a failed submit, focus goes to the summary of errors, so keyboard and screen
// reader users start there; its links focus the field they name (a #link only scrolls).
(function () {
  "use strict";
  const summary = document.querySelector("[data-error-summary]");
  if (!summary) return;
  summary.focus();
  summary.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    const field = link && document.getElementById(link.hash.slice(1));
    if (!field) return;
    event.preventDefault();
    (field.closest(".field, td") || field).scrollIntoView();
    field.focus({ preventScroll: true });
  });
})();
