// The application page polls its status while issuing runs and reloads when it changes.
// A file of its own, not an inline script: the content security policy forbids inline scripts.
(function () {
  "use strict";
  var el = document.getElementById("progress");
  var text = document.getElementById("status-text");
  if (!el || !el.dataset.url) { return; }
  function poll() {
    fetch(el.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.status !== el.dataset.status) { window.location.reload(); return; }
        text.textContent = s.status_label + "…";
        setTimeout(poll, 1500);
      })
      .catch(function () { setTimeout(poll, 4000); });
  }
  setTimeout(poll, 1000);
})();
