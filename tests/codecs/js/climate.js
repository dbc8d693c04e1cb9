// A climate sensor: temperature (0.01 °C, signed), humidity (0.5 %), battery (mV), door contact.
function decodeUplink(input) {
  var b = input.bytes;
  if (input.fPort !== 2) {
    return { errors: ["unknown port " + input.fPort] };
  }
  if (b.length < 6) {
    return { errors: ["expected 6 bytes, got " + b.length] };
  }
  var raw = (b[0] << 8) | b[1];
  if (raw & 0x8000) {
    raw -= 0x10000;
  }
  var warnings = [];
  var battery = ((b[3] << 8) | b[4]) / 1000;
  if (battery < 2.5) {
    warnings.push("battery low");
  }
  return {
    data: {
      temperature: raw / 100,
      humidity: b[2] / 2,
      battery: battery,
      door: { open: (b[5] & 1) === 1 }
    },
    warnings: warnings
  };
}

function normalizeUplink(input) {
  return {
    data: {
      air: { temperature: input.data.temperature, relativeHumidity: input.data.humidity },
      battery: input.data.battery,
      action: { contactState: input.data.door.open ? "OPEN" : "CLOSED" }
    }
  };
}
