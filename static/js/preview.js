// Choosing another template clears the sample data, so the server fills in that
// template's own. Without JavaScript, clear the box by hand.
(function () {
  "use strict";
  const template = document.getElementById("id_template");
  const sample = document.getElementById("id_sample_data");
  if (!template || !sample) return;
  template.addEventListener("change", () => { sample.value = ""; });
})();
