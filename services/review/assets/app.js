// Vigil Review: reveal/hide media, keyboard shortcuts, claim renewal and
// the break reminder. No dependencies; works without it (forms post).
(function () {
  "use strict";
  var $ = function (s) { return document.querySelector(s); };

  // ---- media: blurred and greyscale until revealed ----
  var frame = $("#mediaframe");
  function setReveal(on) {
    if (!frame) return;
    frame.dataset.state = on ? "revealed" : "hidden";
  }
  function toggleReveal() { if (frame) setReveal(frame.dataset.state !== "revealed"); }
  function toggleColour() {
    if (!frame) return;
    frame.dataset.colour = frame.dataset.colour === "on" ? "off" : "on";
  }
  if (frame) {
    $("#reveal").addEventListener("click", function () { setReveal(true); });
    $("#toggle-reveal").addEventListener("click", toggleReveal);
    $("#toggle-colour").addEventListener("click", toggleColour);
    var media = $("#media");
    if (media && media.tagName === "VIDEO") { media.muted = true; }
  }

  // ---- decision form: pick a decision, show only its reasons ----
  var form = $("#decision-form");
  var reason = $("#reason");
  function chooseDecision(value) {
    if (!form) return;
    var input = form.querySelector('input[name="decision"][value="' + value + '"]');
    if (!input) return;
    input.checked = true;
    filterReasons();
  }
  function filterReasons() {
    if (!form || !reason) return;
    var checked = form.querySelector('input[name="decision"]:checked');
    var d = checked ? checked.value : "";
    var groups = reason.querySelectorAll("optgroup");
    var keep = false;
    groups.forEach(function (g) {
      var show = g.dataset.decision === d;
      g.hidden = !show; g.disabled = !show;
      if (show && reason.selectedOptions[0] && reason.selectedOptions[0].parentNode === g) keep = true;
    });
    if (!keep) reason.value = "";
    reason.options[0].textContent = d ? "Choose a reason" : "Choose a decision first";
  }
  function pickReason(n) {
    if (!reason) return;
    var g = reason.querySelector("optgroup:not([hidden])");
    if (!g) return;
    var opts = g.querySelectorAll("option");
    if (opts[n - 1]) reason.value = opts[n - 1].value;
  }
  if (form) {
    form.querySelectorAll('input[name="decision"]').forEach(function (i) {
      i.addEventListener("change", filterReasons);
    });
    filterReasons();
  }

  // ---- keyboard shortcuts ----
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    var typing = t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.tagName === "SELECT");
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && form) { e.preventDefault(); form.requestSubmit(); return; }
    if (e.key === "Escape") { setReveal(false); if (typing) t.blur(); return; }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    var k = e.key.toLowerCase();
    var map = { u: "uphold", o: "overturn", e: "escalate", x: "exempt" };
    if (map[k] && form) { e.preventDefault(); chooseDecision(map[k]); return; }
    if (k >= "1" && k <= "9" && form) { e.preventDefault(); pickReason(parseInt(k, 10)); return; }
    if (k === "r") { e.preventDefault(); toggleReveal(); return; }
    if (k === "c") { e.preventDefault(); toggleColour(); return; }
    if (k === "n") { var b = $("#claim-next"); if (b && !b.disabled) { e.preventDefault(); b.form.requestSubmit(); } }
  });

  // ---- claim lease: countdown, renewed while the reviewer is active ----
  var lease = $("#lease");
  if (lease && lease.dataset.expires) {
    var expires = Date.parse(lease.dataset.expires);
    var active = true;
    ["keydown", "mousemove", "click", "scroll"].forEach(function (ev) {
      document.addEventListener(ev, function () { active = true; }, { passive: true });
    });
    var renew = function () {
      if (!active) return;
      active = false;
      fetch(lease.dataset.renew, { method: "POST", headers: { "x-csrf-token": lease.dataset.csrf }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) { if (j && j.lease_expires_at) expires = Date.parse(j.lease_expires_at); })
        .catch(function () {});
    };
    var tick = function () {
      var left = Math.round((expires - Date.now()) / 1000);
      if (left <= 0) {
        lease.textContent = "Claim expired — the item went back to the queue";
        lease.className = "lease expired";
        return;
      }
      var m = Math.floor(left / 60), s = left % 60;
      lease.textContent = "Claim ends in " + m + ":" + (s < 10 ? "0" : "") + s;
      lease.className = left < 120 ? "lease expiring" : "lease";
    };
    tick();
    setInterval(tick, 1000);
    setInterval(renew, 60000);
  }

  // ---- wellbeing: time on shift and a break reminder ----
  var minutes = parseInt(document.body.dataset.breakMinutes || "50", 10);
  var KEY = "vigil-work-start";
  var start = parseInt(sessionStorage.getItem(KEY) || "0", 10);
  if (!start) { start = Date.now(); sessionStorage.setItem(KEY, String(start)); }
  var banner = $("#break-banner");
  var worktime = $("#worktime");
  var showBreak = function () {
    var snooze = parseInt(sessionStorage.getItem(KEY + "-snooze") || "0", 10);
    var mins = Math.floor((Date.now() - start) / 60000);
    if (worktime) worktime.textContent = mins + " min on shift";
    if (banner) banner.hidden = !(mins >= minutes && Date.now() > snooze);
  };
  if (banner) {
    $("#break-done").addEventListener("click", function () {
      start = Date.now(); sessionStorage.setItem(KEY, String(start)); showBreak();
    });
    $("#break-snooze").addEventListener("click", function () {
      sessionStorage.setItem(KEY + "-snooze", String(Date.now() + 10 * 60000)); showBreak();
    });
  }
  showBreak();
  setInterval(showBreak, 30000);
})();
