// Progressive enhancement of the verification form: drop a file anywhere on the form, or pick one, and the
// result replaces the result section without a page load. Without this script the form posts as usual.
(function () {
  "use strict";
  var form = document.getElementById("verify-form");
  var input = document.getElementById("file");
  var result = document.getElementById("result");
  if (!form || !input || !result || !window.fetch || !window.FormData) return;

  function send(file) {
    var body = new FormData();
    body.append("file", file, file.name);
    result.innerHTML = "";
    var working = document.createElement("p");
    working.className = "working";
    working.textContent = form.dataset.working;
    result.appendChild(working);
    result.setAttribute("aria-busy", "true");
    fetch(form.action + "?partial=1", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) { result.innerHTML = html; })
      .catch(function () { working.textContent = form.dataset.failed; })
      .then(function () {
        result.removeAttribute("aria-busy");
        var verdict = result.querySelector("[data-verdict], [data-error]");
        if (verdict) verdict.setAttribute("tabindex", "-1"), verdict.focus();
      });
  }

  form.addEventListener("submit", function (event) {
    if (input.files && input.files.length) { event.preventDefault(); send(input.files[0]); }
  });
  input.addEventListener("change", function () { if (input.files && input.files.length) send(input.files[0]); });
  ["dragenter", "dragover"].forEach(function (name) {
    form.addEventListener(name, function (event) { event.preventDefault(); form.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    form.addEventListener(name, function () { form.classList.remove("over"); });
  });
  form.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) send(files[0]);
  });
})();
