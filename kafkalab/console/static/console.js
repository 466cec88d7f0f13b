// kafkalab console: live fragments over server-sent events, confirmations, the live tail.
// Each SSE message is {target, html, mode}: the element #target gets html (or html on top).
(function () {
  "use strict";
  const state = document.getElementById("live-state");
  function listen(url) {
    const source = new EventSource(url);
    source.onmessage = function (event) {
      const m = JSON.parse(event.data);
      if (m.target === "live-state") { state.textContent = m.html; return; }
      const el = document.getElementById(m.target);
      if (!el) return;
      if (m.mode === "prepend") el.insertAdjacentHTML("afterbegin", m.html);
      else el.innerHTML = m.html;
      state.textContent = "live · " + new Date().toLocaleTimeString();
    };
    source.onerror = function () { state.textContent = "reconnecting…"; };
    window.addEventListener("pagehide", function () { source.close(); });
    return source;
  }
  const live = document.body.dataset.live;
  if (live) listen(live);
  const tail = document.getElementById("tail-button");
  if (tail) {
    let source = null;
    tail.addEventListener("click", function () {
      if (source) { source.close(); source = null; tail.textContent = "live tail"; state.textContent = ""; return; }
      source = listen(tail.dataset.tail);
      tail.textContent = "stop tail";
    });
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
