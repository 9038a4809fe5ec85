// Asks before a form with data-confirm is sent. A file, not an onsubmit attribute: the pages'
// Content-Security-Policy allows no inline script.
document.addEventListener("submit", function (event) {
  var text = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (text && !window.confirm(text)) {
    event.preventDefault();
  }
}, true);
