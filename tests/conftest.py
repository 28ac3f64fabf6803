import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `benchmarks` and `tools` import as packages from the checkout

from benchmarks import common  # noqa: E402

# The test process runs MLX in strict float32 (MLX reads this once); tf32 cases run in processes of their own.
common.fix_mlx_precision("strict")
