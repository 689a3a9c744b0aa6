// Progressive enhancement only: every page works without it.
(function () {
  "use strict";
  // The session form: once the minutes change, the lines shown no longer match; hide "Save" until shown again.
  document.querySelectorAll("form[data-session-form]").forEach(function (form) {
    var save = form.querySelector("[data-save]");
    if (!save) { return; }
    form.addEventListener("input", function (event) {
      if (event.target.name === "minutes" || event.target.name === "estim" || event.target.name === "date") {
        save.disabled = true;
        save.textContent = "Show the lines again before saving";
      }
    });
  });
  // The planner: the book button says how many dates are chosen.
  document.querySelectorAll("ol.strip").forEach(function (strip) {
    var form = strip.closest("form");
    var button = form && form.querySelector("button[type=submit]");
    if (!button) { return; }
    function update() {
      var n = strip.querySelectorAll("input[name=dates]:checked").length;
      button.textContent = "Book the " + n + " chosen date" + (n === 1 ? "" : "s");
      button.disabled = n === 0;
    }
    strip.addEventListener("change", update);
    update();
  });
})();
