// The trial loop of the perceptual study: a small state machine on #task[data-state].
//
//   loading -> presenting -> answering -> sending -> (feedback) -> (practice-done) -> loading ...
//
// The server holds all state. For each trial the page fetches the trial (its schedule
// and a one-time stimulus URL), fetches the stimulus (raw pixels of every slot), decodes
// it off-screen into ImageBitmaps, plays the schedule locked to display frames, painting
// the canvases only during the steps that show them, then clears the canvases and
// releases the bitmaps before the response opens. Nothing is painted outside the
// schedule (practice feedback aside, after the answer is stored). It reports the painted
// duration of every step; a reload starts again at the server's current trial.
// A trial kind or presentation mode is a schedule and a set of slots from the server:
// this loop plays any of them.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const task = $("task");
  const SLOTS = ["left", "right"];
  const canvases = { left: $("left-canvas"), right: $("right-canvas") };
  const buttons = { left: $("left"), right: $("right") };
  const labels = { left: $("left-label"), right: $("right-label") };
  const cue = $("cue");
  const feedbackText = $("feedback");
  const FEEDBACK_MS = Number(task.dataset.feedbackMs);
  const QUIET_RETRY_MS = 5000; // retry this long before telling the rater the server is unreachable
  const MAX_RETRY_WAIT_MS = 3000;
  const FRAME_SAMPLES = 9;

  let state = "loading";
  let trial = null;
  let answerTiming = null; // {painted_ms, frame_ms, load_ms, opened}
  let resume = null; // resolves the Continue button of the current pause

  function setState(name) {
    state = name;
    task.dataset.state = name;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));

  // --- network -------------------------------------------------------------------------
  // No reply at all (or a proxy's 502-504) is retried for ever: quietly at first, then
  // with a notice; the page goes on by itself when the server answers again. Retrying an
  // answer is safe: the server stores each trial's answer once (409 for the repeat).
  async function request(url, options) {
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      let response = null;
      try {
        response = await fetch(url, Object.assign({ cache: "no-store", credentials: "same-origin" }, options));
      } catch (err) {
        response = null;
      }
      if (response && ![502, 503, 504].includes(response.status)) {
        $("offline").hidden = true;
        return response;
      }
      if (performance.now() - started > QUIET_RETRY_MS) $("offline").hidden = false;
      await sleep(Math.min(250 * 2 ** attempt, MAX_RETRY_WAIT_MS));
    }
  }

  class StaleStimulus extends Error {}

  // The stimulus: the slots' raw RGB pixels back to back, decoded off-screen.
  async function loadStimulus(stimulus) {
    const started = performance.now();
    const response = await request(stimulus.url);
    if (response.status === 404) throw new StaleStimulus("stimulus already used");
    if (!response.ok) throw new Error("stimulus " + response.status);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const pixels = stimulus.size * stimulus.size;
    const bitmaps = {};
    for (const [i, slot] of stimulus.slots.entries()) {
      const rgba = new Uint8ClampedArray(pixels * 4);
      for (let p = i * pixels * 3, q = 0; q < rgba.length; p += 3, q += 4) {
        rgba[q] = bytes[p];
        rgba[q + 1] = bytes[p + 1];
        rgba[q + 2] = bytes[p + 2];
        rgba[q + 3] = 255;
      }
      bitmaps[slot] = await createImageBitmap(new ImageData(rgba, stimulus.size, stimulus.size));
      rgba.fill(0);
    }
    bytes.fill(0); // from here on only the bitmaps hold the pixels, until the exposure ends
    return { bitmaps: bitmaps, load_ms: performance.now() - started };
  }

  function release(bitmaps) {
    for (const bitmap of Object.values(bitmaps)) bitmap.close();
  }

  // --- painting ------------------------------------------------------------------------
  // Paints one step: its slots drawn, every other canvas cleared, its cue shown.
  // `step` undefined clears everything.
  function paint(step, bitmaps) {
    for (const slot of SLOTS) {
      const canvas = canvases[slot];
      const context = canvas.getContext("2d");
      context.clearRect(0, 0, canvas.width, canvas.height);
      if (step && step.show.includes(slot)) context.drawImage(bitmaps[slot], 0, 0, canvas.width, canvas.height);
    }
    cue.textContent = step ? step.cue : "";
  }

  // The display's frame interval: median of consecutive frame-to-frame intervals.
  async function frameInterval() {
    let previous = await nextFrame();
    const deltas = [];
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      const t = await nextFrame();
      deltas.push(t - previous);
      previous = t;
    }
    deltas.sort((a, b) => a - b);
    return deltas[FRAME_SAMPLES >> 1];
  }

  // When a change made now, in the frame callback stamped `t`, reaches the screen: with
  // that frame, one frame after its start, or, if the callback runs late (the main thread
  // was busy), at the first frame boundary after now. The frame's start `t` alone would
  // say 1000 ms for an exposure whose first callback ran 27 ms late and which was on
  // screen 983 ms; the next callback's timestamp would be late whenever the frame after
  // the change is, though the change was on time.
  function paintTime(t, frame) {
    return t + frame * (1 + Math.floor((performance.now() - t) / frame));
  }

  // Plays the schedule locked to display frames: every change is made in a frame callback,
  // in the frame whose paint time is nearest the step's cumulative target (so errors do not
  // add up), and its paint time is recorded. `onEnd` runs in the frame that clears the
  // last step, opening the response with it.
  async function play(schedule, bitmaps, frame, onEnd) {
    const paintedAt = [];
    let target = 0;
    for (let k = 0; k <= schedule.length; k++) {
      let t;
      do t = await nextFrame(); while (k > 0 && t + frame < target - frame / 2);
      paint(schedule[k], bitmaps);
      if (k === schedule.length) onEnd();
      paintedAt.push(paintTime(t, frame));
      target = (k === 0 ? paintedAt[0] : target) + (k < schedule.length ? schedule[k].ms : 0);
    }
    return { painted_ms: paintedAt.slice(1).map((at, k) => at - paintedAt[k]), opened: paintedAt[schedule.length] };
  }

  // --- the loop --------------------------------------------------------------------------
  function setAnswering(on) {
    for (const slot of SLOTS) buttons[slot].disabled = !on;
  }

  function showError(message) {
    $("error").textContent = message;
    $("error").hidden = false;
  }

  function progressText(t) {
    return t.practice
      ? "Practice trial " + (t.index + 1) + " of " + t.n_practice
      : "Trial " + (t.index - t.n_practice + 1) + " of " + (t.n_trials - t.n_practice);
  }

  async function run(staleTries = 0) {
    setState("loading");
    setAnswering(false);
    answerTiming = null;
    const response = await request(task.dataset.trialUrl);
    if (response.status === 410) return window.location.assign(task.dataset.doneUrl); // timed out: its page says so
    if (!response.ok) return showError("This session cannot continue (" + response.status + ").");
    trial = await response.json();
    if (trial.done) return window.location.assign(task.dataset.doneUrl);
    $("progress").textContent = progressText(trial);
    let loaded, frame;
    try {
      [loaded, frame] = await Promise.all([loadStimulus(trial.stimulus), frameInterval()]);
    } catch (err) {
      if (err instanceof StaleStimulus && staleTries < 3) return run(staleTries + 1);
      throw err;
    }
    setState("presenting");
    const played = await play(trial.schedule, loaded.bitmaps, frame, () => {
      setState("answering");
      setAnswering(true);
    });
    release(loaded.bitmaps);
    answerTiming = { painted_ms: played.painted_ms, frame_ms: frame, load_ms: loaded.load_ms, opened: played.opened };
  }

  // Shows `element` (a Continue button, or a block holding one) until the rater continues.
  function pause(element) {
    element.hidden = false;
    (element.tagName === "BUTTON" ? element : element.querySelector("button")).focus();
    return new Promise((resolve) => {
      resume = () => {
        element.hidden = true;
        resume = null;
        resolve();
      };
    });
  }

  async function showFeedback(result, choice) {
    // As the authors' index_template.html: both images again, "Real"/"Fake" under them, the
    // pick outlined ('6px solid green' / '6px solid #cc0000'), "You are correct!" or
    // "Incorrect. That image was real.", then on after 2400 ms (`feedback_ms`).
    setState("feedback");
    const fb = result.feedback;
    const other = fb.fake === "left" ? "right" : "left";
    let bitmaps = {};
    try {
      bitmaps = (await loadStimulus({ url: fb.stimulus, size: trial.stimulus.size, slots: trial.stimulus.slots })).bitmaps;
      paint({ show: SLOTS, cue: "" }, bitmaps);
    } catch (err) {
      bitmaps = {}; // the words still tell the rater; the images are a help
    }
    labels[fb.fake].textContent = "Fake";
    labels[other].textContent = "Real";
    buttons[choice].classList.add(fb.correct ? "picked-right" : "picked-wrong");
    feedbackText.className = fb.correct ? "right" : "wrong";
    feedbackText.textContent = fb.correct ? "You are correct!" : "Incorrect. That image was real.";
    if (FEEDBACK_MS > 0) await sleep(FEEDBACK_MS);
    else await pause($("continue"));
    paint(undefined);
    release(bitmaps);
    for (const slot of SLOTS) {
      labels[slot].textContent = "";
      buttons[slot].classList.remove("picked-right", "picked-wrong");
    }
    feedbackText.textContent = "";
  }

  async function answer(choice) {
    if (state !== "answering" || !answerTiming) return; // (the timing lands one frame after the response opens)
    setState("sending");
    setAnswering(false);
    const body = {
      index: trial.index, choice: choice, reaction_ms: performance.now() - answerTiming.opened,
      painted_ms: answerTiming.painted_ms, frame_ms: answerTiming.frame_ms, load_ms: answerTiming.load_ms,
    };
    const response = await request(task.dataset.answerUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": task.dataset.csrf },
      body: JSON.stringify(body),
    });
    if (response.status === 409) return run(); // stored already (a retry whose first reply was lost)
    if (response.status === 410) return window.location.assign(task.dataset.doneUrl);
    if (!response.ok) return showError("Your answer could not be saved (" + response.status + "). Reload the page to continue.");
    const result = await response.json();
    if (result.feedback) await showFeedback(result, choice);
    if (result.done) return window.location.assign(task.dataset.doneUrl);
    if (trial.practice && trial.index + 1 === trial.n_practice) {
      setState("practice-done");
      await pause($("practice-done"));
    }
    return run();
  }

  const failed = (err) => showError("Something went wrong (" + err.message + "). Reload the page to continue.");
  for (const slot of SLOTS) buttons[slot].addEventListener("click", () => answer(slot).catch(failed));
  for (const id of ["continue", "start-main"]) $(id).addEventListener("click", () => resume && resume());
  document.addEventListener("keydown", (event) => {
    if (event.repeat) return;
    const key = event.key.toLowerCase();
    if (key === "f" || key === "arrowleft") answer("left").catch(failed);
    else if (key === "j" || key === "arrowright") answer("right").catch(failed);
    else if ((key === "enter" || key === " ") && resume) {
      event.preventDefault();
      resume();
    }
  });
  run().catch(failed);
})();
