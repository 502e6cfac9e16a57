// A valid baseline JPEG of one solid grey 8x8 block, built by hand (no image library): one
// component, quantisation table of ones, one-code Huffman tables (DC category, AC end-of-block).
// Used as the Microsoft Graph profile photo of the fake users. Deterministic for a given level.
export function solidJpeg(level = 128) {
  const v = Math.max(0, Math.min(255, Math.round(level)));
  const dc = 8 * (v - 128); // DC coefficient of a uniform block (quantiser 1)
  const category = dc === 0 ? 0 : Math.floor(Math.log2(Math.abs(dc))) + 1;
  const extra = dc >= 0 ? dc : dc + (1 << category) - 1; // JPEG's one's-complement for negatives

  // Entropy-coded bits: DC code "0", `category` extra bits, AC end-of-block code "0".
  let bits = '0';
  if (category > 0) bits += extra.toString(2).padStart(category, '0');
  bits += '0';
  while (bits.length % 8) bits += '1';
  const scan = [];
  for (let i = 0; i < bits.length; i += 8) {
    const byte = parseInt(bits.slice(i, i + 8), 2);
    scan.push(byte);
    if (byte === 0xff) scan.push(0x00); // byte stuffing
  }

  const seg = (marker, body) => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];
  const counts = (n) => [n, ...new Array(15).fill(0)];
  return Buffer.from([
    0xff, 0xd8, // SOI
    ...seg(0xdb, [0x00, ...new Array(64).fill(1)]), // DQT 0: all ones
    ...seg(0xc0, [8, 0, 8, 0, 8, 1, 1, 0x11, 0]), // SOF0: 8 bit, 8x8, 1 component
    ...seg(0xc4, [0x00, ...counts(1), category]), // DHT DC 0: one code of length 1
    ...seg(0xc4, [0x10, ...counts(1), 0x00]), // DHT AC 0: EOB only
    ...seg(0xda, [1, 1, 0x00, 0, 63, 0]), // SOS
    ...scan,
    0xff, 0xd9, // EOI
  ]);
}

// "#3366cc" or "3366cc" -> luma 0..255 (grey level of the photo)
export function lumaOf(hex) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(String(hex));
  if (!m) return 128;
  const [r, g, b] = m.slice(1).map((h) => parseInt(h, 16));
  return 0.299 * r + 0.587 * g + 0.114 * b;
}
