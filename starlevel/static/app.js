/* StarLevel: bring the first error of a form into view.
 * After a page load or an htmx swap that shows an error, the first error message is
 * scrolled to the middle of the screen and focused, so that sighted users see it and
 * screen readers read it (the messages are role="alert", i.e. assertive live regions). */
(function () {
  "use strict";
  var ERRORS = ".error, .field-error";

  function visible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  }

  function reveal(root) {
    if (!root || !root.querySelectorAll) return;
    var found = Array.prototype.filter.call(root.querySelectorAll(ERRORS), visible);
    if (root.matches && root.matches(ERRORS) && visible(root)) found.unshift(root);
    if (!found.length) return;
    var first = found[0];
    if (!first.hasAttribute("tabindex")) first.setAttribute("tabindex", "-1");
    first.scrollIntoView({ block: "center" });
    first.focus({ preventScroll: true });
  }

  document.addEventListener("DOMContentLoaded", function () { reveal(document.getElementById("main")); });
  document.addEventListener("htmx:afterSettle", function (event) { reveal(event.detail.elt); });

  /* Content fetched on request (e.g. the older months of the star page) takes the focus
   * from the link that asked for it, which the swap removed; on a full page load the
   * browser's own focus stays where it is. */
  var FOCUS = "[data-focus-after-swap]";
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(FOCUS), function (el) { el.removeAttribute("data-focus-after-swap"); });
  });
  document.addEventListener("htmx:afterSettle", function () {
    var el = document.querySelector(FOCUS);
    if (!el) return;
    el.removeAttribute("data-focus-after-swap");
    if (!el.hasAttribute("tabindex") && !el.matches("summary, a, button, input, select, textarea")) el.setAttribute("tabindex", "-1");
    el.focus();
  });

  /* Comboboxes (input[role=combobox] + the listbox it controls): the arrow keys move
   * through the options (aria-activedescendant, focus stays in the input), Enter picks
   * the active one, Escape closes the list. */
  function listOf(input) { return document.getElementById(input.getAttribute("aria-controls")); }
  function optionsOf(list) { return list ? Array.prototype.slice.call(list.querySelectorAll("[role=option]")) : []; }

  function setActive(input, options, index) {
    options.forEach(function (opt, i) {
      if (!opt.id) opt.id = input.id + "-opt-" + i;
      opt.setAttribute("aria-selected", i === index ? "true" : "false");
      opt.classList.toggle("active", i === index);
    });
    if (index >= 0 && options[index]) {
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  document.addEventListener("htmx:afterSettle", function () {
    Array.prototype.forEach.call(document.querySelectorAll("input[role=combobox]"), function (input) {
      var options = optionsOf(listOf(input));
      input.setAttribute("aria-expanded", options.length ? "true" : "false");
      options.forEach(function (opt) { opt.setAttribute("tabindex", "-1"); });
      setActive(input, options, -1);
    });
  });

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[role=combobox]")) return;
    var list = listOf(input), options = optionsOf(list);
    var current = options.findIndex(function (o) { return o.id && o.id === input.getAttribute("aria-activedescendant"); });
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!options.length) return;
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      setActive(input, options, current < 0 ? (step > 0 ? 0 : options.length - 1) : (current + step + options.length) % options.length);
    } else if (event.key === "Enter" && current >= 0) {
      event.preventDefault();
      options[current].click();
    } else if (event.key === "Escape" && options.length) {
      event.preventDefault();
      list.innerHTML = "";
      input.setAttribute("aria-expanded", "false");
      setActive(input, [], -1);
    }
  });
})();
