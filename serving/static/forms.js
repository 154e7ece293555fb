// A form is sent once per click that means it. The browser shows the answer to the last
// sending, so a double click lost the first's: an account's temporary password, a
// classroom sheet's passwords, "saved" replaced by "this form was sent already". While
// a form's answer is on its way, a second click sends nothing: for up to a minute (an
// upload's confirm answers when the school's files are loaded), after which a click
// sends it again (the sending was stopped, or its answer never came).
// The service holds each write once on its own side too (serving.once); this only keeps
// the first answer on the screen. Without scripts the pages work as before.
const WAIT_MS = 60000;

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
  const sentAt = Number(form.dataset.sentAt || 0);
  if (Date.now() - sentAt < WAIT_MS) {
    event.preventDefault();
    return;
  }
  form.dataset.sentAt = String(Date.now());
});

// Back to a page kept by the browser: its forms may be sent again.
window.addEventListener("pageshow", () => {
  for (const form of document.querySelectorAll("form[data-sent-at]")) {
    delete form.dataset.sentAt;
  }
});
