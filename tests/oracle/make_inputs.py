#!/usr/bin/python3
"""Write the input tensors of the onnxruntime oracle cases.

Each case is a folder OUT/<case>/ with model.txt (one line: the absolute path of the
ONNX model) and input_0.bin, input_1.bin, ... in the order of the model's graph
inputs. tests/oracle/run_ort.mjs then adds output_0.bin, ... from onnxruntime.

A .bin file is an ASCII header line "f32 <rank> <d0> <d1> ...\\n" followed by the
tensor's float32 values in little-endian byte order, row-major (C order).

Photo cases read the face photos in SHARED/faces and preprocess them the way each
model's own pipeline does (see the PHOTO CASES comments below). Random cases draw
standard-normal values from a fixed seed, so every run writes the same bytes.

Run with Debian's interpreter, which has python3-opencv, python3-skimage and numpy:
  /usr/bin/python3 make_inputs.py --out DIR --models DIR [--shared DIR] [--generated DIR]
Cases that need SHARED (its photos, SCRFD models and make_iresnet50.py) are skipped
with a message when it is missing.
"""
import argparse
import csv
import os
import subprocess
import sys
import zlib

import cv2
import numpy as np
from skimage.transform import SimilarityTransform

# ArcFace's 112x112 landmark template (insightface face_align.arcface_dst): left eye,
# right eye, nose tip, left and right mouth corners, in aligned-crop pixels.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
     [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)

# Photos for the batch-8 embedding case: eight faces of six people (a and b twice).
BATCH_PHOTOS = ['a01.jpg', 'a02.jpg', 'b01.jpg', 'b02.jpg',
                'c01.jpg', 'd01.jpg', 'e01.jpg', 'f01.jpg']


def write_tensor(path, array):
    """Write one tensor in the oracle's .bin format."""
    array = np.ascontiguousarray(array, dtype='<f4')
    header = 'f32 %d %s\n' % (array.ndim, ' '.join(str(d) for d in array.shape))
    with open(path, 'wb') as f:
        f.write(header.encode('ascii'))
        f.write(array.tobytes())


def write_case(out, name, model, inputs):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    # Remove outputs of an earlier run, so a stale output never sits beside new inputs.
    for entry in os.listdir(folder):
        if entry.endswith('.bin'):
            os.remove(os.path.join(folder, entry))
    with open(os.path.join(folder, 'model.txt'), 'w') as f:
        f.write(os.path.abspath(model) + '\n')
    for index, array in enumerate(inputs):
        write_tensor(os.path.join(folder, 'input_%d.bin' % index), array)
    shapes = ', '.join('x'.join(str(d) for d in a.shape) for a in inputs)
    print('make_inputs: %-22s %s  (%s)' % (name, shapes, os.path.basename(model)))


def random_normal(case_name, shape):
    """Standard-normal float32 values seeded from the case name (CRC-32)."""
    rng = np.random.default_rng(zlib.crc32(case_name.encode('ascii')))
    return rng.standard_normal(shape, dtype=np.float32)


def read_photo(shared, name):
    path = os.path.join(shared, 'faces', name)
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit('make_inputs: error: cannot read %s; check the shared data folder' % path)
    return image  # BGR, HxWx3, uint8


def read_reference_faces(shared):
    """Map photo name -> (box x1, y1, x2, y2; 5x2 landmarks) in source-image pixels."""
    path = os.path.join(shared, 'faces', 'reference_faces.csv')
    faces = {}
    with open(path, newline='') as f:
        for row in csv.DictReader(f):
            box = [float(row[k]) for k in ('box_x1', 'box_y1', 'box_x2', 'box_y2')]
            points = np.array([[float(row['kp%d_x' % i]), float(row['kp%d_y' % i])]
                               for i in range(5)], np.float32)
            faces[row['file']] = (box, points)
    return faces


def to_nchw(image_hwc):
    return np.transpose(image_hwc, (2, 0, 1))[np.newaxis]


# PHOTO CASES

def fr_detect_input(image):
    """fr_detect (faceplugin's RetinaFace-style detector): stretch to 320x240 without
    keeping the aspect ratio, RGB, (x - 127) / 128, 1x3x240x320."""
    resized = cv2.resize(image, (320, 240), interpolation=cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32)
    return to_nchw((rgb - 127.0) / 128.0)


