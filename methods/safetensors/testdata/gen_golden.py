#!/usr/bin/python3
"""Writes testdata/mixed.safetensors: one small tensor per dtype, written by an independent
(pure Python + numpy) safetensors writer, so the Go reader is checked against another implementation.

Run from methods/safetensors:  /usr/bin/python3 testdata/gen_golden.py
The values are exactly representable in every dtype, so the Go test compares them exactly.
"""
import json
import struct

import numpy as np

VALUES = [0.0, 1.0, -2.0, 0.5, 3.25, -0.125]  # exact in F16, BF16, F32, F64

def bf16_bytes(a):
    bits = np.asarray(a, dtype=np.float32).view(np.uint32) >> 16
    return bits.astype("<u2").tobytes()

tensors = [
    ("a_f32", "F32", [2, 3], np.array(VALUES, dtype="<f4").tobytes()),
    ("b_f16", "F16", [3, 2], np.array(VALUES, dtype="<f2").tobytes()),
    ("c_bf16", "BF16", [6], bf16_bytes(VALUES)),
    ("d_f64", "F64", [1, 6], np.array(VALUES, dtype="<f8").tobytes()),
    ("e_i64", "I64", [], np.array(12345, dtype="<i8").tobytes()),  # like num_batches_tracked
    ("f_empty", "F32", [0, 4], b""),
]
header = {"__metadata__": {"format": "pt", "written_by": "gen_golden.py"}}
blob = b""
# Deliberately lay the data out in reverse name order: readers must follow data_offsets.
for name, dtype, shape, data in reversed(tensors):
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
    blob += data
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open("testdata/mixed.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + blob)
print("wrote testdata/mixed.safetensors", 8 + len(h) + len(blob), "bytes")
