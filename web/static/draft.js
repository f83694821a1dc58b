// Progressive enhancement of the drafting form: a moment after typing stops, the form is posted to
// /drafts/preview and the pages it answers (or what keeps the draft from being a document) replace the
// preview. Answers to older posts are dropped. Without this script the form's preview button does the same
// on the whole page.
(function () {
  "use strict";
  var form = document.getElementById("draft-form");
  var slot = document.getElementById("draft-preview");
  if (!form || !slot || !window.fetch || !window.FormData) return;
  var timer = null;
  var generation = 0;

  function refresh() {
    var mine = ++generation;
    var body = new FormData(form);
    body.delete("action");
    slot.setAttribute("aria-busy", "true");
    fetch("/drafts/preview", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        if (mine !== generation) return;
        slot.innerHTML = html;
        slot.setAttribute("data-generation", String(mine));
      })
      .catch(function () {})
      .then(function () { if (mine === generation) slot.removeAttribute("aria-busy"); });
  }

  function later() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(refresh, 700);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  if (form.querySelector("#title").value && form.querySelector("#body").value) refresh();
})();
