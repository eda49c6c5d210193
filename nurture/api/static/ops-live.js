// /ops: the figures update in place every data-live-s seconds from GET /ops/live (the same
// markup the page was rendered with), never reloading the page. "Pause updates" stops them.
// The status line (a polite live region) speaks only when something that matters changes:
// health, the lists below going out of date, the server unreachable, the session ended;
// never on every update. Served from the package: the page's CSP allows no inline script.
(function () {
  "use strict";
  var root = document.getElementById("live");
  var every = root ? Number(root.getAttribute("data-live-s")) : 0;
  if (!root || !(every > 0) || !window.fetch || !window.DOMParser) {
    return;
  }
  var bar = document.getElementById("live-bar");
  var button = document.getElementById("live-pause");
  var status = document.getElementById("live-status");
  var loaded = root.getAttribute("data-loaded");
  var paused = false;
  var stopped = false;
  var busy = false;
  var ticks = 0;
  var fetches = 0;
  var timer = null;

  function value(key) {
    var card = root.querySelector('[data-figure="' + key + '"]');
    return card ? card.getAttribute("data-value") : "";
  }

  // What the status line should say about the page as it is now.
  function state() {
    var health = root.querySelector("#health");
    var words = health && health.getAttribute("data-healthy") === "false"
      ? "Unhealthy: see the problems below."
      : "Healthy.";
    var lists = [value("failed"), value("unknown"), value("paused")].join(" ");
    return lists === loaded ? words : words + " The failed, unknown or paused deliveries have changed since this page was opened.";
  }

  function show(text, reload) {
    status.textContent = text;
    if (reload) {
      var link = document.createElement("a");
      link.href = window.location.pathname + window.location.search;
      link.textContent = "Reload the page to see the lists as they are now.";
      status.append(" ", link);
    }
  }

  var last = state();

  function settle(now) {
    if (now !== last) {
      last = now;
      show(now, now.indexOf("have changed") >= 0);
    }
  }

  function apply(fresh) {
    fresh.querySelectorAll("[data-live]").forEach(function (part) {
      var old = root.querySelector('[data-live="' + part.getAttribute("data-live") + '"]');
      if (old) {
        old.replaceWith(document.importNode(part, true));
      }
    });
    settle(state());
  }

  function stop(text) {
    stopped = true;
    bar.hidden = true;
    show(text, false);
  }

  function update() {
    if (busy) {
      return Promise.resolve();
    }
    busy = true;
    fetches += 1;
    root.setAttribute("data-live-fetches", String(fetches));
    return fetch(root.getAttribute("data-live-url"), {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        if (response.status === 401) {
          stop("Your session has ended: reload the page to log in again.");
          return null;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text().then(function (html) {
          apply(new DOMParser().parseFromString(html, "text/html"));
        });
      })
      .catch(function () {
        settle("Could not reach nurture: the figures below may be out of date. Trying again.");
      })
      .then(function () {
        busy = false;
      });
  }

  function tick() {
    ticks += 1;
    root.setAttribute("data-live-ticks", String(ticks));
    var run = paused || document.hidden ? Promise.resolve() : update();
    run.then(schedule);
  }

  function schedule() {
    if (!stopped) {
      window.clearTimeout(timer);
      timer = window.setTimeout(tick, every * 1000);
    }
  }

  button.addEventListener("click", function () {
    paused = !paused;
    button.textContent = paused ? "Resume updates" : "Pause updates";
    root.setAttribute("data-live-paused", paused ? "true" : "false");
    show(paused ? "Updates paused." : "Updates resumed.", false);
    if (!paused) {
      last = null; // the next update says again where things stand
      window.clearTimeout(timer);
      tick();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !paused && !stopped) {
      window.clearTimeout(timer);
      tick();
    }
  });
  root.setAttribute("data-live-paused", "false");
  bar.hidden = false;
  schedule();
})();
