// A PIN pad under every PIN field (input[data-pinpad]): the ten digits in an order shuffled on each page load,
// a key to take the last digit back and one to clear. A click adds its digit to the field; typing still works.
// The shuffled order means that where a pointer clicked tells nothing of the PIN. Without this script the field
// is an ordinary password field.
(function () {
  "use strict";
  function shuffled() {
    var digits = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    var random = new Uint32Array(digits.length);
    window.crypto.getRandomValues(random);
    for (var i = digits.length - 1; i > 0; i--) {
      var j = random[i] % (i + 1);
      var t = digits[i]; digits[i] = digits[j]; digits[j] = t;
    }
    return digits;
  }

  function key(label, name, action) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "key";
    button.textContent = label;
    button.setAttribute("aria-label", name);
    button.addEventListener("click", action);
    return button;
  }

  document.querySelectorAll("input[data-pinpad]").forEach(function (input) {
    if (!window.crypto || !window.crypto.getRandomValues) return;
    var pad = document.createElement("div");
    pad.className = "pinpad";
    pad.setAttribute("role", "group");
    pad.setAttribute("aria-label", input.getAttribute("data-pinpad"));
    var max = parseInt(input.getAttribute("maxlength") || "12", 10);
    shuffled().forEach(function (digit) {
      pad.appendChild(key(digit, digit, function () {
        if (input.value.length < max) input.value += digit;
        input.dispatchEvent(new Event("input", { bubbles: true }));
      }));
    });
    pad.appendChild(key("⌫", input.getAttribute("data-pinpad-back") || "⌫", function () {
      input.value = input.value.slice(0, -1);
    }));
    pad.appendChild(key("×", input.getAttribute("data-pinpad-clear") || "×", function () {
      input.value = "";
    }));
    input.insertAdjacentElement("afterend", pad);
  });
})();
