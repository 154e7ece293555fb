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
  keepNotes(form);
});

// A note typed into a form sent after the session ended is not saved (the sign-in page
// says so, data-not-saved), and a teacher had to type it again. What a form sends in its
// text boxes is kept in this tab (sessionStorage, never sent anywhere) until the next
// page: if that is the sign-in page saying it was not saved, it waits there and goes
// back into the same form once the same person is signed in again; any other page
// forgets it.
const KEPT_NOTES = "ews-unsaved-notes";

function keepNotes(form) {
  const user = document.body.dataset.user;
  const boxes = [...form.querySelectorAll("textarea[name]")].filter((box) => box.value.trim());
  if (!user || !boxes.length) return; // the sign-in form among them
  const texts = Object.fromEntries(boxes.map((box) => [box.name, box.value]));
  const kept = { user, action: form.getAttribute("action"), texts, notSaved: false };
  sessionStorage.setItem(KEPT_NOTES, JSON.stringify(kept));
}

function putNotesBack() {
  const kept = JSON.parse(sessionStorage.getItem(KEPT_NOTES) || "null");
  if (!kept) return;
  if (document.querySelector("[data-not-saved]")) {
    sessionStorage.setItem(KEPT_NOTES, JSON.stringify({ ...kept, notSaved: true }));
    return;
  }
  if (document.querySelector("form[action='/login']")) return; // a password mistyped
  sessionStorage.removeItem(KEPT_NOTES);
  if (!kept.notSaved || kept.user !== document.body.dataset.user) return;
  for (const form of document.querySelectorAll("form[action]")) {
    if (form.getAttribute("action") !== kept.action) continue;
    for (const [name, text] of Object.entries(kept.texts)) {
      const box = form.querySelector(`textarea[name="${CSS.escape(name)}"]`);
      if (box && !box.value) box.value = text;
    }
  }
}

putNotesBack();

// Back to a page kept by the browser: its forms may be sent again.
window.addEventListener("pageshow", () => {
  for (const form of document.querySelectorAll("form[data-sent-at]")) {
    delete form.dataset.sentAt;
  }
});