def fr_landmark_input(image, box):
    """fr_landmark: a square crop centred on the face box with side max(w, h), moved
    inside the image, resized to 64x64, grey, x / 256, 1x1x64x64."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    side = min(max(x2 - x1, y2 - y1), width, height)
    left = int(round(min(max((x1 + x2 - side) / 2, 0), width - side)))
    top = int(round(min(max((y1 + y2 - side) / 2, 0), height - side)))
    side = int(side)
    crop = image[top:top + side, left:left + side]
    grey = cv2.cvtColor(cv2.resize(crop, (64, 64), interpolation=cv2.INTER_LINEAR),
                        cv2.COLOR_BGR2GRAY).astype(np.float32)
    return (grey / 256.0)[np.newaxis, np.newaxis]


def aligned_face(image, landmarks):
    """insightface's norm_crop: least-squares similarity transform of the 5 landmarks
    onto the ArcFace template, warpAffine to 112x112 with a black border."""
    transform = SimilarityTransform()
    transform.estimate(landmarks, ARCFACE_TEMPLATE)
    return cv2.warpAffine(image, transform.params[0:2, :], (112, 112), borderValue=0.0)


def fr_feature_input(crops):
    """fr_feature (ArcFace-style embedder): RGB, (x - 127) / 128, Nx3x112x112."""
    batch = [cv2.cvtColor(c, cv2.COLOR_BGR2RGB).astype(np.float32) for c in crops]
    return np.stack([np.transpose((c - 127.0) / 128.0, (2, 0, 1)) for c in batch])


def scrfd_input(image, canvas_height, canvas_width):
    """SCRFD as insightface 0.7 SCRFD.detect prepares it: resize keeping the aspect
    ratio into the top-left corner of a zero canvas, RGB, (x - 127.5) / 128."""
    image_ratio = image.shape[0] / image.shape[1]
    canvas_ratio = canvas_height / canvas_width
    if image_ratio > canvas_ratio:
        new_height = canvas_height
        new_width = int(new_height / image_ratio)
    else:
        new_width = canvas_width
        new_height = int(new_width * image_ratio)
    canvas = np.zeros((canvas_height, canvas_width, 3), np.uint8)
    canvas[:new_height, :new_width] = cv2.resize(image, (new_width, new_height))
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.float32)
    return to_nchw((rgb - 127.5) / 128.0)


def make_iresnet50(shared, generated):
    """Generate the random-weight ArcFace R50 network once; return its path."""
    path = os.path.join(generated, 'iresnet50_random.onnx')
    if os.path.isfile(path):
        return path
    os.makedirs(generated, exist_ok=True)
    tool = os.path.join(shared, 'tools', 'make_iresnet50.py')
    partial = path + '.part'
    print('make_inputs: generating %s with %s' % (path, tool))
    subprocess.run(['/usr/bin/python3', tool, partial], check=True, stdout=subprocess.DEVNULL)
    os.replace(partial, path)
    return path


def default_pack_cases(out, models, shared):
    detect = os.path.join(models, 'fr_detect.onnx')
    landmark = os.path.join(models, 'fr_landmark.onnx')
    feature = os.path.join(models, 'fr_feature.onnx')
    for path in (detect, landmark, feature):
        if not os.path.isfile(path):
            raise SystemExit('make_inputs: error: %s not found; run scripts/fetch-models.sh %s'
                             % (path, models))

    write_case(out, 'fr_detect_random', detect, [random_normal('fr_detect_random', (1, 3, 240, 320))])
    write_case(out, 'fr_landmark_random', landmark, [random_normal('fr_landmark_random', (1, 1, 64, 64))])
    write_case(out, 'fr_feature_random', feature, [random_normal('fr_feature_random', (1, 3, 112, 112))])
    if shared is None:
        return

    faces = read_reference_faces(shared)
    write_case(out, 'fr_detect', detect, [fr_detect_input(read_photo(shared, 'group-two.jpg'))])
    box, _ = faces['a02.jpg']
    write_case(out, 'fr_landmark', landmark, [fr_landmark_input(read_photo(shared, 'a02.jpg'), box)])
    crops = [aligned_face(read_photo(shared, name), faces[name][1]) for name in BATCH_PHOTOS]
    write_case(out, 'fr_feature_b1', feature, [fr_feature_input(crops[:1])])
    # NOTE: fr_feature.onnx declares batch 1 and reshapes to [1, -1] before its output,
    # so onnxruntime cannot run it on 8 images at once. run_ort.mjs runs this case as 8
    # batch-1 runs and stacks the outputs: output_0 row i is the embedding of image i.
    write_case(out, 'fr_feature_b8', feature, [fr_feature_input(crops)])


def shared_model_cases(out, shared, generated):
    scrfd = os.path.join(shared, 'models')
    group = read_photo(shared, 'group-two.jpg')
    landscape = read_photo(shared, 'a02.jpg')  # 1536x1152, the 4:3 aspect of 640x480
    write_case(out, 'scrfd_500m_bnkps_640', os.path.join(scrfd, 'scrfd_500m_bnkps.onnx'),
               [scrfd_input(group, 640, 640)])
    write_case(out, 'scrfd_2.5g_640', os.path.join(scrfd, 'scrfd_2.5g_bnkps.onnx'),
               [scrfd_input(group, 640, 640)])
    write_case(out, 'scrfd_2.5g_480x640', os.path.join(scrfd, 'scrfd_2.5g_bnkps.onnx'),
               [scrfd_input(landscape, 480, 640)])
    write_case(out, 'scrfd_500m_640', os.path.join(scrfd, 'scrfd_500m.onnx'),
               [scrfd_input(landscape, 640, 640)])

    iresnet = make_iresnet50(shared, generated)
    write_case(out, 'iresnet50_b1', iresnet, [random_normal('iresnet50_b1', (1, 3, 112, 112))])
    write_case(out, 'iresnet50_b8', iresnet, [random_normal('iresnet50_b8', (8, 3, 112, 112))])


def main():
    parser = argparse.ArgumentParser(description='Write the input tensors of the onnxruntime oracle cases.')
    parser.add_argument('--out', required=True, help='folder that receives one subfolder per case')
    parser.add_argument('--models', required=True, help='folder with the default pack (fr_*.onnx)')
    parser.add_argument('--shared', help='shared data folder with faces/, models/ and tools/')
    parser.add_argument('--generated', help='folder for generated models (default: OUT/../generated-models)')
    args = parser.parse_args()

    shared = args.shared
    if shared is not None and not os.path.isdir(os.path.join(shared, 'faces')):
        print('make_inputs: %s/faces not found: skipping the photo, SCRFD and iresnet50 cases'
              % shared, file=sys.stderr)
        shared = None
    elif shared is None:
        print('make_inputs: no --shared folder given: skipping the photo, SCRFD and iresnet50 cases',
              file=sys.stderr)
    generated = args.generated or os.path.join(os.path.dirname(os.path.abspath(args.out)),
                                               'generated-models')

    os.makedirs(args.out, exist_ok=True)
    default_pack_cases(args.out, args.models, shared)
    if shared is not None:
        shared_model_cases(args.out, shared, generated)
    return 0


if __name__ == '__main__':
    sys.exit(main())
