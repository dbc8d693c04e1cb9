// Misbehaving on purpose: port 1 hangs, port 2 exhausts memory, port 3 throws, port 4 recurses.
var calls = 0;
function decodeUplink(input) {
  calls += 1;
  if (input.fPort === 1) {
    while (true) {}
  }
  if (input.fPort === 2) {
    var hog = [];
    while (true) {
      hog.push(new Array(100000).join("x"));
    }
  }
  if (input.fPort === 3) {
    throw new Error("unexpected byte " + input.bytes[0]);
  }
  if (input.fPort === 4) {
    return decodeUplink(input);
  }
  return { data: { calls: calls } };
}
