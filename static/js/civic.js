/* Civic: small progressive enhancements on top of HTMX. Every page works without this file. */
(function () {
  "use strict";
  var seq = 0;
  var lastFocusKey = null;

  // Orders saves of the same question: the newest edit wins even if requests arrive out of order.
  document.addEventListener("htmx:configRequest", function (evt) {
    seq = (seq + 1) % 1000;
    evt.detail.parameters["client_seq"] = String(Date.now() * 1000 + seq);
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
      var code = lastFocusKey.split(":").slice(1).join(":");
      btn = list.querySelector('[data-focus-key="' + (lastFocusKey.indexOf("up:") === 0 ? "down:" : "up:") + CSS.escape(code) + '"]');
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
  var QUEUE_KEY = "civic-pending-answers";
  function loadQueue() {
    try { return JSON.parse(window.localStorage.getItem(QUEUE_KEY) || "[]"); } catch (e) { return []; }
  }
  function saveQueue(queue) {
    try { window.localStorage.setItem(QUEUE_KEY, JSON.stringify(queue)); } catch (e) { /* storage full or off */ }
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
    if (!cfg || cfg.verb !== "post" || !cfg.formData) { return; }
    var queue = loadQueue();
    queue.push({path: cfg.path, pairs: Array.from(cfg.formData.entries())});
    saveQueue(queue);
    say(evt.detail.target, "offlineMessage");
  });
  var flushing = false;
  function flush() {
    var queue = loadQueue();
    if (flushing || !queue.length || navigator.onLine === false) { return; }
    flushing = true;
    var item = queue[0];
    window.fetch(item.path, {
      method: "POST", credentials: "same-origin",
      headers: {"X-CSRFToken": csrfToken(), "HX-Request": "true"},
      body: new URLSearchParams(item.pairs)
    }).then(function (response) {
      flushing = false;
      if (response.status >= 500) { return; }  // the server is struggling: keep it, try later
      // Saved, or refused for good (bad input, closed study): either way it leaves the queue.
      var rest = loadQueue().slice(1);
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
