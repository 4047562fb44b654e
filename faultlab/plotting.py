"""matplotlib behind the `plots` extra: loaded on demand (a one-line error naming the extra
when it is missing) and figures saved with a one-line error when the file cannot be."""
from __future__ import annotations

from pathlib import Path

from faultlab.errors import FaultlabError


def pyplot(option: str):
    """matplotlib.pyplot on the file backend; `option` names what asked (--png, --plot)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise FaultlabError(f"{option} needs matplotlib: pip install 'faultlab[plots]'") \
            from None
    return plt


def save(fig, path: Path, dpi: int = 110) -> Path:
    """Write `fig` to `path` and close it."""
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    except OSError as e:
        raise FaultlabError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        plt.close(fig)
    return path
