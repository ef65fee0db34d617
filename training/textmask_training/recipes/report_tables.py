"""Turn ``textmask eval --json`` files into the Markdown tables of the model card.

Usage: python -m textmask_training.recipes.report_tables RESULTS_FOLDER

RESULTS_FOLDER contains val.json, val_referring.json, val_referring_bare.json, val_synonyms.json
and val_synonyms_bare.json, as written by ``textmask eval --json`` on the manifests that
``textmask_training.recipes.default_model`` builds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

COLUMNS = (
    ("mean_iou", "mean IoU"),
    ("cumulative_iou", "cumulative IoU"),
    ("precision_at_0.5", "P@0.5"),
    ("precision_at_0.7", "P@0.7"),
    ("precision_at_0.9", "P@0.9"),
    ("absent_accuracy", "absent rows answered empty"),
)


def cell(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary_table(results: dict[str, Any]) -> str:
    header = "| | rows | absent rows | " + " | ".join(title for _, title in COLUMNS) + " |"
    lines = [header, "|---" * (len(COLUMNS) + 3) + "|"]
    entries = [("model", results["overall"])]
    entries += [(f"baseline: {name}", values) for name, values in results["baselines"].items()]
    for name, values in entries:
        cells = " | ".join(cell(values[key]) for key, _ in COLUMNS)
        lines.append(f"| {name} | {values['rows']} | {values['absent_rows']} | {cells} |")
    return "\n".join(lines)


def per_text_table(results: dict[str, Any], minimum_rows: int = 5) -> str:
    header = "| text | rows | absent rows | mean IoU | absent rows answered empty |"
    lines = [header, "|---|---|---|---|---|"]
    items = sorted(results["per_text"].items(), key=lambda item: -item[1]["rows"])
    for text, values in items:
        if values["rows"] >= minimum_rows:
            lines.append(
                f"| {text} | {values['rows']} | {values['absent_rows']} | "
                f"{cell(values['mean_iou'])} | {cell(values['absent_accuracy'])} |"
            )
    return "\n".join(lines)


def paired_line(name: str, prompted: dict[str, Any], bare: dict[str, Any]) -> str:
    return (
        f"| {name} | {prompted['overall']['rows']} | {cell(prompted['overall']['mean_iou'])} | "
        f"{cell(bare['overall']['mean_iou'])} |"
    )


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    folder = Path(arguments[0])

    def load(name: str) -> dict[str, Any]:
        return json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))

    results = load("val")
    print("## Overall\n\n" + summary_table(results) + "\n")
    print("## Per text (5 rows or more)\n\n" + per_text_table(results) + "\n")
    print("## Referring phrases and synonyms\n")
    print(
        "| rows prompted with | rows | mean IoU with that prompt | mean IoU with the class name |"
    )
    print("|---|---|---|---|")
    print(paired_line("a referring phrase", load("val_referring"), load("val_referring_bare")))
    print(paired_line("a synonym", load("val_synonyms"), load("val_synonyms_bare")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
