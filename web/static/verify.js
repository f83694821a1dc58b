// Progressive enhancement of the verification form: drop a file on the form, or pick one, and the result
// replaces the result section without a page load. The verdict comes first (/verify?partial=1), then the page
// previews (/verify/pages): the verdict never waits for a picture, and the two do not compete for the server's
// cores (sent together, each slowed the other). The previews' boxes are numbered from the signature blocks'
// field names. Without this script the form posts as usual and the
// server answers the whole page, previews included.
(function () {
  "use strict";
  var form = document.getElementById("verify-form");
  var input = document.getElementById("file");
  var result = document.getElementById("result");
  if (!form || !input || !result || !window.fetch || !window.FormData) return;
  document.documentElement.classList.add("js");
  var generation = 0;

  function post(url, file) {
    var body = new FormData();
    body.append("file", file, file.name);
    return fetch(url, { method: "POST", body: body, credentials: "same-origin" }).then(function (r) {
      // Anything but a page of ours (the upload limit answers JSON before a page could) is a failure.
      if ((r.headers.get("content-type") || "").indexOf("text/html") !== 0) throw new Error(String(r.status));
      return r.text().then(function (text) { return { ok: r.ok, html: text }; });
    });
  }

  function number(slot) {
    slot.querySelectorAll("[data-field-name]").forEach(function (node) {
      var name = node.getAttribute("data-field-name");
      var block = Array.prototype.find.call(result.querySelectorAll("article[data-field-name]"), function (a) {
        return a.getAttribute("data-field-name") === name;
      });
      if (!block) return;
      var index = block.getAttribute("data-signature-index");
      if (node.tagName.toLowerCase() === "text") node.textContent = index;
      else node.setAttribute("data-signature-index", index);
    });
  }

  function send(file) {
    var mine = ++generation;
    result.innerHTML = "";
    var working = document.createElement("p");
    working.className = "working";
    working.textContent = form.dataset.working;
    result.appendChild(working);
    if (file.size > Number(form.dataset.maxBytes)) { working.textContent = form.dataset.tooLarge; return; }
    result.setAttribute("aria-busy", "true");
    post(form.action + "?partial=1", file)
      .then(function (answer) {
        if (mine !== generation) return;
        result.innerHTML = answer.html;
        var verdict = result.querySelector("[data-verdict], [data-error]");
        if (verdict) { verdict.setAttribute("tabindex", "-1"); verdict.focus(); }
        var slot = result.querySelector("#pages");
        if (slot) post("/verify/pages", file).then(function (previews) {
          if (mine !== generation || !previews.ok) return;
          slot.innerHTML = previews.html;
          number(slot);
        }, function () {});
      })
      .catch(function () { if (mine === generation) working.textContent = form.dataset.failed; })
      .then(function () { result.removeAttribute("aria-busy"); });
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
