// Filters (verdict checkboxes, rule select, rule links in the summary) and pagination, all local:
// the page works from file:// without a server. Without JS every file is simply shown.
(function () {
  "use strict";
  var PAGE = 50;
  var cards = Array.prototype.slice.call(document.querySelectorAll("article.file"));
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=verdict]"));
  var rule = document.getElementById("rule");
  var pager = document.getElementById("pager");
  var shown = document.getElementById("shown");
  var page = 0;

  function matches(c) {
    var v = c.getAttribute("data-verdict");
    var on = boxes.some(function (b) { return b.checked && b.value === v; });
    var r = rule.value;
    if (on && r) {
      on = (" " + c.getAttribute("data-rules") + " ").indexOf(" " + r + " ") !== -1;
    }
    return on;
  }

  function button(label, target, disabled) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.disabled = disabled;
    b.addEventListener("click", function () { page = target; render(); window.scrollTo(0, 0); });
    return b;
  }

  function render() {
    var hits = cards.filter(matches);
    var pages = Math.max(1, Math.ceil(hits.length / PAGE));
    if (page >= pages) { page = pages - 1; }
    cards.forEach(function (c) { c.hidden = true; });
    hits.slice(page * PAGE, (page + 1) * PAGE).forEach(function (c) { c.hidden = false; });
    shown.textContent = hits.length + " of " + cards.length + " files";
    pager.textContent = "";
    if (pages > 1) {
      pager.appendChild(button("‹ previous", page - 1, page === 0));
      var span = document.createElement("span");
      span.textContent = "page " + (page + 1) + " of " + pages;
      pager.appendChild(span);
      pager.appendChild(button("next ›", page + 1, page + 1 >= pages));
    }
  }

  boxes.forEach(function (b) { b.addEventListener("change", function () { page = 0; render(); }); });
  rule.addEventListener("change", function () { page = 0; render(); });
  Array.prototype.slice.call(document.querySelectorAll("a[data-rule]")).forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      rule.value = a.getAttribute("data-rule");
      page = 0;
      render();
    });
  });
  render();
  document.documentElement.setAttribute("data-ready", "1");
})();
