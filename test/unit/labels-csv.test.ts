import { describe, expect, it } from "vitest";
import { parseCsv } from "../../src/dataset/csv.js";
import { parseLabelsCsv } from "../../src/dataset/labelled-dir.js";
import { csvLine } from "../../src/store/sample-export.js";

describe("labelled frames' CSV", () => {
  it("reads quoted fields with commas, doubled quotes and line breaks, as the sample export writes them", () => {
    const values = ["7", "crack/7.jpg", "crack", 'Ann "A", shift 2\nline 3', "", "x"];
    const text = csvLine(["id", "file", "label", "labeled_by", "empty", "z"]) + csvLine(values) + "\r\n\r\n";
    expect(parseCsv(text)).toEqual([["id", "file", "label", "labeled_by", "empty", "z"], values]);
    expect(() => parseCsv('a,"b\n')).toThrow(/unterminated quoted field/);
  });

  it("takes file and label (and defect kind) from any column order; kind defaults to the label", () => {
    const rows = parseLabelsCsv(
      'id,file,label,labeled_by\n1,good/1.jpg,good,"Bo, B"\n2,crack/2.jpg,crack,Ann\n',
      "manifest.csv",
    );
    expect(rows).toEqual([
      { file: "good/1.jpg", label: "good", kind: "good" },
      { file: "crack/2.jpg", label: "crack", kind: "crack" },
    ]);
    expect(parseLabelsCsv("file,label,defect\na.jpg,defect,chip\n", "labels.csv")).toEqual([
      { file: "a.jpg", label: "defect", kind: "chip" },
    ]);
    // An export's manifest.csv: the labeler's defect kind, when named.
    expect(
      parseLabelsCsv("id,file,label,label_kind\n1,defect/1.jpg,defect,burn\n2,defect/2.jpg,defect,\n", "manifest.csv"),
    ).toEqual([
      { file: "defect/1.jpg", label: "defect", kind: "burn" },
      { file: "defect/2.jpg", label: "defect", kind: "defect" },
    ]);
    expect(() => parseLabelsCsv("name,class\n", "x.csv")).toThrow(/header must have "file" and "label" columns/);
    expect(() => parseLabelsCsv("file,label\na.jpg,\n", "x.csv")).toThrow(/row 2: missing file or label/);
  });
});
