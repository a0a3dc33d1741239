"""Build a FAConvLSTM sequence layer from a JSON config and run it on a global lat-lon grid.

python examples/grid_convlstm.py [--height 32 --width 64 --steps 6]
"""

import argparse
import json
from pathlib import Path

import torch

import faconv

p = argparse.ArgumentParser()
p.add_argument("--height", type=int, default=32)
p.add_argument("--width", type=int, default=64)
p.add_argument("--steps", type=int, default=6)
args = p.parse_args()

config = json.loads((Path(__file__).parent / "configs" / "fa_convlstm_grid.json").read_text())
layer = faconv.build(config)
print(layer.cell)

# A global grid: latitudes for the area-weighted squeeze, periodic in longitude.
lat = torch.linspace(88.5, -88.5, args.height).tolist()
lon = torch.arange(args.width) * 360.0 / args.width
domain = faconv.GridDomain.from_coords(lat, lon.tolist())
x = torch.randn(2, args.steps, args.height, args.width, 7)  # (B, T, H, W, C)
hs = layer(x, domain)
print("input", tuple(x.shape), "-> hidden states", tuple(hs.shape), "periodic:", domain.periodic)

# The config round trip rebuilds the same architecture.
rebuilt = faconv.build(json.loads(json.dumps(layer.to_config())))
rebuilt.load_state_dict(layer.state_dict())
torch.testing.assert_close(rebuilt(x, domain), hs)
print("config round trip: identical outputs")
