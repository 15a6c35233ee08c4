"""tools/differential.py's grammar: every seed's flow is Python, and each round's features are
drawn only from the seeds of that round on (a seed's flow stays the one earlier rounds ran)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def _differential():
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    import differential

    return differential


def test_every_seed_of_every_round_makes_a_flow_that_parses():
    differential = _differential()
    for seed in [*range(0, 6), 200, 300, 353, 470, 560, 561, *range(1000, 1040)]:
        text = differential._Generator(seed).source()
        ast.parse(text, filename=f"flow{seed}.py")
        assert "class DiffFlow(FlowSpec):" in text


def test_the_seventh_round_draws_from_its_own_seeds_only():
    differential = _differential()
    for seed in (470, 561, 999):
        generator = differential._Generator(seed)
        text = generator.source()
        assert "diffshapes" not in text and "LIMIT7" not in text, seed
        assert not generator.tail7 and not generator.retried7, seed
    drawn = [differential._Generator(seed) for seed in range(1000, 1040)]
    for generator in drawn:
        text = generator.source()
        assert "from diffshapes import" in text and "LIMIT7 = 3" in text
        assert "class Point" in generator.files["diffshapes.py"]
        # the helper module is imported before any flow decorator, never between it and the class
        lines = text.splitlines()
        assert lines.index("from diffshapes import Color, Pair, Point, Span") < min(
            k for k, line in enumerate(lines) if line.startswith(("@project", "class DiffFlow")))
    assert any(g.tail7 for g in drawn) and any(g.retried7 for g in drawn)
    kinds = {kind for g in drawn for kind in g.retried7.values()}
    assert kinds == {"slow once", "twice"}


def test_a_seed_draws_the_same_flow_twice():
    differential = _differential()
    for seed in (471, 1003, 1024):
        assert differential._Generator(seed).source() == differential._Generator(seed).source()
