// Photo redaction page: drag a rectangle on the photo to fill the four inputs (percent of the
// photo); typing in the inputs moves the rectangle, so the keyboard alone does the same.

const canvas = document.getElementById('redact-canvas');
const photo = document.getElementById('redact-photo');
const box = document.getElementById('redact-box');
const inputs = Object.fromEntries(['x', 'y', 'width', 'height'].map((name) => [name, document.getElementById(`r-${name}`)]));

const clamp = (value, min, max) => Math.min(max, Math.max(min, value));
const round = (value) => Math.round(value * 10) / 10; // 0.1 %

/** The pointer's position on the photo, in percent of its displayed size. */
function percentAt(event) {
  const rect = photo.getBoundingClientRect();
  return {
    x: clamp(((event.clientX - rect.left) / rect.width) * 100, 0, 100),
    y: clamp(((event.clientY - rect.top) / rect.height) * 100, 0, 100),
  };
}

function showBox(region) {
  if (!region || region.width <= 0 || region.height <= 0) {
    box.hidden = true;
    return;
  }
  box.style.left = `${region.x}%`;
  box.style.top = `${region.y}%`;
  box.style.width = `${Math.min(region.width, 100 - region.x)}%`;
  box.style.height = `${Math.min(region.height, 100 - region.y)}%`;
  box.hidden = false;
}

/** The region the inputs describe, or null while one of them is not a number. */
function regionFromInputs() {
  const values = {};
  for (const [name, input] of Object.entries(inputs)) {
    const number = Number(input.value.replace(',', '.'));
    if (input.value.trim() === '' || !Number.isFinite(number)) return null;
    values[name] = clamp(number, 0, 100);
  }
  return values;
}

let start = null;

canvas.addEventListener('pointerdown', (event) => {
  if (event.button !== 0) return;
  event.preventDefault();
  start = percentAt(event);
  canvas.setPointerCapture(event.pointerId);
});

canvas.addEventListener('pointermove', (event) => {
  if (!start) return;
  const end = percentAt(event);
  const region = {
    x: round(Math.min(start.x, end.x)),
    y: round(Math.min(start.y, end.y)),
    width: round(Math.abs(end.x - start.x)),
    height: round(Math.abs(end.y - start.y)),
  };
  region.width = Math.min(region.width, round(100 - region.x));
  region.height = Math.min(region.height, round(100 - region.y));
  for (const [name, input] of Object.entries(inputs)) input.value = String(region[name]);
  showBox(region);
});

function finish(event) {
  if (!start) return;
  start = null;
  if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
}
canvas.addEventListener('pointerup', finish);
canvas.addEventListener('pointercancel', finish);

for (const input of Object.values(inputs)) input.addEventListener('input', () => showBox(regionFromInputs()));
showBox(regionFromInputs()); // after a refused submission, the values it kept
