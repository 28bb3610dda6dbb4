"""Server-side SVG dependency graph of a bundle: layered layout in Python, no browser-side library.

``render_svg(bundle, links=None, states=None, max_per_row=10, all_edges=False) -> str``

* Layering: longest path over dependsOn (dependencies above their dependents; cycle back edges are ignored for
  layering and drawn dashed red). Wide layers wrap into several rows of at most ``max_per_row`` nodes.
* Ordering: barycentric sweeps (down and up) inside each layer to reduce edge crossings.
* Edges: the transitive reduction of dependsOn by default (an edge implied by a longer path is hidden,
  which keeps 87-component bundles readable); ``all_edges=True`` draws every declared edge.
  Arrow A -> B means "A depends on B".
* Nodes: ``<a href>`` (when ``links(component)`` returns a URL) or ``<g>``, id ``node-<name>``, class
  ``node role-<role> state-<state>``, a ``<title>`` with name/role/description/state, fill by role,
  border by state. dependsOn targets missing from the bundle are drawn as dashed "missing" nodes;
  duplicate entries get a badge.
* Text goes through ElementTree, so names and descriptions are always escaped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from architecture import stack
from architecture.bundle import Bundle, Component

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)

NODE_W, NODE_H = 184, 42
H_GAP, ROW_GAP, LAYER_GAP = 18, 26, 58
MARGIN = 20
LEGEND_ROW_H, LEGEND_COL_W = 22, 200
MIN_WIDTH = 640

STATES = ("ok", "degraded", "down", "unknown")
STATE_COLOURS = {"ok": "#2e7d32", "degraded": "#ed6c02", "down": "#c62828", "unknown": "#9e9e9e"}
NEUTRAL_STROKE = "#5f6b7a"
ISSUE_COLOURS = {"error": "#c62828", "warning": "#ed6c02", "info": "#1565c0"}
MISSING_FILL = "#ffffff"

_CSS = """
text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;fill:#1f2933}
.node rect.box{stroke-width:1.6}
.node:hover rect.box,a.node:focus rect.box{stroke-width:3}
.node .name{font-size:12px;font-weight:600}
.node .meta{font-size:10px;fill:#52606d}
.node.missing rect.box{stroke:#c62828;stroke-dasharray:5 3}
.badge{font-size:10px;font-weight:700;fill:#c62828}
.edge{fill:none;stroke:#8a94a6;stroke-width:1.1}
.edge.cycle{stroke:#c62828;stroke-dasharray:4 3;stroke-width:1.6}
.band{fill:#f5f7fa}
.legend text{font-size:11px}
.title{font-size:14px;font-weight:600}
.lint{font-size:13px;font-weight:800}
.lint-error{fill:#c62828}.lint-warning{fill:#ed6c02}.lint-info{fill:#1565c0}
"""


@dataclass
class NodeBox:
    name: str
    layer: int
    x: float = 0.0
    y: float = 0.0
    missing: bool = False

    @property
    def cx(self) -> float:
        return self.x + NODE_W / 2

    @property
    def right(self) -> float:
        return self.x + NODE_W


@dataclass
class Layout:
    nodes: dict[str, NodeBox]
    layers: list[list[str]]  # ordered names per layer
    edges: list[tuple[str, str]]  # (dependent, dependency) drawn
    back_edges: set[tuple[str, str]]
    width: float
    height: float
    top: float  # y where the graph starts (below title and legend)
    rows: list[tuple[float, float]] = field(default_factory=list)  # (y, height) of each layer band


# --------------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------------


def _graph(bundle: Bundle) -> tuple[dict[str, list[str]], set[str]]:
    present = bundle.names()
    graph: dict[str, list[str]] = {name: [] for name in present}
    missing: dict[str, None] = {}
    for component in bundle.unique():
        for dep in dict.fromkeys(component.depends_on):
            if dep not in graph and dep not in missing:
                missing[dep] = None
            graph[component.name].append(dep)
    for name in missing:
        graph[name] = []
    return graph, set(missing)


def _back_edges(graph: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Edges closing a cycle in a DFS (iterative), including self-dependencies."""
    colour: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    for root in graph:
        if root in colour:
            continue
        colour[root] = 1
        work = [(root, iter(graph[root]))]
        while work:
            node, targets = work[-1]
            advanced = False
            for target in targets:
                state = colour.get(target, 0)
                if state == 1:
                    back.add((node, target))
                elif state == 0:
                    colour[target] = 1
                    work.append((target, iter(graph[target])))
                    advanced = True
                    break
            if not advanced:
                colour[node] = 2
                work.pop()
    return back


def _longest_path_layers(dag: dict[str, list[str]]) -> dict[str, int]:
    layer: dict[str, int] = {}
    for root in dag:
        if root in layer:
            continue
        work = [root]
        while work:
            node = work[-1]
            pending = [d for d in dag[node] if d not in layer]
            if pending:
                work.extend(pending)
                continue
            work.pop()
            layer[node] = 1 + max((layer[d] for d in dag[node]), default=-1)
    return layer


def _reachable(dag: dict[str, list[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(dag[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(dag[node])
    return seen


def _transitive_reduction(dag: dict[str, list[str]]) -> list[tuple[str, str]]:
    reach = {name: _reachable(dag, name) for name in dag}
    edges: list[tuple[str, str]] = []
    for name, deps in dag.items():
        for dep in deps:
            if not any(dep in reach[other] for other in deps if other != dep):
                edges.append((name, dep))
    return edges


def compute_layout(bundle: Bundle, max_per_row: int = 10, all_edges: bool = False, top: float = 0.0) -> Layout:
    graph, missing = _graph(bundle)
    back = _back_edges(graph)
    dag = {name: [d for d in deps if (name, d) not in back] for name, deps in graph.items()}
    layer_of = _longest_path_layers(dag)
    drawn = [(a, b) for a, deps in dag.items() for b in deps] if all_edges else _transitive_reduction(dag)
    count = max(layer_of.values(), default=-1) + 1
    role_order = {role: i for i, role in enumerate(stack.ROLES)}
    layers: list[list[str]] = [[] for _ in range(count)]
    for name in sorted(graph, key=lambda n: (role_order[stack.component_info(n).role], n)):
        layers[layer_of[name]].append(name)
    _order_barycentric(layers, drawn)

    per_row = max(1, min(max_per_row, max((len(layer) for layer in layers), default=1)))
    grid_width = per_row * NODE_W + (per_row - 1) * H_GAP
    half_slot = (NODE_W + H_GAP) / 2
    wraps = any(len(layer) > per_row for layer in layers)
    width = max(MIN_WIDTH, 2 * MARGIN + grid_width + (half_slot if wraps else 0.0))
    left = (width - grid_width - (half_slot if wraps else 0.0)) / 2
    nodes: dict[str, NodeBox] = {}
    bands: list[tuple[float, float]] = []
    y = top + MARGIN
    for index, names in enumerate(layers):
        band_top = y
        rows = [names[i : i + per_row] for i in range(0, len(names), per_row)] or [[]]
        for row_index, row in enumerate(rows):
            row_width = len(row) * NODE_W + max(0, len(row) - 1) * H_GAP
            # Stagger wrapped rows by half a slot so edges from lower rows pass between the boxes above.
            stagger = half_slot if row_index % 2 else 0.0
            x = left + (grid_width - row_width) / 2 + stagger
            for name in row:
                nodes[name] = NodeBox(name, index, x, y, missing=name in missing)
                x += NODE_W + H_GAP
            y += NODE_H + ROW_GAP
        y += LAYER_GAP - ROW_GAP
        bands.append((band_top - LAYER_GAP / 4, y - band_top - LAYER_GAP / 2))
    height = y - LAYER_GAP + MARGIN * 2
    return Layout(nodes, layers, drawn, back, width, height, top, bands)


def _order_barycentric(layers: list[list[str]], edges: list[tuple[str, str]], sweeps: int = 4) -> None:
    """Reorder each layer by the mean position of its neighbours (down: dependencies, up: dependents)."""
    deps: dict[str, list[str]] = {}
    dependents: dict[str, list[str]] = {}
    for src, dst in edges:
        deps.setdefault(src, []).append(dst)
        dependents.setdefault(dst, []).append(src)
    downward = range(len(layers))
    upward = range(len(layers) - 1, -1, -1)
    for _ in range(sweeps):
        for neighbours, order in ((deps, downward), (dependents, upward)):
            for index in order:
                pos = _relative_positions(layers)
                layers[index] = _sorted_by_barycentre(layers[index], neighbours, pos)


def _relative_positions(layers: list[list[str]]) -> dict[str, float]:
    pos: dict[str, float] = {}
    for layer in layers:
        span = max(1, len(layer) - 1)
        for i, name in enumerate(layer):
            pos[name] = i / span if len(layer) > 1 else 0.5
    return pos


def _sorted_by_barycentre(layer: list[str], neighbours: dict[str, list[str]], pos: dict[str, float]) -> list[str]:
    current = {name: i for i, name in enumerate(layer)}

    def key(name: str) -> tuple[float, int]:
        linked = [pos[n] for n in neighbours.get(name, ()) if n in pos]
        return (sum(linked) / len(linked) if linked else pos[name], current[name])

    return sorted(layer, key=key)


# --------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: object) -> ET.Element:
    element = ET.SubElement(
        parent, f"{{{SVG_NS}}}{tag}", {k.rstrip("_").replace("_", "-"): str(v) for k, v in attrs.items()}
    )
    if text is not None:
        element.text = text
    return element


def node_id(name: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)
    return f"node-{safe}"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_svg(
    bundle: Bundle,
    links: Callable[[Component], str | None] | None = None,
    states: Mapping[str, str] | None = None,
    max_per_row: int = 10,
    all_edges: bool = False,
    title: str | None = None,
    issues: Mapping[str, str] | None = None,
) -> str:
    """Render the bundle's dependency graph as a standalone SVG document (string).

    ``links(component)`` gives each node's URL (or None), ``states`` maps names to ok/degraded/down/unknown,
    ``issues`` maps names to the worst lint severity (see ``lint.worst_by_component``) and marks those nodes.
    """
    roles_present = list(dict.fromkeys(c.role for c in bundle.unique()))
    has_missing = any(dep not in bundle for c in bundle.unique() for dep in c.depends_on)
    issue_levels = [level for level in ISSUE_COLOURS if level in set((issues or {}).values())]
    legend_items = len(roles_present) + (len(STATES) if states is not None else 0) + 1 + int(has_missing)
    legend_items += len(issue_levels)
    # Lay out once to learn the width, then again below the legend (cheap: a few hundred nodes at most).
    probe = compute_layout(bundle, max_per_row=max_per_row, all_edges=all_edges)
    legend_cols = max(1, int((probe.width - 2 * MARGIN) // LEGEND_COL_W))
    legend_height = 30 + LEGEND_ROW_H * ((legend_items + legend_cols - 1) // legend_cols)
    layout = compute_layout(bundle, max_per_row=max_per_row, all_edges=all_edges, top=legend_height)
    width, height = layout.width, layout.height

    root = ET.Element(
        f"{{{SVG_NS}}}svg",
        {
            "width": f"{width:.0f}",
            "height": f"{height:.0f}",
            "viewBox": f"0 0 {width:.0f} {height:.0f}",
            "role": "img",
            "aria-labelledby": "graph-title",
            "class": "dependency-graph",
        },
    )
    heading = title or f"Dependency graph of {bundle.name}"
    _el(root, "title", heading, id="graph-title")
    _el(root, "style", _CSS)
    defs = _el(root, "defs")
    for marker_id, colour in (("arrow", "#8a94a6"), ("arrow-cycle", "#c62828")):
        marker = _el(
            defs,
            "marker",
            id=marker_id,
            viewBox="0 0 10 10",
            refX=9,
            refY=5,
            markerWidth=7,
            markerHeight=7,
            orient="auto-start-reverse",
        )
        _el(marker, "path", d="M0,0 L10,5 L0,10 z", fill=colour)

    _el(root, "text", heading, x=MARGIN, y=22, class_="title")
    _legend(root, roles_present, states is not None, has_missing, issue_levels, legend_cols, width)

    bands = _el(root, "g", class_="bands")
    for index, (band_y, band_h) in enumerate(layout.rows):
        if index % 2 == 0:
            _el(
                bands,
                "rect",
                x=0,
                y=f"{band_y:.1f}",
                width=f"{width:.0f}",
                height=f"{band_h:.1f}",
                class_="band",
            )

    _edges(root, layout)
    _nodes(root, bundle, layout, links, states, issues)
    return ET.tostring(root, encoding="unicode")


def _legend(
    root: ET.Element,
    roles: list[str],
    with_states: bool,
    with_missing: bool,
    issue_levels: list[str],
    cols: int,
    width: float,
) -> None:
    group = _el(root, "g", class_="legend")
    items: list[tuple[str, str, str]] = [("role", stack.ROLES[r].colour, stack.ROLES[r].label) for r in roles]
    if with_states:
        items += [("state", STATE_COLOURS[s], s) for s in STATES]
    items += [("issue", ISSUE_COLOURS[level], f"lint {level}") for level in issue_levels]
    items.append(("edge", "", "A → B: A depends on B"))
    if with_missing:
        items.append(("missing", "", "dependency not in the bundle"))
    col_w = (width - 2 * MARGIN) / cols
    for i, (kind, colour, label) in enumerate(items):
        x = MARGIN + (i % cols) * col_w
        y = 34 + (i // cols) * LEGEND_ROW_H
        if kind == "role":
            _el(group, "rect", x=x, y=y, width=16, height=12, rx=3, fill=colour, stroke=NEUTRAL_STROKE)
        elif kind == "state":
            _el(
                group,
                "rect",
                x=x,
                y=y,
                width=16,
                height=12,
                rx=3,
                fill="#ffffff",
                stroke=colour,
                stroke_width=3,
            )
        elif kind == "issue":
            _el(group, "rect", x=x, y=y, width=16, height=12, rx=3, fill="#ffffff", stroke=NEUTRAL_STROKE)
            _el(group, "rect", x=x, y=y, width=4, height=12, fill=colour)
        elif kind == "edge":
            _el(group, "path", d=f"M{x},{y + 6} L{x + 16},{y + 6}", class_="edge", marker_end="url(#arrow)")
        else:
            _el(
                group,
                "rect",
                x=x,
                y=y,
                width=16,
                height=12,
                rx=3,
                fill=MISSING_FILL,
                stroke="#c62828",
                stroke_dasharray="3 2",
            )
        _el(group, "text", label, x=x + 22, y=y + 10)


def _edges(root: ET.Element, layout: Layout) -> None:
    group = _el(root, "g", class_="edges")
    nodes = layout.nodes
    drawn = list(layout.edges) + sorted(layout.back_edges)
    # Spread ports along the box edges so arrows into one node do not all meet in one point.
    outgoing: dict[str, list[tuple[str, str]]] = {}
    incoming: dict[str, list[tuple[str, str]]] = {}
    for edge in drawn:
        outgoing.setdefault(edge[0], []).append(edge)
        incoming.setdefault(edge[1], []).append(edge)

    def slots(table: dict[str, list[tuple[str, str]]], far_end: int) -> dict[tuple[str, tuple[str, str]], float]:
        """x of each edge's attachment point, ordered by the x of the edge's other end."""
        result: dict[tuple[str, tuple[str, str]], float] = {}
        for name, edges in table.items():
            ordered = sorted(edges, key=lambda e: nodes[e[far_end]].cx)
            for slot, edge in enumerate(ordered, start=1):
                result[(name, edge)] = nodes[name].x + 12 + (NODE_W - 24) * slot / (len(ordered) + 1)
        return result

    out_ports, in_ports = slots(outgoing, far_end=1), slots(incoming, far_end=0)

    for edge in drawn:
        src, dst = edge
        a, b = nodes[src], nodes[dst]
        cycle = edge in layout.back_edges
        css = "edge cycle" if cycle else "edge"
        marker = "url(#arrow-cycle)" if cycle else "url(#arrow)"
        if src == dst:
            x, y = a.x + NODE_W, a.y + NODE_H / 2
            d = f"M{x:.1f},{y - 8:.1f} C{x + 30:.1f},{y - 24:.1f} {x + 30:.1f},{y + 24:.1f} {x + 2:.1f},{y + 8:.1f}"
        else:
            x1 = out_ports[(src, edge)]
            x2 = in_ports[(dst, edge)]
            if b.y < a.y:  # dependency above: leave from the top, arrive at the bottom
                y1, y2 = a.y, b.y + NODE_H + 2
            else:
                y1, y2 = a.y + NODE_H, b.y - 2
            bend = max(24.0, abs(y1 - y2) / 2)
            sign = -1 if y2 < y1 else 1
            d = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + sign * bend:.1f} {x2:.1f},{y2 - sign * bend:.1f} {x2:.1f},{y2:.1f}"
        path = _el(group, "path", d=d, class_=css, marker_end=marker)
        path.set("data-from", src)
        path.set("data-to", dst)


def _nodes(
    root: ET.Element,
    bundle: Bundle,
    layout: Layout,
    links: Callable[[Component], str | None] | None,
    states: Mapping[str, str] | None,
    issues: Mapping[str, str] | None,
) -> None:
    group = _el(root, "g", class_="nodes")
    counts: dict[str, int] = {}
    for component in bundle.components:
        counts[component.name] = counts.get(component.name, 0) + 1
    for name, box in layout.nodes.items():
        component = bundle.get(name)
        state = None
        if states is not None and not box.missing:
            state = states.get(name, "unknown")
            state = state if state in STATE_COLOURS else "unknown"
        issue = (issues or {}).get(name)
        issue = issue if issue in ISSUE_COLOURS else None
        url = links(component) if (links and component is not None) else None
        _draw_node(group, box, component, state, issue, url, counts.get(name, 0))


def _draw_node(
    group: ET.Element,
    box: NodeBox,
    component: Component | None,
    state: str | None,
    issue: str | None,
    url: str | None,
    count: int,
) -> None:
    name = box.name
    role = component.role if component else "other"
    classes = ["node", f"role-{role}"]
    classes += [f"state-{state}"] if state else []
    classes += [f"issue-{issue}"] if issue else []
    classes += ["missing"] if box.missing else []
    attrs = {"id": node_id(name), "class_": " ".join(classes), "data_component": name}
    element = _el(group, "a", href=url, **attrs) if url else _el(group, "g", **attrs)
    _el(element, "title", _tooltip(name, component, state, issue, box.missing))
    _el(
        element,
        "rect",
        x=f"{box.x:.1f}",
        y=f"{box.y:.1f}",
        width=NODE_W,
        height=NODE_H,
        rx=6,
        fill=MISSING_FILL if box.missing else stack.ROLES[role].colour,
        stroke=STATE_COLOURS[state] if state else NEUTRAL_STROKE,
        class_="box",
    )
    if state:
        _el(element, "circle", cx=f"{box.right - 10:.1f}", cy=f"{box.y + 10:.1f}", r=4, fill=STATE_COLOURS[state])
    if issue:
        # A lint marker on the left edge: coloured bar plus "!" so it is not colour-only information.
        _el(element, "rect", x=f"{box.x:.1f}", y=f"{box.y:.1f}", width=5, height=NODE_H, fill=ISSUE_COLOURS[issue])
        _el(element, "text", "!", x=f"{box.right - 24:.1f}", y=f"{box.y + 17:.1f}", class_=f"lint lint-{issue}")
    limit = 23 - (2 if state else 0) - (2 if issue else 0)
    _el(element, "text", _truncate(name, limit), x=f"{box.x + 9:.1f}", y=f"{box.y + 17:.1f}", class_="name")
    meta = _meta(component, box.missing)
    _el(element, "text", meta, x=f"{box.x + 9:.1f}", y=f"{box.y + 33:.1f}", class_="meta")
    if count > 1:
        _el(element, "text", f"×{count}", x=f"{box.right - 26:.1f}", y=f"{box.y + 35:.1f}", class_="badge")


def _meta(component: Component | None, missing: bool) -> str:
    if missing or component is None:
        return "missing from bundle"
    parts = [component.role_label]
    if component.optional:
        parts.append("optional")
    if component.conditional:
        parts.append("conditional")
    return _truncate(" · ".join(parts), 30)


def _tooltip(name: str, component: Component | None, state: str | None, issue: str | None, missing: bool) -> str:
    if missing or component is None:
        return f"{name}: named in dependsOn but not in the bundle"
    lines = [f"{name} ({component.role_label})", component.description]
    if component.depends_on:
        lines.append("depends on: " + ", ".join(dict.fromkeys(component.depends_on)))
    if state:
        lines.append(f"state: {state}")
    if issue:
        lines.append(f"lint: {issue}")
    return "\n".join(lines)
