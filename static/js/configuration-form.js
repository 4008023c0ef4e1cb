// Progressive enhancement for the configuration form: without JavaScript every
// field stays visible and the form works the same.
(function () {
  "use strict";
  const form = document.querySelector(".config-form");
  if (!form) return;

  function currentValue(name) {
    const inputs = form.querySelectorAll(`[name="${name}"]`);
    for (const input of inputs) {
      if (input.type === "radio") { if (input.checked) return input.value; continue; }
      if (input.type === "checkbox") return input.checked ? "on" : "";
      return input.value;
    }
    return "";
  }

  // Shown only while saving would remove stored credentials; without JavaScript the
  // server-rendered note says the same in advance.
  const credentialsWarning = document.querySelector("#credentials-warning p");

  function refresh() {
    for (const el of form.querySelectorAll("[data-show-when]")) {
      const conditions = el.dataset.showWhen.split(" ").map((c) => c.split("="));
      el.hidden = !conditions.every(([name, value]) => currentValue(name) === value);
    }
    if (credentialsWarning) {
      const signIn = credentialsWarning.parentElement.dataset.signIn;
      const removing = currentValue("engine") !== "smtp" || currentValue("smtp_requires_auth") !== "on"
        || currentValue("smtp_sign_in") !== signIn;
      credentialsWarning.textContent = credentialsWarning.dataset.removing;
      credentialsWarning.hidden = !removing;
    }
  }

  for (const el of form.querySelectorAll("[data-enhanced-only]")) el.hidden = false;
  for (const el of form.querySelectorAll(".delete-box")) el.hidden = true;
  form.addEventListener("change", refresh);

  const presets = JSON.parse(document.getElementById("presets-data").textContent);
  const presetSelect = document.getElementById("preset");
  presetSelect.addEventListener("change", () => {
    const preset = presets.find((p) => p.key === presetSelect.value);
    if (!preset) return;
    form.querySelector("#id_smtp_host").value = preset.host;
    form.querySelector("#id_smtp_port").value = preset.port;
    form.querySelector("#id_smtp_security").value = preset.security;
    form.querySelector("#id_smtp_requires_auth").checked = preset.requires_auth;
    const signIn = form.querySelector(`[name="smtp_sign_in"][value="${preset.sign_in}"]`);
    if (signIn) signIn.checked = true;
    document.getElementById("preset_hint").textContent = preset.username_hint
      ? `Username: ${preset.username_hint}.` : "";
    refresh();
  });

  const rows = document.getElementById("recipient-rows");
  const total = form.querySelector("#id_recipients-TOTAL_FORMS");
  const template = document.getElementById("recipient-row-template");
  document.getElementById("add-recipient").addEventListener("click", () => {
    const index = Number(total.value);
    const html = template.innerHTML.replaceAll("__prefix__", String(index));
    rows.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    const row = rows.lastElementChild;
    row.querySelector(".delete-box").hidden = true;
    row.querySelector(".remove-recipient").hidden = false;
    row.querySelector("input[type=email]").focus();
  });
  rows.addEventListener("click", (event) => {
    const button = event.target.closest(".remove-recipient");
    if (!button) return;
    const row = button.closest("tr");
    row.querySelector("input[type=checkbox]").checked = true;
    row.hidden = true;
    document.getElementById("add-recipient").focus();
  });

  refresh();
})();
