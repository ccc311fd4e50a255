"""Reference decodes and resizes for ImagesPilReferenceTest, made with Debian bookworm's Pillow 9.4.0
(python3-pil 9.4.0-1.1+deb12u1, libwebp 1.2.4, libjpeg-turbo 2.1.5) and numpy 1.24.2:
    cd src/test/resources/pil-reference && python3 make_reference.py
Every input is generated here from a fixed seed; expected outputs are PNG (lossless)."""
import numpy as np
from PIL import Image

rng = np.random.default_rng(14)
h, w = 61, 97
y, x = np.mgrid[0:h, 0:w]
src = np.stack([(x * 5) % 256, (y * 9 + x) % 256, 128 + 100 * np.sin(x / 3.0 + y / 5.0)], -1)
src = np.clip(src + rng.normal(0, 20, src.shape), 0, 255).astype(np.uint8)
src[:20, :30] = ((x[:20, :30] // 1) % 2 * 255)[..., None]  # one-pixel stripes: aliasing shows here
im = Image.fromarray(src, "RGB")
im.save("source.png")

# PIL's resizes: plain (Lanczos, as the tagger enlarges) and cover + centre crop (bicubic, as bucketing).
for (tw, th) in [(40, 25), (211, 133)]:
    im.resize((tw, th), Image.LANCZOS).save(f"lanczos_{tw}x{th}.png")
for (tw, th) in [(32, 32), (24, 40), (64, 32)]:
    if w * th >= tw * h:
        sw, sh = w * th // h, th
    else:
        sw, sh = tw, h * tw // w
    l, t = (sw - tw) // 2, (sh - th) // 2
    im.resize((sw, sh), Image.BICUBIC).crop((l, t, l + tw, t + th)).save(f"cover_bicubic_{tw}x{th}.png")

# A lossy portrait WebP and libwebp's decode of it.
portrait = Image.fromarray(np.ascontiguousarray(np.rot90(src)), "RGB").resize((48, 96), Image.BICUBIC)
portrait.save("lossy_portrait.webp", quality=60)
Image.open("lossy_portrait.webp").convert("RGB").save("lossy_portrait.webp.png")

# CMYK JPEGs: PIL writes inverted CMYK with an Adobe APP14 marker (transform 0), as Photoshop does.
cmyk = np.zeros((16, 32, 4), np.uint8)
for i, ink in enumerate([(0, 0, 0, 0), (255, 0, 0, 0), (0, 200, 30, 0), (10, 20, 240, 60),
                         (40, 40, 40, 200), (0, 0, 0, 255), (128, 64, 32, 16), (220, 180, 90, 30)]):
    cmyk[:, i * 4:(i + 1) * 4] = ink
Image.fromarray(cmyk, "CMYK").save("cmyk_adobe.jpg", quality=95)
Image.open("cmyk_adobe.jpg").convert("RGB").save("cmyk_adobe.jpg.png")
# The same file without its APP14 segment stores the same samples, which now mean plain (non-inverted) ink:
# PIL still inverts them (it always assumes Adobe polarity), so the expected RGB is made from the raw samples.
data = open("cmyk_adobe.jpg", "rb").read()
i = data.index(b"\xff\xee")
length = data[i + 2] << 8 | data[i + 3]
open("cmyk_plain.jpg", "wb").write(data[:i] + data[i + 2 + length:])
raw = 255 - np.asarray(Image.open("cmyk_plain.jpg"))  # undo PIL's inversion: the samples as stored
Image.fromarray(raw, "CMYK").convert("RGB").save("cmyk_plain.jpg.png")
