// A valve: downlink port 10, {open: bool, minutes: 0-255} <-> [open, minutes].
function decodeUplink(input) {
  return { data: { open: input.bytes[0] === 1, flow: ((input.bytes[1] << 8) | input.bytes[2]) / 10 } };
}

function encodeDownlink(input) {
  var d = input.data;
  if (typeof d.open !== "boolean") {
    return { errors: ["open must be true or false"] };
  }
  var minutes = d.minutes === undefined ? 0 : d.minutes;
  if (minutes < 0 || minutes > 255) {
    return { errors: ["minutes must be 0 to 255"] };
  }
  return { bytes: [d.open ? 1 : 0, minutes], fPort: 10 };
}

function decodeDownlink(input) {
  return { data: { open: input.bytes[0] === 1, minutes: input.bytes[1] } };
}
