import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `benchmarks` and `tools` import as packages from the checkout


def pytest_configure(config):
    # The test process runs MLX in strict float32 (MLX reads its setting once); tf32 cases run in
    # processes of their own, which import the tests without this hook.
    from benchmarks.common import fix_mlx_precision

    fix_mlx_precision("strict")
    # The suite filters it at import; pytest resets warning filters around each test.
    config.addinivalue_line("filterwarnings", r"ignore:index_reduce\(\) is in beta:UserWarning")
