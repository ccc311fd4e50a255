"""Boxes the original create_mask.py call finds (OpenCV detectMultiScale defaults on the grey image:
scaleFactor 1.1, minNeighbors 3, no minimum size, no equalisation) and the cascade README's settings
(equalizeHist, minNeighbors 5, minSize 24), made with Debian bookworm python3-opencv 4.6.0 and
python3-pil 9.4.0 on the animeface fixture images and on a composite with a large and a small face:
    python3 original_boxes.py ../../../../../shared/fixtures/animeface > boxes.json
The composite is rebuilt by FaceMaskTest with Images.resize, which is PIL's LANCZOS bit for bit."""
import json, sys
import cv2
import numpy as np
from PIL import Image

root = sys.argv[1] + "/"
cascade = cv2.CascadeClassifier(root + "lbpcascade_animeface.xml")


def detect(im, equalize, neighbours, size):
    grey = cv2.cvtColor(np.asarray(im)[:, :, ::-1].copy(), cv2.COLOR_BGR2GRAY)
    if equalize:
        grey = cv2.equalizeHist(grey)
    found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=neighbours, minSize=(size, size))
    return sorted(map(list, np.asarray(found).reshape(-1, 4).tolist()))


face = Image.open(root + "reference/face_single_256.png").convert("RGB")
composite = Image.new("RGB", (720, 440), face.getpixel((0, 0)))
composite.paste(face.resize((410, 410), Image.LANCZOS), (10, 15))
composite.paste(face.resize((120, 120), Image.LANCZOS), (560, 200))
images = {"composite": composite}
for name in ["face_single_256.png", "faces_three_640x320.png", "no_face_gradient_256.png"]:
    images[name] = Image.open(root + "reference/" + name).convert("RGB")
print(json.dumps({name: {"original": detect(im, False, 3, 0), "cascade_readme": detect(im, True, 5, 24)}
                  for name, im in images.items()}, indent=1))
