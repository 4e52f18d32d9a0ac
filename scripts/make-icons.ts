// Draws the extension icon (images/extension-icon.png, 128x128) and the task icon
// (tasks/ConvertToWif/icon.png, 32x32) with nothing but node's zlib: a hand-rolled PNG
// encoder (signature, IHDR, IDAT, IEND, CRC32) and a tiny supersampling rasteriser.
//
// The PNGs are checked in; this script is NOT part of the build. Re-run it only when the
// design changes:   npm run build && node build/scripts/make-icons.js
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';

// ---------------------------------------------------------------------------------------
// PNG encoder (8-bit RGBA, no interlace, filter 0 on every row)

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(...parts: Buffer[]): number {
  let crc = 0xffffffff;
  for (const buf of parts) {
    for (let i = 0; i < buf.length; i++) crc = CRC_TABLE[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const typeBuf = Buffer.from(type, 'ascii');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length, 0);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeBuf, data), 0);
  return Buffer.concat([len, typeBuf, data, crc]);
}

/** Encodes `rgba` (width*height*4 bytes, row-major, straight alpha) as a PNG file. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  if (rgba.length !== width * height * 4) throw new Error(`encodePng: expected ${width * height * 4} bytes, got ${rgba.length}`);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type: RGBA
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method 0
  ihdr[12] = 0; // no interlace
  const stride = width * 4;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter type: None
    Buffer.from(rgba.buffer, rgba.byteOffset + y * stride, stride).copy(raw, y * (stride + 1) + 1);
  }
  const idat = zlib.deflateSync(raw, { level: 9 });
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

// ---------------------------------------------------------------------------------------
// Design: an Azure-blue rounded square (soft vertical gradient) with a white key laid
// diagonally across it. Shapes are signed-distance functions in unit coordinates (0..1);
// every pixel is supersampled for anti-aliasing.

type Rgb = [number, number, number];

const TOP: Rgb = [0x1e, 0x90, 0xe6];
const BOTTOM: Rgb = [0x00, 0x5a, 0xb0];
const WHITE: Rgb = [0xff, 0xff, 0xff];

/** Signed distance to a rounded box centred at (cx, cy) with half sizes (hx, hy), corner radius r. */
function roundedBox(x: number, y: number, cx: number, cy: number, hx: number, hy: number, r: number): number {
  const qx = Math.abs(x - cx) - (hx - r);
  const qy = Math.abs(y - cy) - (hy - r);
  const outside = Math.hypot(Math.max(qx, 0), Math.max(qy, 0));
  return outside + Math.min(Math.max(qx, qy), 0) - r;
}

function circle(x: number, y: number, cx: number, cy: number, r: number): number {
  return Math.hypot(x - cx, y - cy) - r;
}

/** Signed distance to the key glyph (negative = inside), in the key's own unrotated frame. */
function keyGlyph(x: number, y: number): number {
  // Bow: a ring on the left.
  const ring = Math.max(circle(x, y, 0.3, 0.5, 0.165), -circle(x, y, 0.3, 0.5, 0.075));
  // Shaft to the right of the ring.
  const shaft = roundedBox(x, y, 0.6, 0.5, 0.2, 0.045, 0.02);
  // Two bits (teeth) hanging below the shaft.
  const bit1 = roundedBox(x, y, 0.7, 0.575, 0.035, 0.06, 0.015);
  const bit2 = roundedBox(x, y, 0.585, 0.56, 0.03, 0.045, 0.015);
  return Math.min(ring, shaft, bit1, bit2);
}

/** Colour (straight RGBA, 0..1 alpha) of the icon at unit coordinate (u, v). */
function sample(u: number, v: number): { rgb: Rgb; a: number } | null {
  if (roundedBox(u, v, 0.5, 0.5, 0.5, 0.5, 0.2) > 0) return null;
  // Rotate the sample point 40 degrees clockwise around the centre, so the key tilts up.
  const angle = (40 * Math.PI) / 180;
  // (-0.04, +0.05) recentres the glyph's visual bounding box on the tile.
  const dx = u - 0.04 - 0.5;
  const dy = v + 0.05 - 0.5;
  const kx = 0.5 + dx * Math.cos(angle) - dy * Math.sin(angle);
  const ky = 0.5 + dx * Math.sin(angle) + dy * Math.cos(angle);
  // Scale the glyph a little towards the centre so it has breathing room.
  const scale = 1.12;
  const gx = 0.5 + (kx - 0.5) * scale;
  const gy = 0.5 + (ky - 0.5) * scale;
  if (keyGlyph(gx + 0.02, gy) <= 0) return { rgb: WHITE, a: 1 };
  const t = v;
  const rgb: Rgb = [0, 1, 2].map((i) => TOP[i] + (BOTTOM[i] - TOP[i]) * t) as Rgb;
  return { rgb, a: 1 };
}

/** Renders the icon at `size`x`size` pixels with `ss`x`ss` supersampling. */
export function renderIcon(size: number, ss = 8): Uint8Array {
  const out = new Uint8Array(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const s = sample((px + (sx + 0.5) / ss) / size, (py + (sy + 0.5) / ss) / size);
          if (!s) continue;
          // Accumulate premultiplied colour so transparent samples do not darken the edge.
          r += s.rgb[0] * s.a;
          g += s.rgb[1] * s.a;
          b += s.rgb[2] * s.a;
          a += s.a;
        }
      }
      const o = (py * size + px) * 4;
      if (a > 0) {
        out[o] = Math.round(r / a);
        out[o + 1] = Math.round(g / a);
        out[o + 2] = Math.round(b / a);
      }
      out[o + 3] = Math.round((a / (ss * ss)) * 255);
    }
  }
  return out;
}

/** The repository root: the nearest ancestor of this file holding a package.json. */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('make-icons: cannot find the repository root (no package.json above ' + __dirname + ')');
    dir = parent;
  }
  return dir;
}

export function writeIcons(root = repoRoot()): string[] {
  const targets: Array<[string, number]> = [
    [path.join(root, 'images', 'extension-icon.png'), 128],
    [path.join(root, 'tasks', 'ConvertToWif', 'icon.png'), 32],
  ];
  for (const [file, size] of targets) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, encodePng(size, size, renderIcon(size)));
  }
  return targets.map(([file]) => file);
}

if (require.main === module) {
  for (const file of writeIcons()) console.log(`wrote ${file} (${fs.statSync(file).size} bytes)`);
}
