// The console's call notice: when the switch reports that this agent answered a call, a panel
// with the caller (their accounts, open tickets, last calls, or "unknown caller" with a search)
// and the wrap-up form appears on whatever console page the agent is on, without a reload.
// It polls a small endpoint (admin:support_call_live) and renders what the server sends; a
// file of its own, not an inline script: the content security policy forbids inline scripts.
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.dataset.url;
  if (!url || !window.fetch) { return; }
  var FAST = 600, SLOW = 5000, ERROR = 3000;
  var version = "";
  var keys = {};  // call id -> key of the card shown
  var panel = null;

  function ensurePanel() {
    if (panel) { return panel; }
    panel = document.createElement("aside");
    panel.id = "call-notice";
    panel.className = "call-notice";
    panel.setAttribute("aria-live", "polite");
    panel.setAttribute("aria-label", script.dataset.label || "");
    document.body.appendChild(panel);
    panel.addEventListener("submit", function (event) {
      var next = event.target.querySelector("input[name=next]");
      if (next) { next.value = window.location.pathname + window.location.search; }
    });
    return panel;
  }

  function apply(data) {
    if (data.same) { return; }
    version = data.v || "";
    var seen = {};
    (data.calls || []).forEach(function (item) {
      seen[item.id] = true;
      var root = ensurePanel();
      var card = root.querySelector('[data-call="' + item.id + '"]');
      if (item.html) {
        var holder = document.createElement("div");
        holder.innerHTML = item.html;
        var fresh = holder.firstElementChild;
        if (card) {
          // Keep what the agent typed in the wrap-up form across a re-render.
          card.querySelectorAll("input, select, textarea").forEach(function (old) {
            if (!old.id || old.type === "hidden") { return; }
            var now = fresh.querySelector("#" + CSS.escape(old.id));
            if (now && old.value) { now.value = old.value; }
          });
          root.replaceChild(fresh, card);
        } else {
          root.insertBefore(fresh, root.firstChild);
        }
        card = fresh;
        keys[item.id] = item.key;
      }
      var state = card && card.querySelector("[data-state-of]");
      if (state && state.textContent !== item.state_label) {
        state.textContent = item.state_label;
        state.className = "call-state call-state-" + item.state;
      }
    });
    Object.keys(keys).forEach(function (id) {
      if (!seen[id]) {
        var gone = panel && panel.querySelector('[data-call="' + id + '"]');
        if (gone) { gone.remove(); }
        delete keys[id];
      }
    });
    if (panel) { panel.hidden = !panel.children.length; }
  }

  function poll() {
    var have = Object.keys(keys).map(function (id) { return id + "." + keys[id]; }).join(",");
    var query = "?v=" + encodeURIComponent(version) + "&have=" + encodeURIComponent(have);
    fetch(url + query, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) { apply(data); setTimeout(poll, document.hidden ? SLOW : FAST); })
      .catch(function () { setTimeout(poll, ERROR); });
  }
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", poll);
  } else {
    poll();
  }
})();
