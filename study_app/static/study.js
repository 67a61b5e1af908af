// The trial loop of the perceptual study. The server holds all state; this page
// fetches the current trial, shows both images for the exposure time locked to
// display frames (requestAnimationFrame), logs the exposure it measured, and
// posts the answer. A reload simply starts again at the server's current trial.
(function () {
  "use strict";
  const task = document.getElementById("task");
  const stage = document.getElementById("stage");
  const sides = { left: document.getElementById("left"), right: document.getElementById("right") };
  const images = { left: document.getElementById("left-img"), right: document.getElementById("right-img") };
  const progress = document.getElementById("progress");
  const feedback = document.getElementById("feedback");
  const continueButton = document.getElementById("continue");
  const errorBox = document.getElementById("error");
  const FIXATION_MS = 500;
  const RETRIES = 5;

  let state = "loading"; // loading | presenting | answering | sending | feedback
  let trial = null;
  let measured = null; // {exposure_ms, exposure_frames, frame_ms}
  let hiddenAt = 0;
  let continueResolve = null;

  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));

  async function frameInterval() {
    // Median of 9 frame-to-frame intervals: the display's refresh period.
    let previous = await nextFrame();
    const deltas = [];
    for (let i = 0; i < 9; i++) {
      const t = await nextFrame();
      deltas.push(t - previous);
      previous = t;
    }
    deltas.sort((a, b) => a - b);
    return deltas[4];
  }

  async function fetchRetrying(url, options) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetch(url, Object.assign({ cache: "no-store", credentials: "same-origin" }, options));
      } catch (err) {
        if (attempt >= RETRIES) throw err;
        await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
      }
    }
  }

  async function loadImage(img, url) {
    const response = await fetchRetrying(url);
    if (!response.ok) throw new Error("image " + response.status);
    const objectUrl = URL.createObjectURL(await response.blob());
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = objectUrl;
    await img.decode(); // decoded before the exposure starts, so none of it is spent loading
  }

  function setAnswering(on) {
    sides.left.disabled = sides.right.disabled = !on;
    task.classList.toggle("answering", on);
  }

  async function present() {
    state = "presenting";
    stage.classList.add("hidden-stimuli");
    const frame = await frameInterval();
    let t = await nextFrame();
    const fixationStart = t;
    while (t - fixationStart < FIXATION_MS - frame / 2) t = await nextFrame();
    // A change made in a frame callback is painted in that frame: `t` is its start.
    stage.classList.remove("hidden-stimuli");
    const on = t;
    let frames = 0;
    do {
      t = await nextFrame();
      frames++;
    } while (t - on < trial.exposure_ms - frame / 2);
    stage.classList.add("hidden-stimuli");
    measured = { exposure_ms: t - on, exposure_frames: frames, frame_ms: frame };
    hiddenAt = performance.now();
    state = "answering";
    setAnswering(true);
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  async function run() {
    state = "loading";
    setAnswering(false);
    feedback.textContent = "";
    feedback.className = "";
    const response = await fetchRetrying(task.dataset.trialUrl);
    if (!response.ok) {
      showError("This session cannot continue (" + response.status + "). Reload the page to try again.");
      return;
    }
    trial = await response.json();
    if (trial.done) {
      window.location.assign(task.dataset.doneUrl);
      return;
    }
    progress.textContent = trial.practice
      ? "Practice trial " + (trial.index + 1) + " of " + trial.n_practice
      : "Trial " + (trial.index - trial.n_practice + 1) + " of " + (trial.n_trials - trial.n_practice);
    await Promise.all([loadImage(images.left, trial.left), loadImage(images.right, trial.right)]);
    await present();
  }

  function waitForContinue() {
    continueButton.hidden = false;
    continueButton.focus();
    return new Promise((resolve) => { continueResolve = resolve; });
  }

  async function answer(choice) {
    if (state !== "answering") return;
    state = "sending";
    setAnswering(false);
    const body = Object.assign({ index: trial.index, choice: choice, reaction_ms: performance.now() - hiddenAt }, measured);
    const response = await fetchRetrying(task.dataset.answerUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": task.dataset.csrf },
      body: JSON.stringify(body),
    });
    if (response.status === 409) {
      // Stored already (a retried request whose first reply was lost): move on.
      return run();
    }
    if (!response.ok) {
      showError("Your answer could not be saved (" + response.status + "). Reload the page to continue.");
      return;
    }
    const result = await response.json();
    if (result.feedback) {
      state = "feedback";
      const right = result.feedback.correct;
      feedback.className = right ? "right" : "wrong";
      feedback.textContent = (right ? "Correct! " : "Wrong. ") + "The fake was on the " + result.feedback.fake + ".";
      await waitForContinue();
    }
    if (result.done) window.location.assign(task.dataset.doneUrl);
    else run();
  }

  function onContinue() {
    if (state !== "feedback" || !continueResolve) return;
    continueButton.hidden = true;
    const resolve = continueResolve;
    continueResolve = null;
    resolve();
  }

  sides.left.addEventListener("click", () => answer("left"));
  sides.right.addEventListener("click", () => answer("right"));
  continueButton.addEventListener("click", onContinue);
  document.addEventListener("keydown", (event) => {
    if (event.repeat) return;
    const key = event.key.toLowerCase();
    if (key === "f" || key === "arrowleft") answer("left");
    else if (key === "j" || key === "arrowright") answer("right");
    else if ((key === "enter" || key === " ") && state === "feedback") {
      event.preventDefault();
      onContinue();
    }
  });
  run().catch((err) => showError("Something went wrong (" + err.message + "). Reload the page to continue."));
})();
