"""Server-side SVG dependency graph: valid XML, layered layout, links, states, escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from architecture.bundle import curated_bundle
from architecture.lint import lint, worst_by_component
from architecture.svg import NODE_H, NODE_W, SVG_NS, compute_layout, node_id, render_svg

from .conftest import entry, make_bundle

NS = {"s": SVG_NS}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own generated SVG, not untrusted input


def node(root: ET.Element, name: str) -> ET.Element:
    found = [el for el in root.iter() if el.get("id") == node_id(name)]
    assert len(found) == 1, name
    return found[0]


def test_curated_graph_has_every_component_with_title_and_link():
    bundle = curated_bundle()
    root = parse(render_svg(bundle, links=lambda c: f"/architecture/components/{c.name}/"))
    assert root.find("s:title", NS).text == f"Dependency graph of {bundle.name}"
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {width:.0f} {height:.0f}"
    for name in bundle.names():
        element = node(root, name)
        assert element.tag == f"{{{SVG_NS}}}a"
        assert element.get("href") == f"/architecture/components/{name}/"
        title = element.find("s:title", NS)
        assert title is not None and title.text.startswith(name)
        rect = element.find("s:rect", NS)
        assert float(rect.get("x")) >= 0 and float(rect.get("x")) + NODE_W <= width
        assert float(rect.get("y")) + NODE_H <= height


def test_no_links_means_plain_groups():
    root = parse(render_svg(make_bundle(entry("a"), entry("b", ["a"]))))
    assert node(root, "a").tag == f"{{{SVG_NS}}}g"
    assert list(root.iter(f"{{{SVG_NS}}}a")) == []


def test_layers_put_dependencies_above_dependents():
    bundle = make_bundle(entry("c", ["b"]), entry("b", ["a"]), entry("a"), entry("d", ["a", "c"]))
    layout = compute_layout(bundle)
    assert [layout.nodes[n].layer for n in "abcd"] == [0, 1, 2, 3]
    assert layout.nodes["a"].y < layout.nodes["b"].y < layout.nodes["c"].y < layout.nodes["d"].y
    # d -> a is implied by d -> c -> b -> a, so only the reduced edges are drawn by default.
    assert ("d", "a") not in layout.edges and ("d", "c") in layout.edges
    assert ("d", "a") in compute_layout(bundle, all_edges=True).edges


def test_barycentric_ordering_avoids_a_crossing():
    # Role/name order would place x under b-side and y under a-side crossing the edges.
    bundle = make_bundle(entry("a"), entry("b"), entry("x", ["b"]), entry("y", ["a"]))
    layout = compute_layout(bundle)
    first = layout.nodes["a"].x < layout.nodes["b"].x
    second = layout.nodes["y"].x < layout.nodes["x"].x
    assert first == second


def test_wide_layers_wrap_without_overlap():
    bundle = make_bundle(entry("root"), *(entry(f"leaf-{i:02d}", ["root"]) for i in range(25)))
    layout = compute_layout(bundle, max_per_row=8)
    boxes = [(b.x, b.y) for b in layout.nodes.values()]
    for i, (x1, y1) in enumerate(boxes):
        for x2, y2 in boxes[i + 1 :]:
            assert abs(x1 - x2) >= NODE_W or abs(y1 - y2) >= NODE_H
    rows = {b.y for name, b in layout.nodes.items() if name.startswith("leaf")}
    assert len(rows) == 4  # 25 leaves, 8 per row
    assert all(b.x + NODE_W <= layout.width for b in layout.nodes.values())


def test_states_colour_nodes_and_unknown_is_the_default():
    bundle = make_bundle(entry("a"), entry("b", ["a"]), entry("c", ["a"]))
    root = parse(render_svg(bundle, states={"a": "ok", "b": "down", "c": "exploded"}))
    assert "state-ok" in node(root, "a").get("class")
    assert "state-down" in node(root, "b").get("class")
    assert "state-unknown" in node(root, "c").get("class")
    assert "state: down" in node(root, "b").find("s:title", NS).text
    without = parse(render_svg(bundle))
    assert "state-" not in node(without, "a").get("class")


def test_text_is_escaped():
    bundle = make_bundle(entry('evil<script>&"x'), entry("b", ['evil<script>&"x']))
    svg = render_svg(bundle, links=lambda c: f"/c/?name={c.name}&x=1")
    assert "<script>" not in svg
    root = parse(svg)
    texts = [el.text for el in root.iter(f"{{{SVG_NS}}}text")]
    assert 'evil<script>&"x' in texts
    link = next(root.iter(f"{{{SVG_NS}}}a"))
    assert link.get("href").endswith("&x=1")


def test_cycles_and_missing_targets_are_drawn():
    bundle = make_bundle(entry("a", ["b"]), entry("b", ["a"]), entry("c", ["ghost"]))
    root = parse(render_svg(bundle))
    paths = [el for el in root.iter(f"{{{SVG_NS}}}path") if "edge" in (el.get("class") or "")]
    cycle = [p for p in paths if "cycle" in p.get("class")]
    assert len(cycle) == 1 and {cycle[0].get("data-from"), cycle[0].get("data-to")} == {"a", "b"}
    ghost = node(root, "ghost")
    assert "missing" in ghost.get("class")
    assert "not in the bundle" in ghost.find("s:title", NS).text


def test_duplicates_get_a_badge():
    bundle = make_bundle(entry("a"), entry("a"), entry("b", ["a"]))
    root = parse(render_svg(bundle))
    badges = [el.text for el in node(root, "a").iter(f"{{{SVG_NS}}}text") if el.get("class") == "badge"]
    assert badges == ["×2"]


def test_legend_lists_roles_present():
    root = parse(render_svg(make_bundle(entry("cilium"), entry("kamaji", ["cilium"]))))
    legend = root.find("s:g[@class='legend']", NS)
    labels = [el.text for el in legend.iter(f"{{{SVG_NS}}}text")]
    assert "Networking" in labels and "Tenant control planes" in labels
    assert "Storage" not in labels


def test_lint_issues_mark_nodes():
    bundle = make_bundle(entry("cilium"), entry("kamaji", ["cilium"]), entry("kamaji", ["cilium"]))
    findings = lint(bundle)
    issues = worst_by_component(findings)
    assert issues["kamaji"] == "error"
    root = parse(render_svg(bundle, issues=issues))
    kamaji = node(root, "kamaji")
    assert "issue-error" in kamaji.get("class")
    assert "lint: error" in kamaji.find("s:title", NS).text
    assert [el.text for el in kamaji.iter(f"{{{SVG_NS}}}text") if "lint" in (el.get("class") or "")] == ["!"]
    assert "issue-" not in node(root, "cilium").get("class")
    legend = root.find("s:g[@class='legend']", NS)
    assert "lint error" in [el.text for el in legend.iter(f"{{{SVG_NS}}}text")]
