#!/usr/bin/python3
"""Writes the provenance test fixtures into OUT_DIR with independent, maintained writers:
PIL's PngInfo for PNG text chunks (tEXt, zTXt, iTXt), PIL's Exif for EXIF, and exiftool (Debian's
libimage-exiftool-perl) for EXIF and XMP in JPEG and WebP. The pictures are plain gradients; what
matters is the metadata around them.

Usage: provenance_fixtures.py OUT_DIR   (prints the file names it wrote)
"""
import json
import os
import struct
import subprocess
import sys
import zlib

from PIL import Image, PngImagePlugin

A1111 = (
    "a photograph of an astronaut riding a horse, highly detailed\n"
    "Negative prompt: blurry, lowres\n"
    'Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 1234567890, Size: 512x512, '
    'Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora hashes: "detail: abc, face: def", Version: v1.9.4'
)

COMFY_PROMPT = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 42, "steps": 20, "cfg": 8, "sampler_name": "euler",
                                                 "scheduler": "normal", "denoise": 1, "model": ["4", 0],
                                                 "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat wearing a space suit", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}
COMFY_WORKFLOW = {
    "last_node_id": 9,
    "nodes": [
        {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["sd_xl_base_1.0.safetensors"]},
        {"id": 3, "type": "KSampler", "widgets_values": [42, "fixed", 20, 8, "euler", "normal", 1]},
    ],
    "links": [],
}
NOVELAI_COMMENT = {"prompt": "1girl, masterpiece", "steps": 28, "sampler": "k_euler_ancestral", "seed": 777,
                   "scale": 5.0, "uc": "lowres, bad anatomy"}
INVOKE = {"positive_prompt": "a lighthouse at dusk", "negative_prompt": "", "steps": 30, "scheduler": "euler",
          "cfg_scale": 7, "seed": 99, "model": {"name": "stable-diffusion-v1-5", "base": "sd-1"}}


def picture(size=(256, 192)):
    w, h = size
    img = Image.new("RGB", size)
    img.putdata([(x * 255 // w, y * 255 // h, 128) for y in range(h) for x in range(w)])
    return img


def png(path, chunks, compress_level=6):
    info = PngImagePlugin.PngInfo()
    for kind, key, value in chunks:
        if kind == "tEXt":
            info.add_text(key, value)
        elif kind == "zTXt":
            info.add_text(key, value, zip=True)
        elif kind == "iTXt":
            info.add_itxt(key, value, zip=False)
        elif kind == "iTXt-z":
            info.add_itxt(key, value, zip=True)
    picture().save(path, pnginfo=info, compress_level=compress_level)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def exiftool(path, *args):
    subprocess.run(["exiftool", "-q", "-overwrite_original", *args, path], check=True)


def main(out):
    os.makedirs(out, exist_ok=True)
    j = lambda name: os.path.join(out, name)
    written = []

    def done(name):
        written.append(name)

    png(j("a1111.png"), [("tEXt", "parameters", A1111)]); done("a1111.png")
    png(j("comfyui.png"), [("tEXt", "prompt", json.dumps(COMFY_PROMPT)), ("tEXt", "workflow", json.dumps(COMFY_WORKFLOW))]); done("comfyui.png")
    # The same graph compressed: zTXt, and iTXt with its compression flag set.
    png(j("comfyui-ztxt.png"), [("zTXt", "prompt", json.dumps(COMFY_PROMPT))]); done("comfyui-ztxt.png")
    png(j("a1111-itxt-z.png"), [("iTXt-z", "parameters", A1111)]); done("a1111-itxt-z.png")
    png(j("novelai.png"), [("tEXt", "Title", "AI generated image"), ("tEXt", "Description", "1girl, masterpiece"),
                           ("tEXt", "Software", "NovelAI"), ("tEXt", "Source", "NovelAI Diffusion V4.5 4BDE2A90"),
                           ("tEXt", "Comment", json.dumps(NOVELAI_COMMENT))]); done("novelai.png")
    png(j("invokeai.png"), [("iTXt", "invokeai_metadata", json.dumps(INVOKE))]); done("invokeai.png")
    # The A1111 text inside the pixels of an uncompressed PNG (not in any metadata chunk): no evidence.
    # (Written by hand: one grey row, filter "none", zlib level 0, so the bytes stay as they are.)
    raw = ("parameters\0" + A1111).encode()
    with open(j("params-in-pixels.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", len(raw), 1, 8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(b"\0" + raw, 0)))
        f.write(chunk(b"IEND", b""))
    done("params-in-pixels.png")
    # A plain PNG and JPEG: no metadata at all (the JPEG is what the C2PA tests sign).
    picture().save(j("plain.png")); done("plain.png")
    picture().save(j("plain.jpg"), quality=90); done("plain.jpg")

    # JPEG with A1111 parameters in EXIF UserComment (UTF-16, as A1111 writes it), by exiftool.
    picture().save(j("a1111-exif.jpg"), quality=90)
    exiftool(j("a1111-exif.jpg"), "-exif:UserComment=" + A1111, "-exif:Software=")
    done("a1111-exif.jpg")
    # JPEG from a camera-less generator: EXIF Software + XMP with the IPTC digital source type.
    picture().save(j("midjourney-xmp.jpg"), quality=90)
    exiftool(j("midjourney-xmp.jpg"), "-exif:Software=Midjourney",
             "-xmp-iptcExt:DigitalSourceType=http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
             "-xmp-xmp:CreatorTool=Midjourney")
    done("midjourney-xmp.jpg")
    # JPEG from a camera: EXIF Make/Model/Software, no AI claim.
    picture().save(j("camera.jpg"), quality=90)
    exiftool(j("camera.jpg"), "-exif:Make=Canon", "-exif:Model=Canon EOS 5D Mark IV", "-exif:Software=Firmware 1.2.0")
    done("camera.jpg")
    # WebP with EXIF (PIL) and XMP (exiftool) declaring a composite with AI.
    exif = Image.Exif()
    exif[0x0131] = "Adobe Firefly"
    picture().save(j("firefly.webp"), exif=exif.tobytes(), quality=80)
    exiftool(j("firefly.webp"),
             "-xmp-iptcExt:DigitalSourceType=http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia")
    done("firefly.webp")
    print("\n".join(written))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
