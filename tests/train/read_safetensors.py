"""A minimal safetensors reader using only Python's standard library, to show that Fovea's
checkpoints follow the format (the `safetensors` package is not in Debian). Prints one line per
tensor: name and the sum of its values."""
import json
import struct
import sys

with open(sys.argv[1], "rb") as f:
    (header_len,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(header_len))
    data = f.read()

header.pop("__metadata__", None)
for name, entry in header.items():
    assert entry["dtype"] == "F32", entry["dtype"]
    begin, end = entry["data_offsets"]
    count = 1
    for s in entry["shape"]:
        count *= s
    assert end - begin == 4 * count, name
    values = struct.unpack(f"<{count}f", data[begin:end])
    print(name, sum(values))
