// The trial loop of the perceptual study: a small state machine on #task[data-state].
//
//   loading -> (display) -> presenting -> answering -> sending -> (feedback) -> (a pause) -> loading ...
//
// A pause comes after the qualification ("qualified"), the practice ("practice-done") or a
// block ("block-done"), as the server's reply to the answer says. #task[data-layout] is the
// trial's layout: "2afc" (two images, pick the fake) or "single" (one image: real or fake?).
// The server holds all state. For each trial the page fetches the trial (its schedule
// and a one-time stimulus URL), fetches the stimulus (raw pixels of every slot), decodes
// it off-screen into ImageBitmaps, plays the schedule locked to display frames, painting
// the canvases only during the steps that show them, then clears the canvases and
// releases the bitmaps before the response opens. Nothing is painted outside the
// schedule (practice feedback aside, after the answer is stored). It reports the painted
// duration of every step; a reload starts again at the server's current trial.
// A trial kind or presentation mode is a schedule and a set of slots from the server:
// this loop plays any of them. A step with ms null stays on screen until the answer
// (unlimited viewing); slots "mask:N" are noise masks the page draws (HYPE-time). Before a
// HYPE-time session's first trial the page reports its display's frame period, once; the
// server then times every step in whole frames of it.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const task = $("task");
  const SLOTS = ["left", "right"];
  const canvases = { left: $("left-canvas"), right: $("right-canvas"), image: $("image-canvas") };
  const buttons = { left: $("left"), right: $("right"), real: $("real"), fake: $("fake") };
  const KEYS = { // per layout: key -> choice
    "2afc": { f: "left", arrowleft: "left", j: "right", arrowright: "right" },
    single: { r: "real", arrowleft: "real", f: "fake", arrowright: "fake" },
  };
  const PAUSES = { "practice-done": "practice-done", qualified: "qualified", "block-done": "block-done" };
  const labels = { left: $("left-label"), right: $("right-label") };
  const cue = $("cue");
  const feedbackText = $("feedback");
  const FEEDBACK_MS = Number(task.dataset.feedbackMs);
  const QUIET_RETRY_MS = 5000; // retry this long before telling the rater the server is unreachable
  const MAX_RETRY_WAIT_MS = 3000;
  const FRAME_SAMPLES = 9;

  let state = "loading";
  let trial = null;
  let answerTiming = null; // {painted_ms, frame_ms, load_ms, opened, held}
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
    return bitmaps;
  }

  function release(bitmaps) {
    for (const bitmap of Object.values(bitmaps)) bitmap.close();
  }

  // Noise masks (HYPE's come after the image, against afterimages): coarse random colour
  // blocks, one bitmap per mask slot, made off-screen before the trial is played.
  async function noiseMasks(schedule, size) {
    const masks = {};
    const cells = 16;
    for (const step of schedule) {
      for (const slot of step.show) {
        if (!slot.startsWith("mask:") || masks[slot]) continue;
        const rgba = new Uint8ClampedArray(cells * cells * 4);
        crypto.getRandomValues(rgba);
        for (let q = 3; q < rgba.length; q += 4) rgba[q] = 255;
        const small = await createImageBitmap(new ImageData(rgba, cells, cells));
        masks[slot] = await createImageBitmap(small, { resizeWidth: size, resizeHeight: size, resizeQuality: "pixelated" });
        small.close();
      }
    }
    return masks;
  }

  // --- painting ------------------------------------------------------------------------
  const canvasOf = (slot) => canvases[slot.startsWith("mask:") ? "image" : slot];

  // Paints one step: its slots drawn, every other canvas cleared, its cue shown.
  // `step` undefined clears everything.
  function paint(step, bitmaps) {
    for (const canvas of Object.values(canvases)) canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    for (const slot of step ? step.show : []) {
      const canvas = canvasOf(slot);
      canvas.getContext("2d").drawImage(bitmaps[slot], 0, 0, canvas.width, canvas.height);
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
  // in the frame whose paint time is nearest the step's end target, and its paint time is
  // recorded. Each step is timed from its own paint: a step that ended late (a busy main
  // thread) does not shorten the next one, which a target counted from the trial's start
  // would do (a 1000 ms exposure shown 967 ms after a fixation cross 2 frames late). The
  // last change clears the last step; a last step with ms null is not cleared but stays
  // until the answer (`held`). It returns once that last change is painted (`opened`), not
  // in the callback that makes it: a response opened in between would take a key pressed
  // before the screen it answers, with a negative reaction time (which the server refuses).
  async function play(schedule, bitmaps, frame) {
    const paintedAt = [];
    const held = schedule.length > 0 && schedule[schedule.length - 1].ms === null;
    const last = held ? schedule.length - 1 : schedule.length;
    let target = 0; // the paint time step k - 1 should end at
    for (let k = 0; k <= last; k++) {
      let t;
      do t = await nextFrame(); while (k > 0 && t + frame < target - frame / 2);
      paint(schedule[k], bitmaps);
      paintedAt.push(paintTime(t, frame));
      target = paintedAt[k] + (k < schedule.length ? schedule[k].ms : 0);
    }
    const opened = paintedAt[last];
    // (setTimeout truncates its delay to whole ms: wait again until the paint time has passed)
    while (performance.now() < opened) await sleep(Math.ceil(opened - performance.now()));
    return { painted_ms: paintedAt.slice(1).map((at, k) => at - paintedAt[k]), opened: opened, held: held };
  }

  // --- the loop --------------------------------------------------------------------------
  function setAnswering(on) {
    const open = on && trial ? trial.choices : [];
    for (const [choice, button] of Object.entries(buttons)) button.disabled = !open.includes(choice);
  }

  function showError(message) {
    $("error").textContent = message;
    $("error").hidden = false;
  }

  // Once per session, before the first HYPE-time trial: the server times every step in
  // whole frames of this display, and keeps the first report (a page cannot change it later).
  async function reportDisplay() {
    setState("display");
    const frame = await frameInterval();
    const response = await request(task.dataset.displayUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": task.dataset.csrf },
      body: JSON.stringify({ frame_ms: frame }),
    });
    if (!response.ok) {
      const reason = await response.json().catch(() => ({}));
      throw new Error(reason.error || "display " + response.status);
    }
  }

  async function run(staleTries = 0) {
    setState("loading");
    setAnswering(false);
    answerTiming = null;
    const response = await request(task.dataset.trialUrl);
    if (response.status === 410) return window.location.assign(task.dataset.doneUrl); // timed out: its page says so
    if (!response.ok) return showError("This session cannot continue (" + response.status + ").");
    const next = await response.json();
    if (next.done) return window.location.assign(task.dataset.doneUrl);
    if (next.display === "needed") {
      await reportDisplay();
      return run(staleTries);
    }
    trial = next;
    task.dataset.layout = trial.layout;
    $("progress").textContent = trial.progress;
    // load_ms: from asking for the stimulus to playing it (the frame measurement may end after the
    // decode), so the page accounts for all the time the server sees pass (audit.py: the timeline gap).
    const requested = performance.now();
    let loaded, frame, masks;
    try {
      [loaded, frame, masks] = await Promise.all([loadStimulus(trial.stimulus), frameInterval(),
                                                  noiseMasks(trial.schedule, trial.stimulus.size)]);
    } catch (err) {
      if (err instanceof StaleStimulus && staleTries < 3) return run(staleTries + 1);
      throw err;
    }
    const loadMs = performance.now() - requested;
    const bitmaps = Object.assign(loaded, masks);
    setState("presenting");
    const played = await play(trial.schedule, bitmaps, frame);
    if (!played.held) release(bitmaps); // shown and gone; a held image is released when the rater answers
    answerTiming = { painted_ms: played.painted_ms, frame_ms: frame, load_ms: loadMs, opened: played.opened,
                     held: played.held, bitmaps: played.held ? bitmaps : {} };
    setState("answering");
    setAnswering(true);
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

  // Single-image feedback: in words only (showing the image again would lengthen its exposure).
  async function showVerdict(result) {
    setState("feedback");
    const fb = result.feedback;
    feedbackText.className = fb.correct ? "right" : "wrong";
    feedbackText.textContent = fb.correct ? "Correct!" : "Incorrect: that photo was " + fb.image + ".";
    if (FEEDBACK_MS > 0) await sleep(FEEDBACK_MS);
    else await pause($("continue"));
    feedbackText.textContent = "";
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
      bitmaps = await loadStimulus({ url: fb.stimulus, size: trial.stimulus.size, slots: trial.stimulus.slots });
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
    if (state !== "answering" || !answerTiming || !trial.choices.includes(choice)) return;
    const reaction = performance.now() - answerTiming.opened;
    let painted = answerTiming.painted_ms;
    if (answerTiming.held) {
      paint(undefined); // the image shown until the answer goes now; it was up as long as the rater looked
      release(answerTiming.bitmaps);
      painted = painted.concat([reaction]);
    }
    setState("sending");
    setAnswering(false);
    const body = {
      index: trial.index, choice: choice, reaction_ms: reaction,
      painted_ms: painted, frame_ms: answerTiming.frame_ms, load_ms: answerTiming.load_ms,
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
    if (result.feedback && trial.layout === "single") await showVerdict(result);
    else if (result.feedback) await showFeedback(result, choice);
    if (result.done) return window.location.assign(task.dataset.doneUrl);
    if (result.pause) {
      setState(result.pause);
      await pause($(PAUSES[result.pause]));
    }
    return run();
  }

  const failed = (err) => showError("Something went wrong (" + err.message + "). Reload the page to continue.");
  for (const [choice, button] of Object.entries(buttons)) button.addEventListener("click", () => answer(choice).catch(failed));
  for (const id of ["continue", "start-main", "start-task", "next-block"]) $(id).addEventListener("click", () => resume && resume());
  document.addEventListener("keydown", (event) => {
    if (event.repeat) return;
    const key = event.key.toLowerCase();
    const choice = trial && state === "answering" ? KEYS[trial.layout][key] : undefined;
    if (choice) answer(choice).catch(failed);
    else if ((key === "enter" || key === " ") && resume) {
      event.preventDefault();
      resume();
    }
  });
  run().catch(failed);
})();
