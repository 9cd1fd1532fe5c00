// Hold-to-record webcam burst (Streamlit custom component v2). While the button is held, a
// frame is drawn from the camera every 1000/fps ms (at most maxFrames), scaled so its longer
// side is at most maxSide, and encoded as JPEG; on release the burst goes to Python as one
// trigger value {frames: [data URL...], fps}. Nothing is fetched from the network.
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector(".burst");
  if (!root) return;
  const settings = {
    fps: Math.max(1, Number(data?.fps) || 5),
    maxFrames: Math.max(1, Number(data?.max_frames) || 30),
    maxSide: Math.max(32, Number(data?.max_side) || 480),
  };
  if (root.burst) {
    root.burst.settings = settings; // a rerun with new settings: same camera, new rate/count
    return root.burst.cleanup;
  }
  const video = root.querySelector(".burst-video");
  const cameraButton = root.querySelector(".burst-camera");
  const hold = root.querySelector(".burst-hold");
  const status = root.querySelector(".burst-status");
  const canvas = document.createElement("canvas");
  const state = { settings, stream: null, timer: null, frames: [], cleanup: null };
  root.burst = state;

  const say = (text) => { status.textContent = text; };
  const stopCamera = () => {
    stopRecording(false);
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.stream = null;
    video.srcObject = null;
    hold.disabled = true;
    cameraButton.textContent = "Start the camera";
    say("Camera off.");
  };
  const startCamera = async () => {
    if (!navigator.mediaDevices?.getUserMedia) {
      say("This browser offers no camera here (a camera needs https or localhost).");
      return;
    }
    try {
      state.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    } catch (err) {
      say(`The camera could not be opened: ${err?.message || err}. Allow it in the browser.`);
      return;
    }
    video.srcObject = state.stream;
    await video.play().catch(() => {});
    hold.disabled = false;
    cameraButton.textContent = "Stop the camera";
    say(`Ready: hold the button to record ${state.settings.fps} frames a second.`);
  };
  const grab = () => {
    const { maxFrames, maxSide, fps } = state.settings;
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return;
    const scale = Math.min(1, maxSide / Math.max(w, h));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    state.frames.push(canvas.toDataURL("image/jpeg", 0.9));
    say(`Recording: ${state.frames.length} of ${maxFrames} frames at ${fps} a second.`);
    if (state.frames.length >= maxFrames) stopRecording(true);
  };
  const startRecording = () => {
    if (!state.stream || state.timer) return;
    state.frames = [];
    hold.classList.add("recording");
    grab();
    state.timer = setInterval(grab, 1000 / state.settings.fps);
  };
  function stopRecording(send) {
    if (!state.timer) return;
    clearInterval(state.timer);
    state.timer = null;
    hold.classList.remove("recording");
    const frames = state.frames;
    state.frames = [];
    if (send && frames.length) {
      say(`${frames.length} frames sent to be saved (see below). Hold again for more.`);
      setTriggerValue("frames", { frames, fps: state.settings.fps });
    }
  }
  cameraButton.addEventListener("click", () => (state.stream ? stopCamera() : startCamera()));
  hold.addEventListener("pointerdown", (e) => { hold.setPointerCapture?.(e.pointerId); startRecording(); });
  for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) {
    hold.addEventListener(name, () => stopRecording(true));
  }
  hold.addEventListener("keydown", (e) => {
    if ((e.key === " " || e.key === "Enter") && !e.repeat) { e.preventDefault(); startRecording(); }
  });
  hold.addEventListener("keyup", (e) => {
    if (e.key === " " || e.key === "Enter") { e.preventDefault(); stopRecording(true); }
  });
  state.cleanup = () => { stopCamera(); delete root.burst; };
  return state.cleanup;
}
