/* Civic: small progressive enhancements on top of HTMX. Every page works without this file. */
(function () {
  "use strict";
  var seq = 0;
  var lastFocusKey = null;

  // Orders saves of the same question: the newest edit wins even if requests arrive out of order.
  // client_seq is the moment of the edit and client_now the moment of sending, both on this
  // device's clock, so the server can place the edit on its own clock even if this one is wrong.
  document.addEventListener("htmx:configRequest", function (evt) {
    seq = (seq + 1) % 1000;
    var now = String(Date.now() * 1000 + seq);
    evt.detail.parameters["client_seq"] = now;
    evt.detail.parameters["client_now"] = now;
    var elt = evt.detail.elt;
    if (elt && elt.dataset && elt.dataset.focusKey) { lastFocusKey = elt.dataset.focusKey; }
  });

  // After a ranking move, keep keyboard focus on the moved image's button so a keyboard or
  // screen-reader user can keep moving it, and tell them where it went.
  // afterSettle, not afterSwap: htmx restores focus during the settle step, and moving focus
  // before that lost the race now and then.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var list = document.getElementById("ranking-list");
    if (!list || !lastFocusKey) { return; }
    var btn = list.querySelector('[data-focus-key="' + CSS.escape(lastFocusKey) + '"]');
    if (btn && btn.disabled) {
      // Moved to an end: its button for that direction is now off; focus another of its buttons.
      var direction = lastFocusKey.split(":")[0];
      var code = lastFocusKey.split(":").slice(1).join(":");
      var back = (direction === "up" || direction === "top") ? "down:" : "up:";
      var row = list.querySelector('.rank-item[data-code="' + CSS.escape(code) + '"]');
      btn = row && (row.querySelector('[data-focus-key="' + back + CSS.escape(code) + '"]:not([disabled])') ||
                    row.querySelector(".rank-buttons button:not([disabled])"));
    }
    if (btn) { btn.focus(); }
    var item = btn && btn.closest(".rank-item");
    var status = document.getElementById("rank-status");
    if (item && status) {
      var label = item.querySelector(".rank-label");
      status.textContent = label ? label.textContent : "";
    }
    lastFocusKey = null;
  });

  // Drag and drop for pointer users; the Up/Down buttons remain the accessible path.
  var dragged = null;
  document.addEventListener("dragstart", function (evt) {
    var item = evt.target.closest && evt.target.closest(".rank-item");
    if (!item) { return; }
    dragged = item;
    evt.dataTransfer.effectAllowed = "move";
    evt.dataTransfer.setData("text/plain", item.dataset.code);
  });
  document.addEventListener("dragover", function (evt) {
    if (dragged && evt.target.closest && evt.target.closest(".rank-item")) { evt.preventDefault(); }
  });
  document.addEventListener("drop", function (evt) {
    var target = evt.target.closest && evt.target.closest(".rank-item");
    if (!dragged || !target || target === dragged) { return; }
    evt.preventDefault();
    var list = target.parentNode;
    var items = Array.prototype.slice.call(list.children);
    if (items.indexOf(dragged) < items.indexOf(target)) { list.insertBefore(dragged, target.nextSibling); }
    else { list.insertBefore(dragged, target); }
    var order = Array.prototype.map.call(list.children, function (li) { return li.dataset.code; }).join(",");
    var container = document.getElementById("ranking-list");
    container.querySelector('input[name="order"]').value = order;
    lastFocusKey = "up:" + dragged.dataset.code;
    htmx.ajax("POST", window.location.pathname, {target: "#ranking-list", swap: "outerHTML", values: {order: order}});
    dragged = null;
  });

  // A double-clicked "Finish and send" would post twice; the server records one completion either
  // way, but on SQLite the racing second request can fail on a locked database and show an error
  // page. Send the form once; a page restored from the back/forward cache can send it again.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!form.classList || !form.classList.contains("finish-form")) { return; }
    if (form.dataset.submitted) { evt.preventDefault(); return; }
    form.dataset.submitted = "true";
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form.finish-form[data-submitted]").forEach(function (form) {
      delete form.dataset.submitted;
    });
  });

  // Live count of priority tokens.
  document.addEventListener("input", function (evt) {
    var form = evt.target.closest && evt.target.closest("form.tokens");
    if (!form) { return; }
    var total = parseInt(form.dataset.total, 10);
    var given = 0;
    form.querySelectorAll('input[type="number"]').forEach(function (input) { given += parseInt(input.value, 10) || 0; });
    var out = document.getElementById("tokens-left");
    if (out && out.dataset.template) {
      out.textContent = out.dataset.template.replace("{given}", given).replace("{total}", total);
    }
  });

  // Offline: an answer whose request never reached the server waits in this browser's storage
  // and is sent again when the connection returns. Replays are safe: the server keeps one row
  // per question and the highest client_seq, so an old replay never overwrites a newer answer.
  // Only a resident's answers are kept (the autosave and ranking requests of the survey), each
  // tagged with the participant signed in; a page signed in as anyone else (another resident,
  // staff, nobody) drops them unsent, so one person's answers are never saved as another's.
  var QUEUE_KEY = "civic-pending-answers";
  var ANSWER_PATH = /^\/survey\/(answer|rank\/[^/]+)\/$/;
  function resident() { return document.body.dataset.resident || ""; }
  function loadQueue() {
    try {
      var queue = JSON.parse(window.localStorage.getItem(QUEUE_KEY) || "[]");
      return Array.isArray(queue) ? queue : [];
    } catch (e) { return []; }
  }
  function saveQueue(queue) {
    try {
      if (queue.length) { window.localStorage.setItem(QUEUE_KEY, JSON.stringify(queue)); }
      else { window.localStorage.removeItem(QUEUE_KEY); }
    } catch (e) { /* storage full or off */ }
  }
  function ownQueue() {
    // Whatever belongs to someone else, or is not an answer, leaves this device unsent.
    var me = resident();
    var all = loadQueue();
    var mine = all.filter(function (item) {
      return me && item && item.resident === me && ANSWER_PATH.test(item.path || "");
    });
    if (mine.length !== all.length) { saveQueue(mine); }
    return mine;
  }
  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (e) { return ""; }
  }
  function say(target, key) {
    var text = document.body.dataset[key];
    if (target && text) { target.textContent = text; }
  }
  document.addEventListener("htmx:sendError", function (evt) {
    var cfg = evt.detail.requestConfig;
    if (!cfg || cfg.verb !== "post" || !cfg.formData || !resident() || !ANSWER_PATH.test(cfg.path)) { return; }
    var queue = ownQueue();
    var pairs = Array.from(cfg.formData.entries()).filter(function (pair) { return pair[0] !== "client_now"; });
    queue.push({path: cfg.path, resident: resident(), pairs: pairs});
    saveQueue(queue);
    say(evt.detail.target, "offlineMessage");
  });
  var flushing = false;
  function flush() {
    var queue = ownQueue();
    if (flushing || !queue.length || navigator.onLine === false) { return; }
    flushing = true;
    var item = queue[0];
    var body = new URLSearchParams(item.pairs);
    body.set("client_now", String(Date.now() * 1000));
    window.fetch(item.path, {
      method: "POST", credentials: "same-origin",
      headers: {"X-CSRFToken": csrfToken(), "HX-Request": "true"},
      body: body
    }).then(function (response) {
      flushing = false;
      if (response.status >= 500) { return; }  // the server is struggling: keep it, try later
      // Saved, or refused for good (bad input, closed study): either way it leaves the queue.
      var rest = ownQueue().slice(1);
      saveQueue(rest);
      if (!rest.length) {
        document.querySelectorAll(".save-status").forEach(function (el) { say(el, "syncedMessage"); });
      }
      flush();
    }).catch(function () { flushing = false; });
  }
  window.addEventListener("online", flush);
  document.addEventListener("DOMContentLoaded", flush);
  window.setInterval(flush, 10000);
})();
