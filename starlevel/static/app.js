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
})();
