import { currentSession, getConfig, mayHaveSession, forgetSession, signIn } from "./api.js";

const form = document.getElementById("signin-form");
const input = document.getElementById("credential");
const errorBox = document.getElementById("signin-error");
const submit = document.getElementById("signin-submit");

const MESSAGES = {
  unauthenticated: "That credential was not recognised. Check it and try again.",
  rate_limited: "Too many attempts. Wait a minute, then try again.",
  validation_error: "Enter your operator credential.",
  network_error: "The server cannot be reached. Check the connection and try again.",
};

async function resume() {
  if (!mayHaveSession()) return;
  try {
    await currentSession();
    window.location.replace("/till");
  } catch {
    forgetSession();
  }
}

async function showMode() {
  try {
    const config = await getConfig();
    if (config.simulator) {
      const note = document.getElementById("mode-note");
      note.textContent = "Demo mode: payments go to the built-in Stripe emulator; no real card is charged.";
      note.hidden = false;
    }
  } catch {
    // The note is a courtesy; sign-in works without it.
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const credential = input.value.trim();
  if (!credential) {
    errorBox.textContent = MESSAGES.validation_error;
    errorBox.hidden = false;
    input.focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = "Signing in…";
  errorBox.hidden = true;
  try {
    await signIn(credential);
    window.location.assign("/till");
  } catch (error) {
    errorBox.textContent = MESSAGES[error.code] || error.message;
    errorBox.hidden = false;
    submit.disabled = false;
    submit.textContent = "Sign in";
    input.select();
  }
});

resume();
showMode();
