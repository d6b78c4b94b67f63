#!/usr/bin/env python3
"""Writes an ImageFolder of awkward inputs for the packer tests (Debian's python3-pil):

  good/gray.png      8-bit grayscale           good/rgba.png   RGBA (alpha 0 on the left half)
  good/cmyk.jpg      CMYK JPEG (pure cyan)     good/deep.png   16-bit grayscale at half scale
  good/wide.bmp      a BMP, 3:1 aspect         good/plain.webp a WebP
  bad/truncated.jpg  first half of a JPEG      bad/text.jpg    a text file named .jpg
  bad/ok.jpg         a valid JPEG              bad/notes.txt   not an image extension
"""
import os
import sys

import numpy as np
from PIL import Image

root = sys.argv[1]
os.makedirs(f"{root}/good", exist_ok=True)
os.makedirs(f"{root}/bad", exist_ok=True)

Image.fromarray(np.full((40, 40), 77, np.uint8), "L").save(f"{root}/good/gray.png")
rgba = np.zeros((40, 40, 4), np.uint8)
rgba[..., 0], rgba[..., 1], rgba[..., 2] = 200, 100, 50
rgba[:, 20:, 3] = 255
Image.fromarray(rgba, "RGBA").save(f"{root}/good/rgba.png")
Image.new("CMYK", (40, 40), (255, 0, 0, 0)).save(f"{root}/good/cmyk.jpg", quality=95)
Image.fromarray(np.full((40, 40), 32768, np.uint16)).save(f"{root}/good/deep.png")
Image.new("RGB", (120, 40), (10, 200, 30)).save(f"{root}/good/wide.bmp")
Image.new("RGB", (40, 40), (90, 60, 220)).save(f"{root}/good/plain.webp", lossless=True)

noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
Image.fromarray(noise).save(f"{root}/bad/ok.jpg", quality=90)
data = open(f"{root}/bad/ok.jpg", "rb").read()
open(f"{root}/bad/truncated.jpg", "wb").write(data[: len(data) // 2])
open(f"{root}/bad/text.jpg", "w").write("this is not a JPEG\n")
open(f"{root}/bad/notes.txt", "w").write("notes\n")
