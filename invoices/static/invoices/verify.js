// The verification page (发票查验): shows the fields of the kind of document chosen, with that
// kind's labels, and chooses the kind from the number as soon as its length says it (8 digits:
// VAT e-invoice, 10: fiscal e-bill, 20: 数电 invoice). Without this script every field shows and
// the server reads the kind from the number the same way.
(function () {
  "use strict";
  var form = document.getElementById("verify-form");
  if (!form) { return; }
  var radios = form.querySelectorAll("input[data-verify-kind]");
  var number = form.querySelector("input[data-verify-number]");
  var byLength = {8: "vat_e_invoice", 10: "fiscal_e_bill", 20: "digital_e_invoice"};

  function chosen() {
    for (var i = 0; i < radios.length; i++) { if (radios[i].checked) { return radios[i].value; } }
    return "";
  }

  function show(kind) {
    form.querySelectorAll("input[data-kinds]").forEach(function (input) {
      var field = input.closest(".field");
      var used = !kind || input.getAttribute("data-kinds").split(" ").indexOf(kind) >= 0;
      if (field) { field.hidden = !used; }
      var label = input.getAttribute("data-label-" + kind);
      var labelEl = form.querySelector("label[for='" + input.id + "']");
      if (label && labelEl) { labelEl.textContent = label; }
      var placeholder = input.getAttribute("data-placeholder-" + kind);
      if (placeholder) { input.setAttribute("placeholder", placeholder); }
    });
  }

  function choose(kind) {
    for (var i = 0; i < radios.length; i++) { radios[i].checked = radios[i].value === kind; }
    show(kind);
  }

  function fromNumber(final) {
    var digits = number.value.trim();
    if (!/^[0-9]+$/.test(digits)) { return; }
    var kind = byLength[digits.length];
    // While typing, only the 20 digits of a 数电 number are sure (8 and 10 are on the way to 20).
    if (kind && (final || digits.length === 20) && kind !== chosen()) { choose(kind); }
  }

  radios.forEach(function (radio) { radio.addEventListener("change", function () { show(chosen()); }); });
  if (number) {
    number.addEventListener("input", function () { fromNumber(false); });
    number.addEventListener("change", function () { fromNumber(true); });
  }
  show(chosen());
})();
