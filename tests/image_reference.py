#!/usr/bin/python3
"""OpenCV reference results for tests/test_image.c.

Usage: image_reference.py JOBFILE

Run with a Python that has cv2 and numpy (Debian's /usr/bin/python3 with python3-opencv).
Each line of JOBFILE is one job, fields separated by tabs:

    decode  INPUT  OUTPUT            cv2.imread(INPUT, IMREAD_COLOR), BGR converted to RGB;
                                     when cv2 returns None, OUTPUT + ".none" is created instead
    resize  INPUT  OUTPUT  W  H      cv2.resize(INPUT, (W, H), interpolation=INTER_LINEAR)
    warp    INPUT  OUTPUT  W  H  M0 .. M5
                                     cv2.warpAffine(INPUT, M, (W, H), flags=INTER_LINEAR,
                                     borderMode=BORDER_CONSTANT, borderValue=0), M row-major
    gray    INPUT  OUTPUT            cv2.cvtColor(INPUT as BGR, COLOR_BGR2GRAY), with INPUT's
                                     RGB order reversed first so the weights land as in the
                                     library (R 0.299, G 0.587, B 0.114)
    encode  INPUT  OUTPUT  KIND      writes INPUT as a test file: KIND is one of png16, bmp24,
                                     bmp8gray, bmp32topdown, webp_lossless, webp_lossy,
                                     tiff_lzw, tiff_gray16, png_palette_trns

Raw images (INPUT of resize/warp/gray/encode, every OUTPUT except encode's) are a 12-byte
header of little-endian uint32 width, height and channel count, then packed 8-bit pixels
(RGB order for 3 channels).
"""
import struct
import sys

import cv2
import numpy as np


def read_raw(path):
    with open(path, "rb") as f:
        width, height, channels = struct.unpack("<III", f.read(12))
        data = np.frombuffer(f.read(), dtype=np.uint8)
    return data.reshape(height, width, channels) if channels > 1 else data.reshape(height, width)


def write_raw(path, image):
    channels = 1 if image.ndim == 2 else image.shape[2]
    with open(path, "wb") as f:
        f.write(struct.pack("<III", image.shape[1], image.shape[0], channels))
        f.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())


def write_bmp32_top_down(path, rgb):
    """32-bit BI_RGB BMP with a negative height (rows stored top to bottom)."""
    height, width = rgb.shape[:2]
    bgrx = np.zeros((height, width, 4), dtype=np.uint8)
    bgrx[:, :, 0] = rgb[:, :, 2]
    bgrx[:, :, 1] = rgb[:, :, 1]
    bgrx[:, :, 2] = rgb[:, :, 0]
    bgrx[:, :, 3] = 0x80  # unused byte; decoders must ignore it
    pixels = bgrx.tobytes()
    info = struct.pack("<IiiHHIIiiII", 40, width, -height, 1, 32, 0, len(pixels), 2835, 2835, 0, 0)
    header = struct.pack("<2sIHHI", b"BM", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    with open(path, "wb") as f:
        f.write(header + info + pixels)


def write_png_palette(path, rgb):
    """8-bit palette PNG with a tRNS chunk, written with zlib (cv2 cannot write palettes)."""
    import zlib

    quantised = (rgb // 64).astype(np.uint8)  # 4 levels per channel -> 64 colours
    index = quantised[:, :, 0] * 16 + quantised[:, :, 1] * 4 + quantised[:, :, 2]
    palette = bytearray()
    for i in range(64):
        palette += bytes([(i // 16) * 64 + 32, ((i // 4) % 4) * 64 + 32, (i % 4) * 64 + 32])
    transparency = bytes([(i * 4) % 256 for i in range(64)])

    def chunk(kind, payload):
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    height, width = index.shape
    raw = b"".join(b"\0" + index[y].tobytes() for y in range(height))
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
    png += chunk(b"PLTE", bytes(palette))
    png += chunk(b"tRNS", transparency)
    png += chunk(b"IDAT", zlib.compress(raw))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def encode(source, output, kind):
    rgb = read_raw(source)
    bgr = rgb[:, :, ::-1]
    if kind == "png16":
        ok = cv2.imwrite(output, bgr.astype(np.uint16) * 257 + 13)
    elif kind == "bmp24":
        ok = cv2.imwrite(output, bgr)
    elif kind == "bmp8gray":
        ok = cv2.imwrite(output, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    elif kind == "bmp32topdown":
        write_bmp32_top_down(output, rgb)
        ok = True
    elif kind == "webp_lossless":
        ok = cv2.imwrite(output, bgr, [cv2.IMWRITE_WEBP_QUALITY, 101])
    elif kind == "webp_lossy":
        ok = cv2.imwrite(output, bgr, [cv2.IMWRITE_WEBP_QUALITY, 80])
    elif kind == "tiff_lzw":
        ok = cv2.imwrite(output, bgr, [cv2.IMWRITE_TIFF_COMPRESSION, 5])
    elif kind == "tiff_gray16":
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257
        ok = cv2.imwrite(output, gray)
    elif kind == "png_palette_trns":
        write_png_palette(output, rgb)
        ok = True
    else:
        raise SystemExit(f"unknown encode kind {kind!r}")
    if not ok:
        raise SystemExit(f"cv2.imwrite failed for {output}")


def run(job):
    kind, source, output, *args = job
    if kind == "decode":
        try:
            image = cv2.imread(source, cv2.IMREAD_COLOR)
        except cv2.error:  # OpenCV raises for headers over its pixel limit
            image = None
        if image is None:
            open(output + ".none", "wb").close()
        else:
            write_raw(output, image[:, :, ::-1])
    elif kind == "resize":
        width, height = int(args[0]), int(args[1])
        write_raw(output, cv2.resize(read_raw(source), (width, height),
                                     interpolation=cv2.INTER_LINEAR))
    elif kind == "warp":
        width, height = int(args[0]), int(args[1])
        matrix = np.array([float(v) for v in args[2:8]], dtype=np.float64).reshape(2, 3)
        write_raw(output, cv2.warpAffine(read_raw(source), matrix, (width, height),
                                         flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT, borderValue=0))
    elif kind == "gray":
        bgr = np.ascontiguousarray(read_raw(source)[:, :, ::-1])
        write_raw(output, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    elif kind == "encode":
        encode(source, output, args[0])
    else:
        raise SystemExit(f"unknown job {kind!r}")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    cv2.setNumThreads(1)
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                run(line.split("\t"))


if __name__ == "__main__":
    main()
