"""ui/provenance.py: which task set an artifact's value, walking up first inputs by content key."""

from __future__ import annotations

from types import SimpleNamespace

from headwater.ui.provenance import ANCESTORS_READ, makers


class Chain:
    """A run whose tasks form one line s0 <- s1 <- ... (each task's first input the one
    before), each holding a manifest name -> key."""

    def __init__(self, manifests: list[dict[str, str]]) -> None:
        self.rows = [SimpleNamespace(flow="F", run_id="1", pathspec=f"F/1/s{i}/{i}",
                                     parents=[f"s{i - 1}/{i - 1}"] if i else [])
                     for i in range(len(manifests))]
        self.manifests = manifests
        self.reads = 0

    def get_task(self, flow, run_id, step, task_id):  # type: ignore[no-untyped-def]
        return self.rows[int(task_id)]

    def get_artifacts(self, flow, run_id, step, task_id):  # type: ignore[no-untyped-def]
        self.reads += 1
        return {n: SimpleNamespace(key=k) for n, k in self.manifests[int(task_id)].items()}


def _made(chain: Chain, names: list[str]) -> dict[str, str | None]:
    last = chain.rows[-1]
    manifest = {n: SimpleNamespace(key=k) for n, k in chain.manifests[-1].items()}
    return makers(chain, last, manifest, names)  # type: ignore[arg-type]


def test_inherited_values_name_the_earliest_task_holding_them_unchanged():
    chain = Chain([{"a": "k1", "b": "k2"},
                   {"a": "k1", "b": "k3", "c": "k4"},  # b set again here, c made here
                   {"a": "k1", "b": "k3", "c": "k4", "d": "k5"}])
    assert _made(chain, ["a", "b", "c", "d"]) == {
        "a": "F/1/s0/0", "b": "F/1/s1/1", "c": "F/1/s1/1", "d": "F/1/s2/2"}


def test_a_value_set_again_differently_stops_the_walk_even_if_an_older_task_matches():
    chain = Chain([{"a": "k1"}, {"a": "k2"}, {"a": "k1"}])
    assert _made(chain, ["a"]) == {"a": "F/1/s2/2"}


def test_the_walk_is_bounded_and_says_it_does_not_know_past_the_bound():
    chain = Chain([{"a": "k1", "b": "k0"}] + [{"a": "k1", "b": f"k{i}"}
                                             for i in range(1, ANCESTORS_READ + 10)])
    made = _made(chain, ["a", "b"])
    assert made["a"] is None  # held unchanged further up than the walk reads
    assert made["b"] == chain.rows[-1].pathspec
    assert chain.reads == ANCESTORS_READ  # a bounded number of manifests read, not the chain
