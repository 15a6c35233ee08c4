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


def test_the_eighth_round_draws_from_its_own_seeds_only():
    differential = _differential()
    for seed in (561, 1024, 1999):
        generator = differential._Generator(seed)
        text = generator.source()
        assert "_priv8" not in text and "long8_" not in text, seed
        assert not generator.caught8, seed
        assert differential._Generator(seed).source() == text
    drawn = [differential._Generator(seed) for seed in range(2000, 2060)]
    texts = {}
    for generator in drawn:
        text = texts[id(generator)] = generator.source()
        ast.parse(text)
        assert "self._priv8 = " in text and "self.long8_" in text
        # one step fails on the first run, and only that one
        assert text.count("os.environ.get('DIFF_FAIL')") == (1 if generator.fail_step else 0)
        for name in generator.caught8:
            step = generator.steps[name]
            assert step.join and f"@catch(var='err_{name}')" in step.decorators
            assert step.body[-1].startswith("raise ValueError")
    assert any(g.caught8 for g in drawn)
    hooked = [g for g in drawn if g.exit_hook]
    assert hooked and all("@exit_hook(on_success=[hook8_ok]" in texts[id(g)] for g in hooked)
    assert any("config_expr('conf.x * 60')" in text for text in texts.values())
    # a resume that names the first step of a foreach's body, ahead of the failed step
    firsts = {first for g in drawn for _join, first, _exits in g.foreach_joins
              if g.resume_args == [first]}
    assert firsts
