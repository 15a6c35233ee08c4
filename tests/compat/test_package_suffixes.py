"""``@package_suffixes``: a flow mutator that puts more kinds of file from the flow's folder into
its code package (``metaflow.plugins.package_suffixes_mutator``)."""

from __future__ import annotations

import os
import sys
import textwrap

from headwater.decorators.package_hooks import ContentType, package_additions
from headwater.decorators.package_suffixes import package_suffixes
from headwater.flow_file import load_flow_class


def test_suffixes_are_given_as_a_list_or_a_comma_separated_string():
    assert package_suffixes([".yaml", "JSON"])._suffixes == (".yaml", ".json")
    assert package_suffixes(".yaml,json, .txt,")._suffixes == (".yaml", ".json", ".txt")


def _flow_folder(tmp_path, suffixes: str):
    (tmp_path / "flow.py").write_text(textwrap.dedent(f"""
        from headwater import FlowSpec, step
        from headwater.decorators.package_suffixes import package_suffixes

        @package_suffixes({suffixes})
        class SuffixFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    """))
    (tmp_path / "config.yaml").write_text("a: 1\n")
    (tmp_path / "data.JSON").write_text("{}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "nested.yaml").write_text("b: 2\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "secret.yaml").write_text("c: 3\n")
    (tmp_path / "notes.txt").write_text("left out\n")
    os.symlink("/etc/hostname", tmp_path / "outside.yaml")
    return str(tmp_path / "flow.py")


def test_the_files_with_those_suffixes_join_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    flow_cls = load_flow_class(_flow_folder(tmp_path, '[".yaml", "json"]'))
    mutator = flow_cls.__dict__["_hw_flow_mutators"][0]
    entries = list(mutator.add_to_package())
    assert {arcname for _, arcname, _ in entries} == {
        "config.yaml", "data.JSON", os.path.join("sub", "nested.yaml")}
    assert {kind for _, _, kind in entries} == {ContentType.USER_CONTENT}
    added = dict((arcname, path) for path, arcname in package_additions(flow_cls))
    assert added["config.yaml"] == os.path.realpath(tmp_path / "config.yaml")


def test_no_suffixes_add_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    flow_cls = load_flow_class(_flow_folder(tmp_path, "[]"))
    assert package_additions(flow_cls) == []
