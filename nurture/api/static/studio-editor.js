// The studio's message editor: the buttons above a message box insert a placeholder (a link,
// the first name, a video) where the cursor is, replacing any selected words; an email link
// keeps the selected words as its text. Without this script the buttons stay hidden and the
// guide lists every placeholder to copy. Leaving with changes not saved asks first.
// Served from the package: no inline script.
(function () {
  "use strict";
  // Leaving the page (another sample, a link) with changes not saved asks first.
  var form = document.getElementById("edit-form");
  if (form) {
    var changed = false;
    form.addEventListener("input", function () {
      changed = true;
    });
    form.addEventListener("submit", function () {
      changed = false;
    });
    window.addEventListener("beforeunload", function (event) {
      if (changed) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }

  var bars = document.querySelectorAll("[data-insert-for]");
  if (!bars.length || !("setRangeText" in document.createElement("textarea"))) {
    return;
  }
  bars.forEach(function (bar) {
    bar.hidden = false;
  });

  function insert(field, text) {
    var start = field.selectionStart;
    var end = field.selectionEnd;
    var chosen = field.value.slice(start, end).trim();
    var link = /^\[[^\]]*\]\(/.exec(text);
    if (link && chosen && chosen.indexOf("\n") < 0) {
      // "[words](url)": the words selected become the link's text.
      text = "[" + chosen + "]" + text.slice(link[0].length - 1);
    }
    field.setRangeText(text, start, end, "end");
    field.focus();
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-insert]") : null;
    if (!button) {
      return;
    }
    var field = document.getElementById(button.getAttribute("data-insert-into"));
    if (field) {
      event.preventDefault();
      insert(field, button.getAttribute("data-insert"));
    }
  });
})();
