"""Benchmark: convert N documents (copies of the KubeVirt samples) and compare with the bare YAML floor.

The floor is what any converter must pay at least: C-accelerated safe load plus safe dump of the same
documents. The converter run loads (safe, bounded), validates, converts and renders the JSON report.
Usage: python bench/convert.py [-n 10000] [--samples DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from migration.core import Limits, convert, load_documents, render_json  # noqa: E402

DEFAULT_SAMPLES = Path(__file__).resolve().parents[1] / ".." / "shared" / "samples" / "kubevirt"
BROKEN = {"kubevirt-userguide_persistent-state_vm-efi-persistent.yaml"}
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def build_input(samples: Path, documents: int) -> tuple[str, int]:
    """Concatenate sample files (valid ones) until at least ``documents`` YAML documents."""
    texts = []
    for path in sorted(samples.glob("*.yaml")):
        if path.name in BROKEN:
            continue
        text = path.read_text()
        count = sum(1 for doc in yaml.load_all(text, Loader=Loader) if doc is not None)
        texts.append((text, count))
    if not texts:
        raise SystemExit(f"no samples in {samples}")
    chunks, total, i = [], 0, 0
    while total < documents:
        text, count = texts[i % len(texts)]
        chunks.append(text if text.startswith("---") else "---\n" + text)
        total += count
        i += 1
    return "\n".join(chunks), total


def floor_run(text: str) -> float:
    start = time.perf_counter()
    docs = [d for d in yaml.load_all(text, Loader=Loader) if d is not None]
    yaml.dump_all(docs, Dumper=Dumper)
    return time.perf_counter() - start


def converter_run(text: str, limits: Limits) -> tuple[float, int]:
    start = time.perf_counter()
    result = convert(load_documents(text, limits), limits=limits)
    render_json(result, indent=None)
    return time.perf_counter() - start, len(result.plans)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--documents", type=int, default=10_000)
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs for each side")
    args = parser.parse_args(argv)
    text, documents = build_input(args.samples, args.documents)
    limits = Limits(max_bytes=max(len(text) * 2, Limits().max_bytes), max_documents=max(documents * 2, 50_000))
    floor = min(floor_run(text) for _ in range(args.repeat))
    runs = [converter_run(text, limits) for _ in range(args.repeat)]
    best = min(t for t, _ in runs)
    plans = runs[0][1]
    print(f"documents: {documents} ({len(text) / 1e6:.1f} MB), VM plans: {plans}")
    print(f"converter: {documents / best:,.0f} documents/s ({best:.3f} s)")
    print(f"yaml floor (CSafeLoader load + CSafeDumper dump): {documents / floor:,.0f} documents/s ({floor:.3f} s)")
    print(f"ratio converter/floor: {best / floor:.2f} (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
